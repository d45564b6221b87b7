"""The managed firewall: what it should be, from the configuration, against what the last listing showed.

One Hetzner Firewall serves the whole fleet (docs/architecture.md, "Ownership marks"): named
`clawhost-managed`, labelled managed-by, applied by the managed-by label selector, so Hetzner itself
attaches it to every server we create and no server ever needs a firewall call of its own. The plan is
made once per listing for the fleet, never per instance, so a firewall changed or deleted behind our back
is put back within one resync interval.

A firewall with that name but without our label is someone else's: it is never modified or deleted, and
the conflict is reported instead (servers are not created until the name is free, since they would not
get the firewall the configuration promises). Attachments we did not make (a server applied by id,
another selector) are left alone: removing one would change a firewall someone else relies on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from openclaw_operator.bootstrap.firewall import managed_firewall_rules
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.model import (
    ApplyFirewallToSelector,
    CreateFirewall,
    FirewallObservation,
    FirewallRuleSpec,
    FirewallStep,
    SetFirewallRules,
)


@dataclass(frozen=True)
class DesiredFirewall:
    name: str
    labels: dict[str, str] = field(hash=False)
    rules: tuple[FirewallRuleSpec, ...]
    selector: str


def desired_firewall(ssh_source_ranges: Sequence[str]) -> DesiredFirewall:
    """The managed firewall this configuration (CLAWHOST_SSH_SOURCE_RANGES) asks for."""
    return DesiredFirewall(
        name=naming.FIREWALL_NAME,
        labels={naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE},
        rules=tuple(map(FirewallRuleSpec.from_api, managed_firewall_rules(list(ssh_source_ranges)))),
        selector=naming.MANAGED_SELECTOR,
    )


@dataclass(frozen=True)
class FirewallPlan:
    steps: tuple[FirewallStep, ...] = ()
    conflict: str | None = None  # a foreign firewall holds the name: nothing is done, creates wait


def plan_firewall(
    observed: FirewallObservation | None, desired: DesiredFirewall, was_in_place: bool
) -> FirewallPlan:
    """The steps that make `observed` (the firewall with the managed name, anyone's) into `desired`.

    `was_in_place`: an earlier plan of this process left it as desired, so a difference now was made
    behind our back (a drift repair, counted); at start-up it is more likely a configuration change.
    """
    if observed is None:
        create = CreateFirewall(
            name=desired.name,
            labels=desired.labels,
            rules=desired.rules,
            selector=desired.selector,
            drift=was_in_place,
            reason="FirewallRecreated" if was_in_place else "FirewallCreated",
            message=f"created the managed firewall {desired.name}, applied to {desired.selector}"
            + (" (it had been deleted)" if was_in_place else ""),
        )
        return FirewallPlan(steps=(create,))
    if not naming.owned_firewall(observed.labels):
        return FirewallPlan(
            conflict=(
                f"a Hetzner firewall named {observed.name} (id {observed.id}) exists without the label "
                f"{naming.MANAGED_SELECTOR}; it is left untouched and no server is created until it is "
                "renamed or deleted (or labelled, to hand it to the operator)"
            )
        )
    steps: list[FirewallStep] = []
    missing, unexpected = _difference(desired.rules, observed.rules)
    if missing or unexpected:
        steps.append(
            SetFirewallRules(
                firewall_id=observed.id,
                rules=desired.rules,
                drift=was_in_place,
                reason="FirewallRulesSet",
                message=f"set the rules of the managed firewall {observed.name} ({observed.id}): "
                + "; ".join(
                    f"{verb} {_describe(rules)}"
                    for verb, rules in (("missing", missing), ("unexpected", unexpected))
                    if rules
                ),
            )
        )
    if desired.selector not in observed.selectors:
        steps.append(
            ApplyFirewallToSelector(
                firewall_id=observed.id,
                selector=desired.selector,
                drift=was_in_place,
                reason="FirewallApplied",
                message=f"applied the managed firewall {observed.name} ({observed.id}) to "
                f"{desired.selector} again",
            )
        )
    return FirewallPlan(steps=tuple(steps))


def _canonical(rule: FirewallRuleSpec) -> FirewallRuleSpec:
    """Rules are a set and so are a rule's CIDRs: a reordering changes nothing a packet meets."""
    return FirewallRuleSpec(
        direction=rule.direction,
        protocol=rule.protocol,
        port=rule.port,
        source_ips=tuple(sorted(set(rule.source_ips))),
        destination_ips=tuple(sorted(set(rule.destination_ips))),
        description=rule.description,
    )


def _difference(
    desired: Iterable[FirewallRuleSpec], observed: Iterable[FirewallRuleSpec]
) -> tuple[list[FirewallRuleSpec], list[FirewallRuleSpec]]:
    """The rules missing from `observed` and those it has beyond `desired`, each in a stable order."""
    wanted, found = set(map(_canonical, desired)), set(map(_canonical, observed))
    return sorted(wanted - found, key=repr), sorted(found - wanted, key=repr)


def _describe(rules: list[FirewallRuleSpec]) -> str:
    """`in tcp/22 203.0.113.0/24, in icmp 0.0.0.0/0 ::/0`: enough for a human to see what changed."""
    return ", ".join(
        f"{rule.direction} {rule.protocol}{'/' + rule.port if rule.port else ''} "
        + " ".join(rule.source_ips or rule.destination_ips)
        for rule in rules
    )
