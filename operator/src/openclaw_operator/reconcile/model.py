"""The data the pure decisions work on: what the providers showed us, the steps the actuator may take,
and the status changes a decision makes.

Observations are plain frozen dataclasses built by the provider adapters, so the planners never see an
SDK object and the tables in the tests can spell every situation out literally. A step is one variant of
the `Step` union per thing the actuator can do; it carries everything the provider call needs except the
user data, which only the actuator can render (it reads the gateway token Secret). A `StatusDelta` names
the status fields it changes: a misspelt field is a type error (mypy) and a ValidationError (runtime).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from openclaw_operator import api
from openclaw_operator.reconcile.rollout import DEFAULT_POLICY, NO_FLEET, Fleet, RolloutPolicy

if TYPE_CHECKING:
    from openclaw_operator.reconcile.golden import GoldenInputs


class ServerStatus(StrEnum):
    RUNNING = "running"
    INITIALIZING = "initializing"
    STARTING = "starting"
    STOPPING = "stopping"
    OFF = "off"
    DELETING = "deleting"
    MIGRATING = "migrating"
    REBUILDING = "rebuilding"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ServerObservation:
    id: int
    name: str
    status: ServerStatus
    server_type: str
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=True)
    ipv4: str | None = None
    ipv6: str | None = None  # the address the AAAA record points at, not the /64
    disk_gb: int | None = None
    architecture: str | None = None
    backups: bool = False
    delete_protected: bool = False
    rebuild_protected: bool = False
    location: str | None = None
    # Hetzner's traffic counters for the billing period, in bytes (status.usage; None until Hetzner has them).
    outgoing_traffic: int | None = None
    ingoing_traffic: int | None = None
    included_traffic: int | None = None


@dataclass(frozen=True)
class ServerTypeInfo:
    name: str
    disk_gb: int
    architecture: str
    storage_type: str = "local"
    # (location, EUR a month without VAT): Hetzner's price of a server of this type there (the pool's cost).
    monthly_net_eur: tuple[tuple[str, float], ...] = ()

    def monthly_price(self, location: str) -> float | None:
        return dict(self.monthly_net_eur).get(location)


UNKNOWN_TYPE = ServerTypeInfo(name="", disk_gb=0, architecture="")  # Hetzner has no type of that name


class ActionStatus(StrEnum):
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"


@dataclass(frozen=True)
class ActionObservation:
    id: int
    command: str
    status: ActionStatus
    error_message: str | None = None


class ImageStatus(StrEnum):
    CREATING = "creating"
    AVAILABLE = "available"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class SnapshotObservation:
    """One of our Hetzner snapshots (an image of type snapshot carrying our owner labels)."""

    id: int
    status: ImageStatus
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=True)
    size_gb: float | None = None  # image_size: known once available, what Hetzner bills
    disk_gb: float | None = None  # the disk a server made from it needs at least
    created: datetime | None = None
    server_id: int | None = None  # created_from: the server it is a copy of


@dataclass(frozen=True)
class RecordObservation:
    id: str
    zone_id: str
    name: str
    type: str
    content: str
    proxied: bool
    ttl: int
    comment: str | None = None


@dataclass(frozen=True)
class Zone:
    id: str
    name: str


@dataclass(frozen=True)
class FirewallRuleSpec:
    """One Hetzner Firewall rule as the API spells it (`port` None for ICMP; CIDRs as Hetzner stores them)."""

    direction: str
    protocol: str
    port: str | None = None
    source_ips: tuple[str, ...] = ()
    destination_ips: tuple[str, ...] = ()
    description: str | None = None

    @classmethod
    def from_api(cls, rule: dict[str, Any]) -> FirewallRuleSpec:
        """From a rule as the API (and bootstrap/firewall.py) writes it; absent lists and "" are empty."""
        port = rule.get("port")
        return cls(
            direction=str(rule["direction"]),
            protocol=str(rule["protocol"]),
            port=None if port is None else str(port),
            source_ips=tuple(rule.get("source_ips") or ()),
            destination_ips=tuple(rule.get("destination_ips") or ()),
            description=rule.get("description") or None,
        )


@dataclass(frozen=True)
class FirewallObservation:
    """The Hetzner Firewall named like the managed one (ours only if it carries our managed-by label)."""

    id: int
    name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=True)
    rules: tuple[FirewallRuleSpec, ...] = ()
    selectors: tuple[str, ...] = ()  # the label selectors it is applied to (servers applied by id aside)


@dataclass(frozen=True)
class BackupObject:
    """An object in the operator's backup bucket (the store's StoredBackup, as the planners see it)."""

    key: str
    size_bytes: int
    last_modified: datetime
    sha256: str | None = None  # known from a HEAD only (a listing carries no metadata)

    @property
    def backup_id(self) -> str:
        """`<prefix>instances/<ns>/<name>/<uid>/<id>.tar.gz` -> `<id>`."""
        return self.key.rsplit("/", 1)[-1].removesuffix(".tar.gz")

    @property
    def uid(self) -> str:
        parts = self.key.rsplit("/", 2)
        return parts[-2] if len(parts) == 3 else ""


@dataclass(frozen=True)
class AppObservation:
    healthy: bool
    message: str
    retry_in: float | None = None  # when the next check is due while unhealthy


@dataclass(frozen=True)
class PlanSettings:
    managed_zones: tuple[str, ...]
    default_openclaw_version: str
    min_openclaw_version: str
    app_ready_check: bool
    shutdown_timeout: float
    poll: float
    cluster: str | None = None  # CLAWHOST_CLUSTER_ID, a server label the orphan sweep relies on
    channel: bool = False  # the operator has a channel key: running servers follow the spec
    backup_store: bool = False  # the operator has a backup bucket (CLAWHOST_BACKUP_S3_*)
    rollout: RolloutPolicy = DEFAULT_POLICY  # CLAWHOST_UPDATE_* (reconcile/rollout.py)
    suspend_backup_timeout: float = 600.0  # CLAWHOST_FINAL_BACKUP_TIMEOUT_SECONDS: a Suspend backup's bound


@dataclass(frozen=True)
class Situation:
    """Everything one reconcile pass decides from."""

    instance: api.OpenClawInstance  # with the status the pass starts from
    server: ServerObservation | None
    action: ActionObservation | None
    desired_type: ServerTypeInfo | None
    zone: Zone | None
    records: tuple[RecordObservation, ...]
    app: AppObservation | None
    settings: PlanSettings
    now: datetime
    snapshots: tuple[SnapshotObservation, ...] = ()  # ours for this instance (hibernation)
    golden_images: tuple[SnapshotObservation, ...] = ()  # the project's golden snapshots (listed once)
    golden_inputs: GoldenInputs | None = None  # what a new server would install now; None: golden off
    pool_candidates: tuple[int, ...] = ()  # ready warm-pool servers it may claim (reconcile/pool.py)
    # The backups of spec.restoreFrom.instance in the bucket (any uid), listed only while a restore is
    # wanted; the one chosen carries its sha256 (HEAD). None: not listed.
    restore_source: tuple[BackupObject, ...] | None = None
    # The shard's version-update counts without this instance (reconcile/rollout.py), from status.
    fleet: Fleet = NO_FLEET


class StatusDelta(BaseModel):
    """Status fields a decision sets; the fields not given stay as they are (None clears a field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    observed_generation: int | None = None
    phase: api.Phase | None = None
    message: str | None = None
    conditions: tuple[api.Condition, ...] = ()
    server_id: int | None = None
    server_name: str | None = None
    server_type: str | None = None
    ipv4: str | None = None
    ipv6: str | None = None
    url: str | None = None
    dns_record_ids: api.DnsRecordIds | None = None
    action: api.ActionInProgress | None = None
    last_handled_reconcile_at: str | None = None
    last_handled_reboot_at: str | None = None
    last_handled_reinstall_at: str | None = None
    applied_config_hash: str | None = None
    openclaw_version: str | None = None
    channel_host_key: str | None = None
    last_handled_approve_devices_at: str | None = None
    shutdown_started_at: datetime | None = None
    refused_generation: int | None = None
    hibernation: api.Hibernation | None = None
    boot_image: api.BootImage | None = None
    billing: api.Billing | None = None
    usage: api.Usage | None = None
    project: str | None = None
    location: str | None = None
    shard: str | None = None
    backups: tuple[api.Backup, ...] = ()
    backup_in_progress: api.BackupInProgress | None = None
    suspend_backup_generation: int | None = None
    last_handled_backup_at: str | None = None
    restored_from: api.RestoredFrom | None = None
    version_update: api.VersionUpdate | None = None
    doctor: api.DoctorReport | None = None
    last_handled_doctor_at: str | None = None
    skills: tuple[api.SkillState, ...] | None = None

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}

    def __eq__(self, other: object) -> bool:
        # Two deltas are equal when they change the same fields to the same values: setting a field to
        # None (clearing it) is not the same as leaving it alone.
        return isinstance(other, StatusDelta) and self.changes() == other.changes()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.model_fields_set)))

    def then(self, later: StatusDelta) -> StatusDelta:
        """This delta followed by `later`: where both set a field, `later` wins."""
        return self.model_copy(update=later.changes())

    def applied_to(self, status: api.InstanceStatus) -> api.InstanceStatus:
        # Every field was validated when the delta was made, with the type InstanceStatus has for it
        # (tests/operator/unit/test_status_delta.py holds the two equal).
        return status.model_copy(update=self.changes())


