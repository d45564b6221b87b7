"""The OpenClawInstance API as pydantic models.

`crds/openclawinstances.yaml` is the source of truth; these models mirror it field for field (a test
compares them) so that handlers parse a resource body once, at the edge, into typed data.
Every name of the API that other code needs (group, annotations, labels) lives here too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "clawhost.dev"
VERSION = "v1alpha1"
PLURAL = "openclawinstances"
KIND = "OpenClawInstance"
API_VERSION = f"{GROUP}/{VERSION}"

FINALIZER = f"{GROUP}/finalizer"

# Day-2 requests, Flux `requestedAt` style: any new value asks for the action once; the value last
# acted on is recorded in status, so GitOps and WHMCS can both ask without racing each other.
REBOOT_REQUESTED_AT = f"{GROUP}/reboot-requested-at"
REINSTALL_REQUESTED_AT = f"{GROUP}/reinstall-requested-at"
RECONCILE_REQUESTED_AT = f"{GROUP}/reconcile-requested-at"
APPROVE_DEVICES_REQUESTED_AT = f"{GROUP}/approve-devices-requested-at"
BACKUP_REQUESTED_AT = f"{GROUP}/backup-requested-at"
DOCTOR_REQUESTED_AT = f"{GROUP}/doctor-requested-at"
# "true": deleting the instance takes no final backup (docs/backups.md).
SKIP_FINAL_BACKUP = f"{GROUP}/skip-final-backup"

# The operator shard that owns an instance (several operator Deployments on one cluster, reconcile/shards.py).
# Set at creation; an admission policy (charts/openclaw-operator/templates/shard-policy.yaml) refuses changes.
SHARD_LABEL = f"{GROUP}/shard"

# Labels the WHMCS module puts on the resources it writes.
WHMCS_SERVICE_LABEL = f"{GROUP}/whmcs-service-id"
WHMCS_CLIENT_LABEL = f"{GROUP}/whmcs-client-id"


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    def to_api(self) -> dict[str, Any]:
        """The JSON shape the Kubernetes API expects (camelCase, unset fields left out)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Location(StrEnum):
    FSN1 = "fsn1"
    NBG1 = "nbg1"
    HEL1 = "hel1"
    ASH = "ash"
    HIL = "hil"
    SIN = "sin"


class Image(StrEnum):
    UBUNTU_24_04 = "ubuntu-24.04"
    DEBIAN_12 = "debian-12"
    DEBIAN_13 = "debian-13"


class LocationPolicy(StrEnum):
    """When the location has no capacity for the type: stall (Strict) or try the same network zone."""

    STRICT = "Strict"
    PREFER_SAME_REGION = "PreferSameRegion"


class DeletionPolicy(StrEnum):
    DELETE = "Delete"
    RETAIN = "Retain"


class SuspendMode(StrEnum):
    """How a suspended instance is kept: a powered-off server, or a snapshot without a server."""

    POWER_OFF = "PowerOff"
    HIBERNATE = "Hibernate"


class BackupSchedule(StrEnum):
    """How often an instance is backed up to the operator's bucket (spec.backup.schedule)."""

    OFF = "Off"
    DAILY = "Daily"
    WEEKLY = "Weekly"


class BackupKind(StrEnum):
    """Why a backup was taken; only Scheduled and OnDemand backups count against spec.backup.retain."""

    SCHEDULED = "Scheduled"
    ON_DEMAND = "OnDemand"
    PRE_RESTORE = "PreRestore"
    FINAL = "Final"
    SUSPEND = "Suspend"  # taken before a suspension's shutdown (reconcile/backup.py)


LATEST_BACKUP = "latest"


class Phase(StrEnum):
    PENDING = "Pending"
    PROVISIONING = "Provisioning"
    RUNNING = "Running"
    SUSPENDED = "Suspended"
    UPDATING = "Updating"
    DELETING = "Deleting"
    FAILED = "Failed"


class ConditionType(StrEnum):
    READY = "Ready"
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    SERVER_READY = "ServerReady"
    DNS_READY = "DNSReady"
    APP_READY = "AppReady"
    CONFIG_APPLIED = "ConfigApplied"
    BACKED_UP = "BackedUp"
    DOCTOR_CLEAN = "DoctorClean"  # advisory: not part of Ready (docs/app-day2.md)


