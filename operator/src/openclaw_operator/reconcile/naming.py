"""Identity at the providers: names, owner labels and record comments (docs/architecture.md).

The instance's metadata.uid is the identity; name and namespace labels are for humans. Everything here
is deterministic so that a crashed operator finds what it created before the crash.

Two labels serve the orphan sweep, which must judge a server without its instance: the deletion policy
(so a Retain server is released, not deleted) and the cluster the instance lived in (so a server that
another cluster's operator made in the same project is never mistaken for this cluster's orphan).
"""

from __future__ import annotations

import ipaddress
import re

from openclaw_operator import api

MANAGED_BY_LABEL = f"{api.GROUP}/managed-by"
MANAGED_BY_VALUE = "openclaw-operator"
INSTANCE_UID_LABEL = f"{api.GROUP}/instance-uid"
INSTANCE_NAMESPACE_LABEL = f"{api.GROUP}/instance-namespace"
INSTANCE_NAME_LABEL = f"{api.GROUP}/instance-name"
DELETION_POLICY_LABEL = f"{api.GROUP}/deletion-policy"
CLUSTER_LABEL = f"{api.GROUP}/cluster"
OWNER_LABELS = (
    MANAGED_BY_LABEL,
    INSTANCE_UID_LABEL,
    INSTANCE_NAMESPACE_LABEL,
    INSTANCE_NAME_LABEL,
    DELETION_POLICY_LABEL,
    CLUSTER_LABEL,
)
MANAGED_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"

FIREWALL_NAME = "clawhost-managed"
RECORD_COMMENT_PREFIX = f"{api.GROUP}/instance-uid="

_LABEL_EDGE = re.compile(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$")
_LABEL_BAD = re.compile(r"[^A-Za-z0-9._-]")


def label_value(value: str) -> str:
    """A Hetzner label value: at most 63 characters, alphanumeric at both ends."""
    return _LABEL_EDGE.sub("", _LABEL_BAD.sub("-", value)[:63])


def owned_firewall(labels: dict[str, str]) -> bool:
    """The managed firewall is ours by its managed-by label; its name alone proves nothing."""
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE


def server_name(instance_name: str, uid: str) -> str:
    """`<name cut to 40>-<first 8 hex of uid>`: unique per instance, a valid RFC 1123 host name."""
    base = re.sub(r"[^a-z0-9-]", "-", instance_name.lower())[:40].strip("-") or "instance"
    return f"{base}-{uid.replace('-', '')[:8].lower()}"


def owner_labels(instance: api.OpenClawInstance, cluster: str | None = None) -> dict[str, str]:
    """The labels that mark a server as this instance's; `cluster` (CLAWHOST_CLUSTER_ID) when set."""
    meta = instance.metadata
    labels = {
        MANAGED_BY_LABEL: MANAGED_BY_VALUE,
        INSTANCE_UID_LABEL: label_value(meta.uid),
        INSTANCE_NAMESPACE_LABEL: label_value(meta.namespace),
        INSTANCE_NAME_LABEL: label_value(meta.name),
        DELETION_POLICY_LABEL: instance.spec.deletion_policy.value,
    }
    if cluster:
        labels[CLUSTER_LABEL] = label_value(cluster)
    return labels


def deletion_policy(labels: dict[str, str]) -> api.DeletionPolicy | None:
    """The policy a server's label records, or None when it has none we know (made before the label)."""
    try:
        return api.DeletionPolicy(labels.get(DELETION_POLICY_LABEL, ""))
    except ValueError:
        return None


def owned_by(labels: dict[str, str], uid: str) -> bool:
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE and labels.get(INSTANCE_UID_LABEL) == uid


def without_owner_labels(labels: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in labels.items() if key not in OWNER_LABELS}


def record_comment(uid: str) -> str:
    return f"{RECORD_COMMENT_PREFIX}{uid}"


def record_owner(comment: str | None) -> str | None:
    """The instance uid a record belongs to, or None for records we do not own."""
    if comment and comment.startswith(RECORD_COMMENT_PREFIX):
        return comment[len(RECORD_COMMENT_PREFIX) :].strip() or None
    return None


def zone_for(hostname: str, explicit_zone: str | None, managed_zones: tuple[str, ...]) -> str | None:
    """The zone the hostname's records belong in: the spec's, else the longest managed zone containing it.

    A spec zone the operator does not manage yields None: the operator never writes to other zones.
    """
    host = hostname.lower().rstrip(".")
    if explicit_zone is not None:
        zone = explicit_zone.lower().rstrip(".")
        return zone if zone in managed_zones and _within(host, zone) else None
    candidates = [zone for zone in managed_zones if _within(host, zone)]
    return max(candidates, key=len) if candidates else None


def _within(host: str, zone: str) -> bool:
    return host == zone or host.endswith("." + zone)


def ipv6_address(network: str | None) -> str | None:
    """Hetzner hands out a /64; the server configures `::1` of it, which the AAAA record points at."""
    if not network:
        return None
    net = ipaddress.ip_network(network, strict=False)
    if net.num_addresses == 1:
        return str(net.network_address)
    return str(net.network_address + 1)