NO_CHANGE = StatusDelta()

# Hetzner server actions the planners start (POST /servers/{id}/actions/{command}).
ServerCommand = Literal[
    "poweron",
    "shutdown",
    "poweroff",
    "reboot",
    "enable_backup",
    "disable_backup",
    "change_protection",
    "change_type",
]


@dataclass(frozen=True, kw_only=True)
class _StepBase:
    """One provider write. `reason` is the event reason; `message` is what a human reads."""

    reason: str
    message: str
    drift: bool = False  # repairs something changed behind our back (counted in metrics)
    on_success: StatusDelta = NO_CHANGE  # recorded only once the step succeeded


@dataclass(frozen=True, kw_only=True)
class CreateServer(_StepBase):
    name: str  # deterministic: a crash between create and status write is found again by name
    server_type: str
    image: str
    location: str
    labels: dict[str, str] = field(hash=False)
    # A hibernation snapshot's id: the server is made from it, with user-data that keeps its data.
    from_snapshot: int | None = None
    # A golden snapshot's id (reconcile/golden.py): the server is made from it, personalise stage only.
    golden_snapshot: int | None = None
    # Tried in order when Hetzner has no capacity for the type in `location` (locationPolicy).
    fallback_locations: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ClaimPoolServer(_StepBase):
    """Take a ready warm-pool server instead of creating one (reconcile/pool.py): rename it to `name` and
    replace its pool labels with `labels` (the instance's owner labels) in one Hetzner update. The first
    of `candidates` still unclaimed when the claim runs is taken; none left fails the pass, and the next
    plans a create."""

    candidates: tuple[int, ...]
    name: str
    labels: dict[str, str] = field(hash=False)
    inputs_hash: str  # a candidate whose labels no longer name these inputs is never taken