ConditionStatus = Literal["True", "False", "Unknown"]


class DnsSpec(_Model):
    zone: str | None = None
    proxied: bool = False
    ttl: int = 300


class SecretKeyRef(_Model):
    name: str
    key: str = "token"


class SecretKeySelector(_Model):
    name: str
    key: str


class EnvVar(_Model):
    name: str
    secret_key_ref: SecretKeySelector


class WhmcsRef(_Model):
    client_id: int | None = None
    service_id: int | None = None


class BackupSpec(_Model):
    """Off-server backups to the operator's S3 bucket (not Hetzner's server backups: spec.backups)."""

    schedule: BackupSchedule = BackupSchedule.OFF
    retain: int = 7


class RestoreFrom(_Model):
    instance: str  # an instance of this namespace, maybe deleted (its backups outlive it for a while)
    backup: str = LATEST_BACKUP  # a backup id (YYYYMMDDTHHMMSSZ) or "latest"


class InstanceSpec(_Model):
    server_type: str = "cx23"
    location: Location = Location.FSN1
    location_policy: LocationPolicy = LocationPolicy.STRICT
    image: Image = Image.UBUNTU_24_04
    hostname: str
    dns: DnsSpec = DnsSpec()
    ssh_keys: tuple[str, ...] = ()
    openclaw_version: str | None = None
    gateway_token_secret_ref: SecretKeyRef
    config: dict[str, Any] | None = None
    env: tuple[EnvVar, ...] = ()
    suspended: bool = False
    suspend_mode: SuspendMode = SuspendMode.POWER_OFF
    backups: bool = False
    deletion_policy: DeletionPolicy = DeletionPolicy.DELETE
    whmcs: WhmcsRef | None = None
    backup: BackupSpec = BackupSpec()
    restore_from: RestoreFrom | None = None
    # --- skills (docs/app-day2.md) ---
    # The bundled skills the gateway may use, each enabled; None leaves OpenClaw's own default set.
    skills: tuple[str, ...] | None = None


class Condition(_Model):
    type: str
    status: ConditionStatus
    reason: str
    message: str
    last_transition_time: datetime
    observed_generation: int | None = None


class DnsRecordIds(_Model):
    zone_id: str | None = None
    a: str | None = None
    aaaa: str | None = None


class ActionInProgress(_Model):
    id: int
    command: str
    started_at: datetime | None = None


class Hibernation(_Model):
    snapshot_id: int
    size_gb: float | None = Field(default=None, alias="sizeGB")
    taken_at: datetime | None = None
    server_name: str | None = None


class BootImageKind(StrEnum):
    GOLDEN = "Golden"  # a golden snapshot: the server ran the personalise stage only
    BASE = "Base"  # the distribution's image: the full install (docs/golden-images.md)
    POOL = "Pool"  # a warm-pool server made from a golden snapshot, claimed and personalised by the channel


class BootImage(_Model):
    """What the instance's current server was created from."""

    kind: BootImageKind
    id: str  # the golden snapshot's id (Golden, Pool), or the base image's name


class Billing(_Model):
    """What Hetzner bills for the instance now (WHMCS shows it)."""

    server_type: str | None = None
    server_backups: bool = False
    snapshot_size_gb: float = Field(default=0.0, alias="snapshotSizeGB")


class Backup(_Model):
    """One backup in the bucket, counted only once the store confirmed its size and sha256."""

    id: str  # YYYYMMDDTHHMMSSZ, chosen before the upload: a retry overwrites the same object
    taken_at: datetime
    size_bytes: int
    sha256: str
    kind: BackupKind
    key: str  # the object key in the operator's bucket
    openclaw_version: str | None = None


class BackupInProgress(_Model):
    """A backup decided on and not yet recorded: its id is fixed before the upload, so a pass that died
    after the upload uploads again to the same key instead of leaving a second object."""

    id: str
    kind: BackupKind
    started_at: datetime


class RestoredFrom(_Model):
    """The spec.restoreFrom last applied: a restore runs once per distinct value."""

    instance: str
    backup: str  # as spec.restoreFrom.backup spells it ("latest" stays "latest")
    id: str | None = None  # the backup it resolved to
    sha256: str | None = None
    at: datetime | None = None


