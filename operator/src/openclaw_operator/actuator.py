"""Carries out the steps the planners decide: one provider write per step, and what status learns from it.

Everything a write needs is in its step, except the user data of a create or rebuild: only here is the
gateway token Secret read and rendered, so no planner ever holds a token. A create whose deterministic
name is taken is our own server from before a crash (adopted) or someone else's (never touched: Stalled).

Each write goes to one Hetzner project: a create to the instance's status.project (placed beforehand, see
reconciler.py), a write on a server to the project whose listing holds that id (ids are unique across
projects). A create that Hetzner answers with "no capacity here" (resource_unavailable, placement_error)
tries the step's fallback locations in turn (locationPolicy PreferSameRegion) and otherwise stalls with
Hetzner's message; one answered with resource_limit_exceeded marks the project full and un-places the
instance, so the next pass places it in a project with room.

Each project's managed firewall is planned by managed_firewall.py (once per listing of that project, no
instance involved), and a server is created in a project only once its firewall is in place.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from openclaw_operator import api, metrics
from openclaw_operator.backups import CHECKSUM_SUFFIX, Bucket, observed, write_checksum
from openclaw_operator.bootstrap.app_files import server_files
from openclaw_operator.bootstrap.render import (
    BootstrapInputError,
    Stage,
    install_stage_hash,
    render_user_data,
)
from openclaw_operator.bootstrap.settings import BootstrapSettings
from openclaw_operator.bootstrap.versions import UnsafeVersionError
from openclaw_operator.config import Config
from openclaw_operator.kube import KubeClient, SecretUnavailable
from openclaw_operator.managed_firewall import ManagedFirewall
from openclaw_operator.observe import Observer
from openclaw_operator.projects import Project, ProjectPool, single_project
from openclaw_operator.providers.channel import ChannelAnswer, ChannelClient, channel_public_key
from openclaw_operator.providers.cloudflare import CloudflareProvider
from openclaw_operator.providers.errors import Failure, FailureKind
from openclaw_operator.providers.hetzner import HetznerProvider
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.backup import verification_problem
from openclaw_operator.reconcile.channel import doctor_report
from openclaw_operator.reconcile.firewall import desired_firewall
from openclaw_operator.reconcile.golden import GoldenInputs
from openclaw_operator.reconcile.model import (
    NO_CHANGE,
    ApplyFirewallToSelector,
    ApplyServerConfig,
    ApproveDevices,
    ClaimPoolServer,
    CreateFirewall,
    CreateServer,
    CreateSnapshot,
    DeleteBackup,
    DeleteRecord,
    DeleteServer,
    DeleteSnapshot,
    FirewallStep,
    Note,
    RebuildServer,
    RecordObservation,
    RestoreBackup,
    RunDoctor,
    ServerAction,
    SetFirewallRules,
    SetServerLabels,
    SetSnapshotLabels,
    StatusDelta,
    Step,
    TakeBackup,
    WriteRecord,
    step_name,
)
from openclaw_operator.reconcile.placement import LOCATION_UNAVAILABLE_CODES
from openclaw_operator.warm_pool import WarmPool

PostEvent = Callable[[api.OpenClawInstance, Note], None]
BACKED_UP = api.ConditionType.BACKED_UP.value
RESTORE_REFUSED = "RestoreFailed"  # the agent's reason for an archive it would not (or could not) restore

log = logging.getLogger(__name__)


class Actuator:
    def __init__(
        self,
        config: Config,
        observer: Observer,
        hetzner: HetznerProvider,
        cloudflare: CloudflareProvider,
        kube: Callable[[], KubeClient],
        post: PostEvent,
        projects: ProjectPool | None = None,
        bucket: Bucket | None = None,
    ) -> None:
        self.config = config
        self.bucket = bucket  # the backup store; None: no backups (the planners plan none)
        self.observer = observer  # the one that lists the Cloudflare zones
        self.hetzner = hetzner
        self.projects = projects or single_project(hetzner, observer)
        self.cloudflare = cloudflare
        self._kube = kube
        self._post = post
        self.channel: ChannelClient | None = None
        public_key = None
        if config.channel_ssh_key_file:
            public_key = channel_public_key(config.channel_ssh_key_file)
            self.channel = ChannelClient(
                config.channel_ssh_key_file,
                port=config.channel_port,
                timeout=config.channel_timeout_seconds,
                concurrency=config.channel_concurrency,
            )
        self.bootstrap = BootstrapSettings(
            default_openclaw_version=config.default_openclaw_version,
            min_openclaw_version=config.min_openclaw_version,
            channel_public_key=public_key,
            channel_source_ranges=config.channel_source_ranges or config.ssh_source_ranges,
        )
        # Per project its managed firewall, planned after each of its listings; creates wait for it.
        desired = desired_firewall(config.ssh_source_ranges)
        self.firewalls = {
            project.name: ManagedFirewall(
                project.observer, desired, functools.partial(self.apply_to_fleet, project=project)
            )
            for project in self.projects
        }
        self.firewall = self.firewalls[self.projects.first.name]  # the one project of most installs
        # The warm pool lives in the first project (docs/golden-images.md); None: no pool configured.
        self.warm_pool: WarmPool | None = None
        if config.warm_pool:
            self.warm_pool = WarmPool(
                self.projects.first,
                config.warm_pool,
                config.cluster_id,
                self.bootstrap,
                self.pool_inputs,
                api.Image.UBUNTU_24_04.value,
            )

    def golden_inputs(self, base_image: str, openclaw_version: str | None) -> GoldenInputs | None:
        """What the install stage would put on a new server now (None for a version the bootstrap
        refuses: the create stalls on that anyway)."""
        settings = self.bootstrap
        version = openclaw_version or settings.default_openclaw_version
        try:
            inputs_hash = install_stage_hash(base_image, version, settings)
        except UnsafeVersionError:
            return None
        return GoldenInputs(base_image, version, settings.node_major, inputs_hash)

    def pool_inputs(self) -> GoldenInputs | None:
        """The warm pool's: what a create with the default image and version would install now."""
        return self.golden_inputs(api.Image.UBUNTU_24_04.value, None)

    async def apply(
        self, instance: api.OpenClawInstance, status: api.InstanceStatus, step: Step
    ) -> api.InstanceStatus:
        """Carry out one step; the status with what the step recorded and what the provider answered."""
        learned = await self._carry_out(instance, status, step)
        self._post(instance, Note("Normal", step.reason, step.message))
        _count_repair(step)
        return step.on_success.then(learned).applied_to(status)

    async def apply_to_fleet(self, step: FirewallStep, project: Project | None = None) -> None:
        """Carry out a step of the fleet's own: no instance to post an Event about, so a log line."""
        project = project or self.projects.first
        await self._write_firewall(project, step)
        # A repair is worth a warning: someone changed the firewall behind the operator's back.
        level = logging.WARNING if step.drift else logging.INFO
        log.log(level, "managed firewall of project %s: %s (%s)", project.name, step.message, step.reason)
        _count_repair(step)

    async def _carry_out(
        self, instance: api.OpenClawInstance, status: api.InstanceStatus, step: Step
    ) -> StatusDelta:
        match step:
            case CreateServer():
                return await self._create_server(instance, self.projects.get(status.project), step)
            case ClaimPoolServer():
                return await self._claim_pool_server(instance, status, step)
            case RebuildServer(server_id=server_id, image=image):
                payload = {"image": image, "user_data": await self._user_data(instance)}
                return await self._server_action(
                    self._holding(server_id, status), server_id, "rebuild", payload
                )
            case ServerAction(server_id=server_id, command=command, payload=payload):
                return await self._server_action(
                    self._holding(server_id, status), server_id, command, payload
                )
            case DeleteServer(server_id=server_id):
                project = self._holding(server_id, status)
                action_id = await project.provider.delete_server(server_id)
                if action_id is None:
                    return NO_CHANGE
                return self._action_started(project, action_id, "delete_server")
            case SetServerLabels(server_id=server_id, labels=labels):
                project = self._holding(server_id, status)
                project.observer.server_seen(await project.provider.set_labels(server_id, labels))
                return NO_CHANGE
            case WriteRecord(record=record):
                await self._write_record(record)
                return NO_CHANGE
            case DeleteRecord(record=record):
                await self.cloudflare.delete_record(record)
                self.observer.record_gone(record)
                return NO_CHANGE
            # A snapshot lives in the project of the server it was taken of (the instance's project).
            case CreateSnapshot(server_id=server_id, description=description, labels=labels):
                project = self._holding(server_id, status)
                snapshot, action_id = await project.provider.create_snapshot(server_id, description, labels)
                project.observer.snapshot_seen(snapshot)
                return self._action_started(project, action_id, "create_image")
            case DeleteSnapshot(snapshot_id=snapshot_id):
                project = self.projects.holding_snapshot(snapshot_id, status.project)
                await project.provider.delete_snapshot(snapshot_id)
                project.observer.snapshot_gone(snapshot_id)
                return NO_CHANGE
            case SetSnapshotLabels(snapshot_id=snapshot_id, labels=labels):
                project = self.projects.holding_snapshot(snapshot_id, status.project)
                project.observer.snapshot_seen(
                    await project.provider.set_snapshot_labels(snapshot_id, labels)
                )
                return NO_CHANGE
            case CreateFirewall() | SetFirewallRules() | ApplyFirewallToSelector():
                await self._write_firewall(self.projects.get(status.project), step)
                return NO_CHANGE
            case ApplyServerConfig():
                return await self._apply_server_config(instance, step)
            case RunDoctor(address=address):
                answered = await self._channel().call(
                    address, instance.status.channel_host_key, {"op": "doctor"}
                )
                report = doctor_report(answered.answer, api.now())
                found = len(report.findings) + report.omitted
                message = f"OpenClaw's doctor ran {report.checks_run} checks: {found} finding(s)"
                self._post(instance, Note("Normal", "DoctorRan", message))
                return StatusDelta(channel_host_key=answered.host_key, doctor=report)
            case ApproveDevices(address=address):
                request = {"op": "approve-devices"}
                answered = await self._channel().call(address, instance.status.channel_host_key, request)
                approved = answered.answer.get("approved", [])
                message = f"approved {len(approved)} pending device pairing request(s)"
                self._post(instance, Note("Normal", "DevicesApproved", message))
                return StatusDelta(channel_host_key=answered.host_key)
            case TakeBackup():
                return await self._take_backup(instance, status, step)
            case RestoreBackup():
                return await self._restore_backup(status, step)
            case DeleteBackup(key=key):
                await self._bucket().delete(key + CHECKSUM_SUFFIX)
                await self._bucket().delete(key)  # last: the entry goes once the archive is gone
                return NO_CHANGE

    def _bucket(self) -> Bucket:
        if self.bucket is None:  # the planner plans no backup step without a store
            raise Failure(FailureKind.STALLED, "NoBackupStore", "the operator has no backup store")
        return self.bucket

    async def _take_backup(
        self, instance: api.OpenClawInstance, status: api.InstanceStatus, step: TakeBackup
    ) -> StatusDelta:
        """The agent makes and uploads the archive; it counts once the store shows what the agent said."""
        bucket, meta = self._bucket(), instance.metadata
        key = bucket.key_for(meta.namespace, meta.name, meta.uid, step.backup_id)
        put_url = bucket.presign_put(key, expires_seconds=self._url_lifetime())
        request = {"op": "backup", "id": step.backup_id, "putUrl": put_url}
        answered = await self._backup_call(step.address, status, request, put_url)
        answer = answered.answer
        stored = await bucket.head(key)
        problem = verification_problem(answer, observed(stored) if stored is not None else None)
        if problem is not None:
            message = f"backup {step.backup_id} is not counted: {problem}"
            raise Failure(FailureKind.RETRYING, "BackupUnverified", message, slow=True, about=BACKED_UP)
        version = answer.get("openclawVersion")
        entry = api.Backup(
            id=step.backup_id,
            taken_at=_timestamp(answer.get("createdAt")) or api.now(),
            size_bytes=int(answer["sizeBytes"]),
            sha256=str(answer["sha256"]),
            kind=step.kind,
            key=key,
            openclaw_version=str(version) if version else None,
        )
        if stored is not None and stored.sha256 is None:  # see backups.py: the checksum beside it
            await write_checksum(bucket, key, entry.sha256)
        others = tuple(b for b in status.backups if b.id != entry.id)
        return StatusDelta(backups=(entry, *others), channel_host_key=answered.host_key)

    async def _restore_backup(self, status: api.InstanceStatus, step: RestoreBackup) -> StatusDelta:
        get_url = self._bucket().presign_get(step.key, expires_seconds=self._url_lifetime())
        request = {"op": "restore", "getUrl": get_url, "sha256": step.sha256}
        try:
            answered = await self._backup_call(step.address, status, request, get_url)
        except Failure as exc:
            if exc.reason != RESTORE_REFUSED:
                raise  # the channel or the store (RestoreDownloadFailed): tried again after the slow backoff
            raise _restore_refused(exc.message) from None
        return StatusDelta(channel_host_key=answered.host_key)

    async def _backup_call(
        self, address: str, status: api.InstanceStatus, request: dict[str, Any], url: str
    ) -> ChannelAnswer:
        """A presigned URL is a bearer credential: masked by the channel in anything it reports."""
        try:
            return await self._channel().call(address, status.channel_host_key, request, secrets=[url])
        except Failure as exc:
            if exc.kind != FailureKind.RETRYING or exc.about is not None:
                raise
            # The agent refused (BackupFailed, BackupUploadFailed, RestoreFailed) or is unreachable:
            # BackedUp says so, and the next try waits, since a backup is no quick request.
            raise Failure(exc.kind, exc.reason, exc.message, slow=True, about=BACKED_UP) from None

    def _url_lifetime(self) -> int:
        # Long enough for the slowest request the channel waits for, so a URL never expires mid-upload.
        return max(int(self.config.channel_timeout_seconds) + 60, 900)

    def _channel(self) -> ChannelClient:
        if self.channel is None:  # the planner plans no channel step without a key
            raise Failure(FailureKind.STALLED, "NoChannel", "the operator has no channel key")
        return self.channel

    async def _secret(self, namespace: str, name: str, key: str, what: str) -> str:
        try:
            value = await self._kube().secret_value(namespace, name, key)
        except SecretUnavailable as exc:
            raise Failure(FailureKind.WAITING, "SecretUnavailable", f"{what}: {exc}") from None
        return value.get_secret_value()

    async def _apply_server_config(
        self, instance: api.OpenClawInstance, step: ApplyServerConfig
    ) -> StatusDelta:
        """Read the Secrets, render the server's files as the bootstrap does and hand them to the agent."""
        spec, namespace = instance.spec, instance.metadata.namespace
        ref = spec.gateway_token_secret_ref
        token = await self._secret(namespace, ref.name, ref.key, "the gateway token")
        env = {
            variable.name: await self._secret(
                namespace, variable.secret_key_ref.name, variable.secret_key_ref.key, f"env {variable.name}"
            )
            for variable in spec.env
        }
        files = server_files(spec.hostname, spec.ssh_keys, spec.config, token, env, spec.skills)
        request = {
            "op": "apply",
            "hash": step.desired_hash,
            "files": files,
            "openclawVersion": step.openclaw_version,
            **({"skills": list(spec.skills)} if spec.skills is not None else {}),
        }
        answered = await self._channel().call(
            step.address, instance.status.channel_host_key, request, secrets=[token, *env.values()]
        )
        version = answered.answer.get("openclawVersion")
        delta = StatusDelta(
            channel_host_key=answered.host_key,
            openclaw_version=str(version) if version else step.openclaw_version,
        )
        # The agent reports skills when it checked them (the config changed); otherwise status keeps its.
        if spec.skills is None:
            return delta.then(StatusDelta(skills=None))
        if isinstance(answered.answer.get("skills"), list):
            states = tuple(api.SkillState.model_validate(entry) for entry in answered.answer["skills"])
            return delta.then(StatusDelta(skills=states))
        return delta

    async def _write_firewall(self, project: Project, step: FirewallStep) -> None:
        match step:
            case CreateFirewall(name=name, labels=labels, rules=rules, selector=selector):
                created = await project.provider.create_firewall(
                    name=name, labels=labels, rules=rules, selector=selector
                )
                project.observer.firewall_seen(created)
            case SetFirewallRules(firewall_id=firewall_id, rules=rules):
                await project.provider.set_firewall_rules(firewall_id, rules)
                project.observer.firewall_changed(firewall_id, rules=rules)
            case ApplyFirewallToSelector(firewall_id=firewall_id, selector=selector):
                await project.provider.apply_firewall_to_selector(firewall_id, selector)
                project.observer.firewall_changed(firewall_id, selector=selector)

    async def _write_record(self, record: RecordObservation) -> None:
        try:
            if record.id:
                written = await self.cloudflare.update_record(record)
            else:
                written = await self.cloudflare.create_record(record)
        except Failure as exc:
            if exc.kind not in (FailureKind.ALREADY_EXISTS, FailureKind.NOT_FOUND):
                raise
            await self.observer.refresh()  # someone else's write raced ours: look again, decide again
            return
        self.observer.record_written(written)

    def _holding(self, server_id: int, status: api.InstanceStatus) -> Project:
        return self.projects.holding(server_id, status.project)

    def _action_started(self, project: Project, action_id: int, command: str) -> StatusDelta:
        project.observer.action_started(action_id, command)
        return StatusDelta(action=api.ActionInProgress(id=action_id, command=command, started_at=api.now()))

    async def _server_action(
        self, project: Project, server_id: int, command: str, payload: dict[str, Any] | None
    ) -> StatusDelta:
        action_id = await project.provider.server_action(command, server_id, payload)
        return self._action_started(project, action_id, command)

    async def _user_data(
        self, instance: api.OpenClawInstance, restoring: bool = False, stage: Stage = Stage.COLD
    ) -> str:
        ref = instance.spec.gateway_token_secret_ref
        try:
            token = await self._kube().secret_value(instance.metadata.namespace, ref.name, ref.key)
        except SecretUnavailable as exc:
            raise Failure(FailureKind.WAITING, "GatewayTokenUnavailable", str(exc)) from None
        try:
            return render_user_data(
                instance, self.bootstrap, token.get_secret_value(), restoring=restoring, stage=stage
            )
        except (BootstrapInputError, UnsafeVersionError) as exc:
            message = str(exc).replace(token.get_secret_value(), "***")
            raise Failure(FailureKind.STALLED, "InvalidBootstrapInput", message, frozen=True) from None

    async def _create_server(
        self, instance: api.OpenClawInstance, project: Project, step: CreateServer
    ) -> StatusDelta:
        stage = Stage.PERSONALISE if step.golden_snapshot is not None else Stage.COLD
        user_data = await self._user_data(instance, restoring=step.from_snapshot is not None, stage=stage)
        await self.firewalls[project.name].ensure_in_place()
        locations = [loc for loc in (step.location, *step.fallback_locations) if project.offers(loc)]
        refusals: list[str] = []
        for location in locations:
            try:
                server, action_id = await project.provider.create_server(
                    name=step.name,
                    server_type=step.server_type,
                    image=step.image,
                    location=location,
                    labels=step.labels,
                    user_data=user_data,
                    from_snapshot=step.from_snapshot or step.golden_snapshot,
                )
            except Failure as exc:
                if exc.kind == FailureKind.ALREADY_EXISTS:
                    return await self._adopt(instance, project, step.name)
                if exc.code == "resource_limit_exceeded":
                    return self._project_full(instance, project, step, exc)
                if exc.code not in LOCATION_UNAVAILABLE_CODES:
                    raise
                refusals.append(f"{location}: {exc.message}")
                continue
            self.projects.created(instance.metadata.uid)
            project.observer.server_seen(server)
            if location != step.location:
                message = (
                    f"created in {location} instead of {step.location} (locationPolicy PreferSameRegion)"
                )
                self._post(instance, Note("Normal", "LocationFallback", message))
            created = StatusDelta(server_id=server.id, server_name=server.name, location=location)
            return created.then(self._action_started(project, action_id, "create_server"))
        raise self._no_location(instance, step, refusals)

    async def _claim_pool_server(
        self, instance: api.OpenClawInstance, status: api.InstanceStatus, step: ClaimPoolServer
    ) -> StatusDelta:
        warm = self.warm_pool
        claimed = None
        if warm is not None and warm.project is self.projects.get(status.project):
            claimed = await warm.claim(instance, step)
        if claimed is None:
            message = "every warm-pool server it could claim was taken meanwhile; creating a server instead"
            self._post(instance, Note("Normal", "PoolServerTaken", message))
            return NO_CHANGE
        server, snapshot = claimed
        self.projects.created(instance.metadata.uid)
        return StatusDelta(
            server_id=server.id,
            server_name=server.name,
            location=server.location,
            boot_image=api.BootImage(kind=api.BootImageKind.POOL, id=snapshot),
        )

    def _no_location(
        self, instance: api.OpenClawInstance, step: CreateServer, refusals: list[str]
    ) -> Failure:
        """Hetzner cannot place the type in any location the policy allows: Stalled, with its answers."""
        policy = instance.spec.location_policy
        hint = (
            "locationPolicy Strict allows no other location; set PreferSameRegion to allow the rest of "
            "its network zone, or request a reconcile once Hetzner has capacity again"
            if policy == api.LocationPolicy.STRICT
            else "no location of its network zone can take it; request a reconcile later"
        )
        answers = "; ".join(refusals) or "the project offers none of the allowed locations"
        message = f"Hetzner cannot place server type {step.server_type} ({answers}); {hint}"
        return Failure(FailureKind.STALLED, "LocationUnavailable", message, frozen=True)

    def _project_full(
        self, instance: api.OpenClawInstance, project: Project, step: CreateServer, exc: Failure
    ) -> StatusDelta:
        """No server was made: the instance is placed again (elsewhere) by the next pass. A restore is
        not: its snapshot exists in this project only, so it waits here for room."""
        self.projects.full(project)
        if step.from_snapshot is not None:
            message = (
                f"Hetzner project {project.name} is full ({exc.message}); the hibernation snapshot is "
                "there, so the restore waits for room in it"
            )
            raise Failure(FailureKind.RETRYING, "ProjectFull", message)
        message = f"Hetzner project {project.name} is full ({exc.message}); placing the instance elsewhere"
        self._post(instance, Note("Warning", "ProjectFull", message))
        return StatusDelta(project=None)

    async def _adopt(self, instance: api.OpenClawInstance, project: Project, name: str) -> StatusDelta:
        """The name is taken: ours from before a crash (adopt it), or someone else's (never touch it)."""
        existing = await project.provider.server_by_name(name)
        if existing is None:
            raise Failure(FailureKind.RETRYING, "ServerNameTaken", f"server name {name} is taken")
        if not naming.owned_by(existing.labels, instance.metadata.uid):
            owner = existing.labels.get(naming.INSTANCE_UID_LABEL, "nobody we know")
            message = (
                f"a Hetzner server named {name} (id {existing.id}) already exists and is not owned by this "
                f"instance (owner: {owner}); it is left untouched: delete or rename it, then request "
                "a reconcile"
            )
            raise Failure(FailureKind.STALLED, "ServerNameConflict", message, frozen=True)
        project.observer.server_seen(existing)
        self.projects.created(instance.metadata.uid)
        self._post(
            instance, Note("Normal", "AdoptedServer", f"adopted existing server {name} ({existing.id})")
        )
        adopted = StatusDelta(server_id=existing.id, server_name=existing.name)
        return adopted if existing.location is None else adopted.then(StatusDelta(location=existing.location))


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _count_repair(step: Step) -> None:
    if step.drift:
        metrics.DRIFT_REPAIRS.labels(step_name(step)).inc()


def _restore_refused(message: str) -> Failure:
    """The agent refused the archive (checksum, OpenClaw's verification, a newer release) or the gateway
    did not come back on it and got its old state back. The same archive would be refused again, and
    some refusals stop and start the customer's gateway each time: Stalled until spec.restoreFrom (or
    anything else in the spec) changes, or a reconcile is requested."""
    return Failure(
        FailureKind.STALLED,
        RESTORE_REFUSED,
        f"spec.restoreFrom: {message}; the gateway runs on the state it had. Name another backup, or "
        "request a reconcile to try this one again",
        frozen=True,
    )