@dataclass(frozen=True, kw_only=True)
class RebuildServer(_StepBase):
    server_id: int
    image: str


@dataclass(frozen=True, kw_only=True)
class ServerAction(_StepBase):
    server_id: int
    command: ServerCommand
    payload: dict[str, Any] | None = field(default=None, hash=False)


@dataclass(frozen=True, kw_only=True)
class SetServerLabels(_StepBase):
    server_id: int
    labels: dict[str, str] = field(hash=False)


@dataclass(frozen=True, kw_only=True)
class DeleteServer(_StepBase):
    server_id: int


@dataclass(frozen=True, kw_only=True)
class CreateSnapshot(_StepBase):
    """POST /servers/{id}/actions/create_image type=snapshot, labelled so a crash finds it again."""

    server_id: int
    description: str
    labels: dict[str, str] = field(hash=False)


@dataclass(frozen=True, kw_only=True)
class DeleteSnapshot(_StepBase):
    snapshot_id: int


@dataclass(frozen=True, kw_only=True)
class SetSnapshotLabels(_StepBase):
    """Retain: the snapshot stays, without our ownership marks."""

    snapshot_id: int
    labels: dict[str, str] = field(hash=False)


@dataclass(frozen=True, kw_only=True)
class WriteRecord(_StepBase):
    """Create the record (no id yet) or overwrite the one with its id."""

    record: RecordObservation


@dataclass(frozen=True, kw_only=True)
class DeleteRecord(_StepBase):
    record: RecordObservation


@dataclass(frozen=True, kw_only=True)
class ApplyServerConfig(_StepBase):
    """Bring the running server to the spec through the channel (docs/channel.md): gateway token and env,
    OpenClaw config, Caddyfile, the administrator's SSH keys, and the OpenClaw version. The actuator
    reads the Secrets and renders the files; `desired_hash` is recorded once the server took them."""

    server_id: int
    address: str
    desired_hash: str
    openclaw_version: str


