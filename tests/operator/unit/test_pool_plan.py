"""reconcile/pool.py, table-driven: what the warm pool creates and deletes after a listing, which pool
servers a new instance may claim (never one of other golden inputs, location or type, nor anyone else's),
that a create with candidates claims instead, and that a claimed server is personalised by the channel
before it counts as Ready. Also the settings' parser and the pool user-data (no customer data)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pytest
import yaml

from openclaw_operator import api
from openclaw_operator.bootstrap.render import (
    BOOTSTRAP_SCRIPT,
    GATEWAY_CONFIG_FILE,
    TOKEN_FILE,
    BootstrapInputError,
    BootstrapSettings,
    Stage,
    render_pool_user_data,
    render_user_data,
)
from openclaw_operator.reconcile import golden, naming, pool
from openclaw_operator.reconcile.channel import ChannelInputs, plan_channel
from openclaw_operator.reconcile.model import (
    AppObservation,
    ClaimPoolServer,
    CreateServer,
    ImageStatus,
    ServerObservation,
    ServerTypeInfo,
    SnapshotObservation,
)
from openclaw_operator.reconcile.orphans import SweepInputs, plan_sweep
from openclaw_operator.reconcile.server import plan_server
from tests.golden.test_golden_selection import WANTED, create_inputs

NOW = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)
CLUSTER = "c1"
STALE = replace(WANTED, openclaw_version="2026.9.5", inputs_hash="b" * 32)
GOLDEN = SnapshotObservation(
    id=40, status=ImageStatus.AVAILABLE, labels=WANTED.labels("x86", CLUSTER), disk_gb=40, created=NOW
)
STALE_GOLDEN = replace(GOLDEN, id=39, labels=STALE.labels("x86", CLUSTER))
FSN1_CX23 = pool.PoolSlot("fsn1", "cx23", 2)


def pooled(
    server_id: int,
    location: str = "fsn1",
    server_type: str = "cx23",
    status: str = "running",
    inputs: golden.GoldenInputs = WANTED,
    cluster: str = CLUSTER,
    **labels: str,
) -> ServerObservation:
    return ServerObservation(
        id=server_id,
        name=f"clawhost-pool-{location}-{server_type}-{server_id}",
        status=status,  # type: ignore[arg-type]
        server_type=server_type,
        labels={**pool.pool_labels(inputs.inputs_hash, GOLDEN.id, cluster), **labels},
        location=location,
    )


def instance_server(server_id: int) -> ServerObservation:
    labels = {
        naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE,
        naming.CLUSTER_LABEL: CLUSTER,
        naming.INSTANCE_UID_LABEL: "u-9",
    }
    return ServerObservation(
        id=server_id, name="bob-u9", status="running", server_type="cx23", labels=labels, location="fsn1"
    )


@dataclass(frozen=True)
class Row:
    name: str
    servers: tuple[ServerObservation, ...]
    creates: int = 0
    deletes: tuple[int, ...] = ()
    slots: tuple[pool.PoolSlot, ...] = (FSN1_CX23,)
    golden_images: tuple[SnapshotObservation, ...] = (GOLDEN,)
    waiting: tuple[str, ...] = ()
    cluster: str | None = CLUSTER
    wanted: golden.GoldenInputs | None = field(default=WANTED)


ROWS = [
    Row("empty pool: fill it", (), creates=2),
    Row("full: nothing", (pooled(1), pooled(2))),
    Row("one starting counts: one more", (pooled(1, status="initializing"),), creates=1),
    Row("a deleting one does not count", (pooled(1), pooled(2, status="deleting")), creates=1),
    Row("surplus: the newest goes", (pooled(1), pooled(2), pooled(3)), deletes=(3,)),
    Row("stale (another OpenClaw version): drained and replaced", (pooled(1), pooled(2, inputs=STALE)),
        creates=1, deletes=(2,)),
    Row("no slot for its location and type: deleted", (pooled(1), pooled(2), pooled(3, location="nbg1")),
        deletes=(3,)),
    Row("size 0 drains the slot", (pooled(1), pooled(2)), slots=(replace(FSN1_CX23, size=0),),
        deletes=(2, 1)),
    Row("another cluster's pool server: never touched", (pooled(1), pooled(2), pooled(3, cluster="c2"))),
    Row("a claimed server (instance uid) is not the pool's", (instance_server(5),), creates=2),
    Row("no golden snapshot of the current inputs: waits, still drains stale ones",
        (pooled(1, inputs=STALE),), deletes=(1,), golden_images=(STALE_GOLDEN,), waiting=("fsn1/cx23",)),
    Row("golden images off: waits", (), wanted=None, waiting=("fsn1/cx23",)),
    Row("no cluster id: no pool at all", (pooled(1, cluster=CLUSTER),), cluster=None),
]  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_plan_pool(row: Row) -> None:
    plan = pool.plan_pool(pool.PoolInputs(row.slots, row.servers, row.golden_images, row.wanted, row.cluster))
    assert len(plan.creates) == row.creates
    assert tuple(d.server.id for d in plan.deletes) == row.deletes
    assert plan.waiting == row.waiting
    for create in plan.creates:
        assert (create.location, create.server_type, create.snapshot_id) == ("fsn1", "cx23", GOLDEN.id)
        assert pool.is_pool_server(create.labels, CLUSTER)
        assert create.labels[golden.INPUTS_LABEL] == WANTED.inputs_hash


CLAIM_ROWS = [
    ("ready ones, oldest first", (pooled(9), pooled(3)), "fsn1", "cx23", WANTED, (3, 9)),
    ("still starting: not yet", (pooled(1, status="initializing"),), "fsn1", "cx23", WANTED, ()),
    ("another location", (pooled(1, location="nbg1"),), "fsn1", "cx23", WANTED, ()),
    ("another type", (pooled(1, server_type="cx33"),), "fsn1", "cx23", WANTED, ()),
    ("stale inputs: never claimed", (pooled(1, inputs=STALE),), "fsn1", "cx23", WANTED, ()),
    ("an instance wanting the older version never gets a current one", (pooled(1),), "fsn1", "cx23",
     STALE, ()),
    ("another cluster's", (pooled(1, cluster="c2"),), "fsn1", "cx23", WANTED, ()),
    ("claimed already (has an instance uid)", (instance_server(1),), "fsn1", "cx23", WANTED, ()),
    ("hand-labelled with an instance uid besides the pool label",
     (pooled(1, **{naming.INSTANCE_UID_LABEL: "u-7"}),), "fsn1", "cx23", WANTED, ()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "servers", "location", "server_type", "wanted", "ids"),
    CLAIM_ROWS,
    ids=[r[0] for r in CLAIM_ROWS],
)
def test_claimable(
    name: str,
    servers: tuple[ServerObservation, ...],
    location: str,
    server_type: str,
    wanted: golden.GoldenInputs,
    ids: tuple[int, ...],
) -> None:
    assert pool.claimable(servers, location, server_type, wanted.inputs_hash, CLUSTER) == ids


def test_the_claims_re_read_refuses_what_changed_meanwhile() -> None:
    assert pool.still_claimable(pooled(1), WANTED.inputs_hash, CLUSTER)
    assert not pool.still_claimable(None, WANTED.inputs_hash, CLUSTER)  # deleted meanwhile
    assert not pool.still_claimable(instance_server(1), WANTED.inputs_hash, CLUSTER)  # taken
    assert not pool.still_claimable(pooled(1, inputs=STALE), WANTED.inputs_hash, CLUSTER)
    assert not pool.still_claimable(pooled(1, status="off"), WANTED.inputs_hash, CLUSTER)


def test_the_orphan_sweep_never_judges_pool_servers() -> None:
    inputs = SweepInputs(
        servers=(pooled(1), pooled(2, inputs=STALE)),
        live=frozenset(),
        namespaces=None,
        cluster=CLUSTER,
        first_seen={},
        now=0.0,
        grace=0.0,
    )
    plan = plan_sweep(inputs)
    assert plan.clean_up == () and plan.kept == ()


def test_a_create_with_pool_candidates_claims_with_the_instances_name_and_labels() -> None:
    plan = plan_server(create_inputs(pool_candidates=(3, 9)))
    (step,) = plan.steps
    assert isinstance(step, ClaimPoolServer)
    assert (step.candidates, step.name, step.inputs_hash) == ((3, 9), "alpha-u1", WANTED.inputs_hash)
    assert step.labels[naming.INSTANCE_UID_LABEL] == "u-1" and pool.POOL_LABEL not in step.labels
    assert plan.provisioning and plan.verdict.reason == "ClaimingPoolServer"


def test_without_candidates_or_golden_images_it_creates() -> None:
    (step,) = plan_server(create_inputs()).steps
    assert isinstance(step, CreateServer) and step.golden_snapshot is not None
    (step,) = plan_server(create_inputs(pool_candidates=(3,), golden_inputs=None)).steps
    assert isinstance(step, CreateServer)


SERVER = pooled(3)


def channel_inputs(claimed: bool, healthy: bool) -> ChannelInputs:
    spec = api.InstanceSpec.model_validate(
        {"hostname": "alpha.example.com", "gatewayTokenSecretRef": {"name": "t"}}
    )
    return ChannelInputs(
        spec=spec,
        annotations={},
        status=api.InstanceStatus(),
        server=replace(SERVER, ipv4="203.0.113.3"),
        server_ready=True,
        app=AppObservation(healthy, "checked"),
        default_openclaw_version="2026.9.6",
        enabled=True,
        claimed_from_pool=claimed,
    )


def test_a_claimed_pool_server_is_personalised_at_once_without_a_running_gateway() -> None:
    waiting = plan_channel(channel_inputs(claimed=False, healthy=False))
    assert waiting.steps == () and waiting.verdict.reason == "WaitingForBootstrap"
    pushed = plan_channel(channel_inputs(claimed=True, healthy=False))
    assert [type(s).__name__ for s in pushed.steps] == ["ApplyServerConfig"]


@pytest.mark.parametrize(
    ("text", "slots"),
    [
        ("", ()),
        ("fsn1/cx23=3", (pool.PoolSlot("fsn1", "cx23", 3),)),
        ("fsn1/cx23=3, nbg1/cx33=0", (pool.PoolSlot("fsn1", "cx23", 3), pool.PoolSlot("nbg1", "cx33", 0))),
    ],
)
def test_parse_slots(text: str, slots: tuple[pool.PoolSlot, ...]) -> None:
    assert pool.parse_slots(text) == slots


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("fsn1=3", "is not <location>/<server type>=<size>"),
        ("fsn1/cx23=-1", "is not"),
        ("fsn1/cx23=1000", "at most 100"),
        ("fsn1/cx23=1,fsn1/cx23=2", "given twice"),
    ],
)
def test_parse_slots_refuses(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        pool.parse_slots(text)


KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl operator"


def test_pool_user_data_carries_no_customer_data_and_starts_no_gateway() -> None:
    settings = BootstrapSettings(channel_public_key=KEY)
    user_data = render_pool_user_data(settings, WANTED.openclaw_version, "cx23")
    config = yaml.safe_load(user_data)
    paths = {entry["path"] for entry in config["write_files"]}
    assert not {TOKEN_FILE, GATEWAY_CONFIG_FILE, "/etc/caddy/Caddyfile"} & paths
    assert "packages" not in config  # the golden snapshot has them
    script = next(e["content"] for e in config["write_files"] if e["path"] == BOOTSTRAP_SCRIPT)
    assert "enable --now openclaw-gateway" not in script and "npm install" not in script
    assert "systemctl enable openclaw-gateway.service" in script
    admin = config["users"][0]
    assert "ssh_authorized_keys" not in admin
    # The instance's own personalise stage still starts the gateway (same template, other sections).
    instance = api.OpenClawInstance.model_validate(
        {
            "metadata": {"name": "a", "namespace": "n", "uid": "u"},
            "spec": {"hostname": "alpha.example.com", "gatewayTokenSecretRef": {"name": "t"}},
        }
    )
    personalised = yaml.safe_load(render_user_data(instance, settings, "t" * 32, stage=Stage.PERSONALISE))
    started = next(e["content"] for e in personalised["write_files"] if e["path"] == BOOTSTRAP_SCRIPT)
    assert "systemctl enable --now openclaw-gateway.service" in started
    with pytest.raises(BootstrapInputError, match="channel"):
        render_pool_user_data(BootstrapSettings(), WANTED.openclaw_version, "cx23")


def test_count_slots_counts_unclaimed_servers_and_prices_them() -> None:
    cx23 = ServerTypeInfo("cx23", 40, "x86", monthly_net_eur=(("fsn1", 3.49), ("nbg1", 3.49)))
    servers = (
        pooled(1),
        pooled(2, status="initializing"),
        pooled(3, status="deleting"),  # on its way out: no longer billed as the pool's
        pooled(4, cluster="c2"),
        instance_server(5),  # claimed: the instance's now
    )
    slots = (FSN1_CX23, pool.PoolSlot("nbg1", "cx23", 1), pool.PoolSlot("fsn1", "cx33", 1))
    counts = pool.count_slots(slots, servers, {"cx23": cx23}, CLUSTER)
    assert [(c.ready, c.starting, c.monthly_eur) for c in counts] == [(1, 1, 6.98), (0, 0, 0.0), (0, 0, None)]


def test_pool_server_names_are_valid_and_distinct() -> None:
    first = pool.pool_server_name("fsn1", "cx23", "0a1b2c3d")
    assert first == "clawhost-pool-fsn1-cx23-0a1b2c3d" and len(first) <= 63
    assert first != pool.pool_server_name("fsn1", "cx23", "0a1b2c3e")