# --- fleet rollout of OpenClaw versions (docs/channel.md, "Fleet rollout") ------------------------------
class UpdateState(StrEnum):
    UPDATING = "Updating"  # admitted: the agent is (or is about to be) asked for the new version
    UPDATED = "Updated"
    FAILED = "Failed"  # the agent rolled back (UpdateFailed): counts against the failure budget


class VersionUpdate(_Model):
    """The server's latest OpenClaw version change. Written before the agent is asked, so the updates in
    flight are counted from status after a restart, never from the operator's memory alone."""

    from_version: str
    to_version: str
    state: UpdateState
    started_at: datetime
    finished_at: datetime | None = None


class Usage(_Model):
    """What WHMCS bills from (reconcile/usage.py says when it is written)."""

    disk_used_bytes: int | None = None  # not known without asking the guest: left unset
    disk_limit_bytes: int | None = None
    outgoing_traffic_bytes: int | None = None
    ingoing_traffic_bytes: int | None = None
    included_traffic_bytes: int | None = None
    observed_at: datetime | None = None


# --- doctor and skills in status (docs/app-day2.md) ---
class DoctorFinding(_Model):
    """One finding of `openclaw doctor --lint`, in OpenClaw's words with every secret masked."""

    check_id: str | None = None
    severity: str | None = None
    message: str | None = None
    path: str | None = None


MAX_DOCTOR_FINDINGS = 20  # the agent's MAX_FINDINGS; the CRD's maxItems


class DoctorReport(_Model):
    ran_at: datetime
    clean: bool
    checks_run: int = 0
    findings: tuple[DoctorFinding, ...] = ()  # at most 20
    omitted: int = 0  # findings beyond the first 20


class SkillState(_Model):
    """A spec.skills entry as OpenClaw saw it at the last push: eligible means its requirements are met."""

    name: str
    eligible: bool
    source: str | None = None


class InstanceStatus(_Model):
    observed_generation: int | None = None
    phase: Phase | None = None
    message: str | None = None
    conditions: tuple[Condition, ...] = ()
    server_id: int | None = None
    server_name: str | None = None
    server_type: str | None = None
    ipv4: str | None = None
    ipv6: str | None = None
    url: str | None = None
    dns_record_ids: DnsRecordIds | None = None
    action: ActionInProgress | None = None
    last_handled_reconcile_at: str | None = None
    last_handled_reboot_at: str | None = None
    last_handled_reinstall_at: str | None = None
    applied_config_hash: str | None = None
    openclaw_version: str | None = None
    channel_host_key: str | None = None
    last_handled_approve_devices_at: str | None = None
    usage: Usage | None = None
    shutdown_started_at: datetime | None = None
    refused_generation: int | None = None
    hibernation: Hibernation | None = None
    boot_image: BootImage | None = None
    billing: Billing | None = None
    project: str | None = None
    location: str | None = None
    shard: str | None = None
    backups: tuple[Backup, ...] = ()  # newest first
    backup_in_progress: BackupInProgress | None = None
    suspend_backup_generation: int | None = None  # the suspension whose Suspend backup is done
    last_handled_backup_at: str | None = None
    restored_from: RestoredFrom | None = None
    version_update: VersionUpdate | None = None
    # --- doctor and skills (docs/app-day2.md) ---
    doctor: DoctorReport | None = None
    last_handled_doctor_at: str | None = None
    skills: tuple[SkillState, ...] | None = None

    def condition(self, type_: ConditionType) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)


class ObjectMeta(_Model):
    name: str
    namespace: str = "default"
    uid: str = ""
    generation: int = 0
    annotations: Annotated[dict[str, str], Field(default_factory=dict)]
    labels: Annotated[dict[str, str], Field(default_factory=dict)]
    deletion_timestamp: datetime | None = None


class OpenClawInstance(_Model):
    """A whole resource body; `InstanceStatus()` when the operator has not written status yet."""

    api_version: str = API_VERSION
    kind: str = KIND
    metadata: ObjectMeta
    spec: InstanceSpec
    status: InstanceStatus = InstanceStatus()

    @classmethod
    def from_body(cls, body: Any) -> OpenClawInstance:
        """Parse a Kopf body or plain dict (both are mappings)."""
        return cls.model_validate(
            {
                "metadata": dict(body.get("metadata", {})),
                "spec": dict(body.get("spec", {})),
                "status": dict(body.get("status") or {}),
            }
        )


def now() -> datetime:
    return datetime.now(UTC)