@dataclass(frozen=True, kw_only=True)
class ApproveDevices(_StepBase):
    """Approve the gateway's pending device pairing requests (the Control UI's first login)."""

    server_id: int
    address: str


@dataclass(frozen=True, kw_only=True)
class RunDoctor(_StepBase):
    """Run OpenClaw's read-only doctor on the server; its findings go to status.doctor."""

    server_id: int
    address: str


@dataclass(frozen=True, kw_only=True)
class CreateFirewall(_StepBase):
    """The managed firewall, created already applied to its label selector."""

    name: str
    labels: dict[str, str] = field(hash=False)
    rules: tuple[FirewallRuleSpec, ...]
    selector: str


@dataclass(frozen=True, kw_only=True)
class SetFirewallRules(_StepBase):
    """Replace every rule of the firewall (Hetzner's `set_rules` has no partial form)."""

    firewall_id: int
    rules: tuple[FirewallRuleSpec, ...]


@dataclass(frozen=True, kw_only=True)
class ApplyFirewallToSelector(_StepBase):
    firewall_id: int
    selector: str


@dataclass(frozen=True, kw_only=True)
class TakeBackup(_StepBase):
    """Have the server's agent run OpenClaw's backup and upload the archive to the bucket (a presigned
    PUT for the object of `backup_id`). The actuator records it in status.backups only once the store
    confirms the size and sha256 the agent reported."""

    server_id: int
    address: str
    backup_id: str
    kind: api.BackupKind


@dataclass(frozen=True, kw_only=True)
class RestoreBackup(_StepBase):
    """Have the server's agent download (presigned GET) and restore one archive, checked against sha256."""

    server_id: int
    address: str
    key: str
    sha256: str


@dataclass(frozen=True, kw_only=True)
class DeleteBackup(_StepBase):
    key: str


# The fleet's steps: planned once per listing (reconcile/firewall.py), never per instance.
FirewallStep = CreateFirewall | SetFirewallRules | ApplyFirewallToSelector

Step = (
    CreateServer
    | ClaimPoolServer
    | RebuildServer
    | ServerAction
    | SetServerLabels
    | DeleteServer
    | WriteRecord
    | DeleteRecord
    | CreateSnapshot
    | DeleteSnapshot
    | SetSnapshotLabels
    | ApplyServerConfig
    | ApproveDevices
    | RunDoctor
    | TakeBackup
    | RestoreBackup
    | DeleteBackup
    | FirewallStep
)


def change_protection(server_id: int, protect: bool, reason: str, message: str) -> ServerAction:
    """Delete and rebuild protection go on and off together."""
    payload = {"delete": protect, "rebuild": protect}
    return ServerAction(
        server_id=server_id, command="change_protection", payload=payload, reason=reason, message=message
    )


def step_name(step: Step) -> str:
    """What the step does, in one word (the drift metric's `step` label)."""
    match step:
        case ServerAction(command=command):
            return command
        case WriteRecord(record=record):
            return "update_record" if record.id else "create_record"
        case CreateServer(from_snapshot=None):
            return "create_server"
        case CreateServer():
            return "restore_server"
        case ClaimPoolServer():
            return "claim_pool_server"
        case RebuildServer():
            return "rebuild"
        case SetServerLabels():
            return "set_labels"
        case DeleteServer():
            return "delete_server"
        case DeleteRecord():
            return "delete_record"
        case CreateSnapshot():
            return "create_snapshot"
        case DeleteSnapshot():
            return "delete_snapshot"
        case SetSnapshotLabels():
            return "set_snapshot_labels"
        case ApplyServerConfig():
            return "apply_server_config"
        case ApproveDevices():
            return "approve_devices"
        case RunDoctor():
            return "doctor"
        case CreateFirewall():
            return "create_firewall"
        case SetFirewallRules():
            return "set_firewall_rules"
        case ApplyFirewallToSelector():
            return "apply_firewall"
        case TakeBackup():
            return "backup"
        case RestoreBackup():
            return "restore"
        case DeleteBackup():
            return "delete_backup"


@dataclass(frozen=True)
class Note:
    """A Kubernetes Event to post: `type` is Normal or Warning."""

    type: str
    reason: str
    message: str
