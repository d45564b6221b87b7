"""Golden images, the pure decisions (docs/golden-images.md): which golden snapshot a new server is
made from, which golden snapshots a build keeps, and which builder servers a crashed build left.

A golden snapshot is a Hetzner snapshot of a server that ran only the bootstrap's install stage. Its
labels say what it holds; the inputs label is `install_stage_hash` of what it was built from. A new
server uses a snapshot only when that hash equals the hash of what the operator would install for it
now, and the version, Node.js line and base image labels agree too: a snapshot of anything else (an
older release, another base, changed install settings) is never used, whatever its name says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from openclaw_operator import api
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.model import (
    ImageStatus,
    ServerObservation,
    ServerTypeInfo,
    SnapshotObservation,
)

# What a golden snapshot holds, one label each (the values are GoldenInputs'); a builder server carries
# the inputs hash it builds and when its build gives up (unix seconds). Past that deadline it is a
# crashed build's leftover, and the orphan sweep deletes it.
(
    GOLDEN_LABEL,
    INPUTS_LABEL,
    OPENCLAW_VERSION_LABEL,
    NODE_VERSION_LABEL,
    BASE_IMAGE_LABEL,
    ARCHITECTURE_LABEL,
    BUILDER_LABEL,
    BUILDER_DEADLINE_LABEL,
) = (
    f"{api.GROUP}/{name}"
    for name in (
        "golden",
        "golden-inputs",
        "openclaw-version",
        "node-version",
        "base-image",
        "architecture",
        "golden-builder",
        "golden-deadline",
    )
)
GOLDEN_SELECTOR = f"{naming.MANAGED_SELECTOR},{GOLDEN_LABEL}=true"
DEFAULT_KEEP = 2


@dataclass(frozen=True)
class GoldenInputs:
    """What the install stage would put on a new server now, and its hash (`install_stage_hash`)."""

    base_image: str
    openclaw_version: str
    node_major: int
    inputs_hash: str

    def labels(self, architecture: str, cluster: str | None) -> dict[str, str]:
        """A golden snapshot's labels (and, with BUILDER_LABEL, its builder's)."""
        labels = {
            naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE,
            GOLDEN_LABEL: "true",
            INPUTS_LABEL: self.inputs_hash,
            OPENCLAW_VERSION_LABEL: naming.label_value(self.openclaw_version),
            NODE_VERSION_LABEL: str(self.node_major),
            BASE_IMAGE_LABEL: naming.label_value(self.base_image),
            ARCHITECTURE_LABEL: architecture,
        }
        if cluster:
            labels[naming.CLUSTER_LABEL] = naming.label_value(cluster)
        return labels


def is_golden(labels: dict[str, str]) -> bool:
    return (
        labels.get(naming.MANAGED_BY_LABEL) == naming.MANAGED_BY_VALUE and labels.get(GOLDEN_LABEL) == "true"
    )


def matches(snapshot: SnapshotObservation, wanted: GoldenInputs) -> bool:
    """Built from exactly these inputs, and ready to make servers from."""
    labels = snapshot.labels
    return (
        is_golden(labels)
        and snapshot.status == ImageStatus.AVAILABLE
        and labels.get(INPUTS_LABEL) == wanted.inputs_hash
        and labels.get(OPENCLAW_VERSION_LABEL) == naming.label_value(wanted.openclaw_version)
        and labels.get(NODE_VERSION_LABEL) == str(wanted.node_major)
        and labels.get(BASE_IMAGE_LABEL) == naming.label_value(wanted.base_image)
    )


def choose(
    snapshots: Iterable[SnapshotObservation],
    wanted: GoldenInputs | None,
    server_type: ServerTypeInfo | None = None,
) -> SnapshotObservation | None:
    """The golden snapshot a new server is made from, or None for the full install: the newest one
    built from `wanted`, that fits the server type's disk and architecture when the type is known."""
    if wanted is None:
        return None
    fitting = [s for s in snapshots if matches(s, wanted) and (server_type is None or _fits(s, server_type))]
    return max(fitting, key=_age_key) if fitting else None


def _fits(snapshot: SnapshotObservation, server_type: ServerTypeInfo) -> bool:
    architecture = snapshot.labels.get(ARCHITECTURE_LABEL)
    if architecture and server_type.architecture and architecture != server_type.architecture:
        return False
    return snapshot.disk_gb is None or not server_type.disk_gb or snapshot.disk_gb <= server_type.disk_gb


def _age_key(snapshot: SnapshotObservation) -> tuple[datetime, int]:
    return (snapshot.created or datetime.min.replace(tzinfo=UTC), snapshot.id)


def superseded(
    snapshots: Iterable[SnapshotObservation], keep: int = DEFAULT_KEEP
) -> list[SnapshotObservation]:
    """The golden snapshots a build deletes: all but the newest `keep` available ones per inputs hash.
    One still being created is neither kept nor deleted (Hetzner refuses to delete it)."""
    by_inputs: dict[str, list[SnapshotObservation]] = {}
    for snapshot in snapshots:
        if is_golden(snapshot.labels) and snapshot.status == ImageStatus.AVAILABLE:
            by_inputs.setdefault(snapshot.labels.get(INPUTS_LABEL, ""), []).append(snapshot)
    older: list[SnapshotObservation] = []
    for group in by_inputs.values():
        older.extend(sorted(group, key=_age_key, reverse=True)[keep:])
    return sorted(older, key=lambda s: s.id)


def builder_labels(
    inputs: GoldenInputs, architecture: str, cluster: str | None, deadline: float
) -> dict[str, str]:
    """A builder server's labels: no golden label (it is not an image), the inputs it builds, its deadline."""
    labels = {k: v for k, v in inputs.labels(architecture, cluster).items() if k != GOLDEN_LABEL}
    return {**labels, BUILDER_LABEL: inputs.inputs_hash, BUILDER_DEADLINE_LABEL: str(int(deadline))}


def builder_name(inputs_hash: str) -> str:
    """Deterministic: a second build of the same inputs finds the first one's builder by name."""
    return f"clawhost-golden-{inputs_hash[:12]}"


def expired_builders(
    servers: Iterable[ServerObservation], now_unix: float, cluster: str | None
) -> list[ServerObservation]:
    """Builder servers of this cluster whose build is past its deadline: a build that crashed (or was
    killed) left them, and a running build deletes its own before its deadline. A builder without a
    readable deadline is kept: nothing proves its build is over."""
    expired = []
    for server in servers:
        labels = server.labels
        if labels.get(naming.MANAGED_BY_LABEL) != naming.MANAGED_BY_VALUE or BUILDER_LABEL not in labels:
            continue
        if labels.get(naming.CLUSTER_LABEL) != (naming.label_value(cluster) if cluster else None):
            continue
        try:
            deadline = float(labels.get(BUILDER_DEADLINE_LABEL, ""))
        except ValueError:
            continue
        if now_unix > deadline:
            expired.append(server)
    return sorted(expired, key=lambda s: s.id)
