"""One reconcile pass as a pure function: (spec, observations, settings, now) -> steps + the next status.

The server and DNS planners each decide their part; this module combines them into kstatus conditions,
a phase and a message, and refuses to act at all for an unsafe OpenClaw version or a stalled part.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openclaw_operator import api
from openclaw_operator.api import ConditionType, Phase
from openclaw_operator.bootstrap.versions import UnsafeVersionError, check_version
from openclaw_operator.reconcile import conditions as cond
from openclaw_operator.reconcile import hibernate, naming, usage
from openclaw_operator.reconcile.backup import BackupInputs, SuspendInputs, plan_backup, plan_suspend_backup
from openclaw_operator.reconcile.channel import ChannelInputs, doctor_verdict, plan_channel
from openclaw_operator.reconcile.conditions import Verdict
from openclaw_operator.reconcile.dns import DnsInputs, plan_dns
from openclaw_operator.reconcile.model import AppObservation, Note, Situation, StatusDelta, Step
from openclaw_operator.reconcile.server import ServerInputs, plan_server


@dataclass(frozen=True)
class Decision:
    status: api.InstanceStatus
    steps: tuple[Step, ...] = ()
    requeue: float | None = None
    notes: tuple[Note, ...] = field(default=())

    @property
    def stalled(self) -> bool:
        return cond.is_true(self.status, ConditionType.STALLED)


def decide(s: Situation) -> Decision:
    inst = s.instance
    spec, meta, before = inst.spec, inst.metadata, inst.status
    updates = StatusDelta(
        observed_generation=meta.generation,
        url=f"https://{spec.hostname}/",
        last_handled_reconcile_at=meta.annotations.get(
            api.RECONCILE_REQUESTED_AT, before.last_handled_reconcile_at
        ),
        refused_generation=None,  # this pass was let through: whatever was refused is being tried again
    )
    version = spec.openclaw_version or s.settings.default_openclaw_version
    try:
        check_version(version, s.settings.min_openclaw_version)
    except UnsafeVersionError as exc:
        return _finish(s, updates, {}, stall=cond.true("UnsafeVersion", str(exc)))

    at_suspend = plan_suspend_backup(
        SuspendInputs(
            instance=inst,
            server=s.server,
            channel=s.settings.channel,
            store=s.settings.backup_store,
            now=s.now,
            timeout=s.settings.suspend_backup_timeout,
        )
    )
    server_plan = plan_server(
        ServerInputs(
            uid=meta.uid,
            name=naming.server_name(meta.name, meta.uid),
            labels=naming.owner_labels(inst, s.settings.cluster),
            spec=spec,
            annotations=meta.annotations,
            status=before,
            server=s.server,
            action=s.action,
            desired_type=s.desired_type,
            now=s.now,
            shutdown_timeout=s.settings.shutdown_timeout,
            poll=s.settings.poll,
            snapshots=s.snapshots,
            golden_images=s.golden_images,
            golden_inputs=s.golden_inputs,
            pool_candidates=s.pool_candidates,
            hold_shutdown=at_suspend.hold if at_suspend is not None else None,
        )
    )
    kept_in = hibernate.hibernation_record(s.snapshots, naming.server_name(meta.name, meta.uid))
    updates = updates.then(StatusDelta(billing=hibernate.billing(s.server, s.snapshots), hibernation=kept_in))
    recorded = usage.to_record(before.usage, s.server, s.now)
    if recorded is not before.usage:  # a new reading: most passes leave usage (and the apiserver) alone
        updates = updates.then(StatusDelta(usage=recorded))
    updates = updates.then(server_plan.updates)
    server = s.server
    dns_plan = plan_dns(
        DnsInputs(
            uid=meta.uid,
            hostname=spec.hostname,
            proxied=spec.dns.proxied,
            ttl=spec.dns.ttl,
            zone_name=naming.zone_for(spec.hostname, spec.dns.zone, s.settings.managed_zones),
            zone=s.zone,
            records=s.records,
            ipv4=server.ipv4 if server is not None else None,
            ipv6=server.ipv6 if server is not None else None,
            spec_changed=before.observed_generation != meta.generation,
            # No server while hibernated (or being restored): the records stay as they are, ours, until
            # the new server's addresses are known.
            hold=server is None and (spec.suspended or bool(s.snapshots)),
        )
    )
    updates = updates.then(dns_plan.updates)
    verdicts = {ConditionType.SERVER_READY: server_plan.verdict, ConditionType.DNS_READY: dns_plan.verdict}
    stall = dns_plan.stall or server_plan.stall
    if stall is not None:
        return _finish(s, updates, verdicts, stall=stall, notes=server_plan.notes)

    verdicts[ConditionType.APP_READY] = _app_verdict(s, server_plan.verdict, dns_plan.verdict)
    channel_plan = plan_channel(
        ChannelInputs(
            spec=spec,
            annotations=meta.annotations,
            status=before,
            server=server,
            server_ready=server_plan.verdict.ok and not server_plan.steps and before.action is None,
            # Without the app check there is no sign of a finished bootstrap to wait for: push at once.
            app=s.app if s.settings.app_ready_check else AppObservation(True, "not checked"),
            default_openclaw_version=s.settings.default_openclaw_version,
            enabled=s.settings.channel,
            claimed_from_pool=_claimed_from_pool(before),
            now=s.now,
            policy=s.settings.rollout,
            fleet=s.fleet,
        )
    )
    verdicts[ConditionType.CONFIG_APPLIED] = channel_plan.verdict
    doctor = doctor_verdict(before)
    if doctor is not None:
        verdicts[ConditionType.DOCTOR_CLEAN] = doctor
    if channel_plan.stall is not None:
        return _finish(s, updates, verdicts, stall=channel_plan.stall, notes=server_plan.notes)
    backup_plan = (
        at_suspend.plan
        if at_suspend is not None
        else plan_backup(
            BackupInputs(
                instance=inst,
                server=server,
                server_ready=server_plan.verdict.ok and not server_plan.steps and before.action is None,
                app_healthy=not s.settings.app_ready_check or (s.app is not None and s.app.healthy),
                channel=s.settings.channel,
                store=s.settings.backup_store,
                now=s.now,
                restore_source=s.restore_source,
            )
        )
    )
    verdicts[ConditionType.BACKED_UP] = backup_plan.verdict
    if backup_plan.stall is not None:
        return _finish(s, updates, verdicts, stall=backup_plan.stall, notes=server_plan.notes)
    updates = updates.then(backup_plan.updates)
    # A restore (and its pre-restore backup) goes before the channel's push: the push lays the spec
    # over the restored files.
    steps = server_plan.steps + dns_plan.steps + backup_plan.steps + channel_plan.steps
    updates = updates.then(channel_plan.updates)
    requeue = _earliest(
        server_plan.requeue, s.settings.poll if steps else None, backup_plan.requeue, channel_plan.requeue
    )
    if s.app is not None and not s.app.healthy and _app_counts(s):
        requeue = _earliest(requeue, s.app.retry_in)
    if s.app is None and _app_counts(s) and server_plan.verdict.ok and dns_plan.verdict.ok:
        # The app is checked from the pass after the one that saw the server and DNS ready: come back
        # then, rather than an interval later.
        requeue = _earliest(requeue, s.settings.poll)
    return _finish(
        s,
        updates,
        verdicts,
        steps=steps,
        requeue=requeue,
        notes=server_plan.notes + backup_plan.notes + channel_plan.notes,
        provisioning=server_plan.provisioning,
        restoring=backup_plan.restoring,
    )


def _claimed_from_pool(status: api.InstanceStatus) -> bool:
    return status.boot_image is not None and status.boot_image.kind == api.BootImageKind.POOL


def _app_counts(s: Situation) -> bool:
    return s.settings.app_ready_check and not s.instance.spec.suspended


def _app_verdict(s: Situation, server: Verdict, dns: Verdict) -> Verdict:
    if s.instance.spec.suspended:
        return cond.false("Suspended", "the instance is suspended")
    if not s.settings.app_ready_check:
        return cond.unknown("CheckDisabled", "the application health check is disabled")
    if not (server.ok and dns.ok):
        return cond.false("WaitingForInfrastructure", "waiting for the server and DNS records")
    if s.app is None:
        return cond.unknown("Checking", "the application health check has not run yet")
    if s.app.healthy:
        return cond.true("Healthy", s.app.message)
    return cond.false("Unhealthy", s.app.message)


def _earliest(*delays: float | None) -> float | None:
    present = [delay for delay in delays if delay is not None]
    return min(present) if present else None


def _finish(
    s: Situation,
    updates: StatusDelta,
    verdicts: dict[ConditionType, Verdict],
    *,
    stall: Verdict | None = None,
    steps: tuple[Step, ...] = (),
    requeue: float | None = None,
    notes: tuple[Note, ...] = (),
    provisioning: bool = False,
    restoring: bool = False,
) -> Decision:
    verdicts = dict(verdicts)
    ready = _ready(s, verdicts, stall, restoring)
    verdicts[ConditionType.READY] = ready
    verdicts[ConditionType.STALLED] = stall or cond.false("NotStalled", "no permanent problem")
    verdicts[ConditionType.RECONCILING] = (
        cond.false("Idle", "nothing to do") if ready.ok or stall else cond.true(ready.reason, ready.message)
    )
    before = s.instance.status
    phase = phase_of(
        s.instance, ready, stall, provisioning or (before.server_id is None and s.server is None)
    )
    conditions = cond.merge(before.conditions, verdicts, s.instance.metadata.generation, s.now)
    status = updates.then(StatusDelta(conditions=conditions, phase=phase, message=ready.message)).applied_to(
        before
    )
    return Decision(status=status, steps=steps, requeue=None if stall else requeue, notes=notes)


def _ready(
    s: Situation, verdicts: dict[ConditionType, Verdict], stall: Verdict | None, restoring: bool = False
) -> Verdict:
    if stall is not None:
        return cond.false(stall.reason, stall.message)
    parts = [ConditionType.SERVER_READY, ConditionType.DNS_READY]
    if _app_counts(s):
        parts.append(ConditionType.APP_READY)
    if restoring:  # an instance made from a backup is ready once the backup is in it
        parts.append(ConditionType.BACKED_UP)
    if _claimed_from_pool(s.instance.status) and not s.instance.spec.suspended:
        # A pool server serves nobody until the channel has given it this instance's token and config.
        parts.append(ConditionType.CONFIG_APPLIED)
    for part in parts:
        verdict = verdicts[part]
        if not verdict.ok:
            return cond.false(verdict.reason, verdict.message)
    if s.instance.spec.suspended and s.server is None:
        return cond.true("Hibernated", "the instance is suspended: hibernated, without a server")
    if s.instance.spec.suspended:
        return cond.true("PoweredOff", "the instance is suspended: its server is powered off")
    return cond.true("Ready", f"OpenClaw is serving at https://{s.instance.spec.hostname}/")


def phase_of(
    instance: api.OpenClawInstance, ready: Verdict, stall: Verdict | None, provisioning: bool
) -> Phase:
    if instance.metadata.deletion_timestamp is not None:
        return Phase.DELETING
    if stall is not None:
        return Phase.FAILED
    if ready.ok:
        return Phase.SUSPENDED if instance.spec.suspended else Phase.RUNNING
    if provisioning or instance.status.phase in (None, Phase.PENDING, Phase.PROVISIONING):
        return Phase.PROVISIONING
    return Phase.UPDATING
