"""The managed firewall's decision, a row per situation: missing, rules changed, no longer applied to the
selector, someone else's firewall holding the name, and as desired."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from openclaw_operator.bootstrap.firewall import managed_firewall_rules
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.firewall import desired_firewall, plan_firewall
from openclaw_operator.reconcile.model import (
    ApplyFirewallToSelector,
    CreateFirewall,
    FirewallObservation,
    FirewallRuleSpec,
    SetFirewallRules,
    step_name,
)

SSH = ("203.0.113.0/24", "2001:db8::/32")
DESIRED = desired_firewall(SSH)
OURS = {naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE}
HTTP_ONLY = (FirewallRuleSpec("in", "tcp", "80", ("0.0.0.0/0", "::/0")),)
SSH_FROM_ANYWHERE = tuple(map(FirewallRuleSpec.from_api, managed_firewall_rules(["0.0.0.0/0", "::/0"])))


def firewall(
    labels: dict[str, str] | None = None,
    rules: tuple[FirewallRuleSpec, ...] = DESIRED.rules,
    selectors: tuple[str, ...] = (naming.MANAGED_SELECTOR,),
) -> FirewallObservation:
    return FirewallObservation(7, naming.FIREWALL_NAME, OURS if labels is None else labels, rules, selectors)


@dataclass(frozen=True)
class Row:
    observed: FirewallObservation | None
    steps: tuple[str, ...] = ()  # step_name of each step, in order
    was_in_place: bool = False
    conflict: bool = False


ROWS = {
    "missing at start-up: created, applied to the selector (not a repair)": Row(None, ("create_firewall",)),
    "deleted behind our back: created again (a repair)": Row(None, ("create_firewall",), was_in_place=True),
    "as desired: nothing": Row(firewall()),
    "as desired, rules and CIDRs in another order: nothing": Row(
        firewall(rules=tuple(replace(r, source_ips=r.source_ips[::-1]) for r in reversed(DESIRED.rules)))
    ),
    "a rule removed behind our back: set the rules": Row(
        firewall(rules=DESIRED.rules[1:]), ("set_firewall_rules",), was_in_place=True
    ),
    "a rule added behind our back: set the rules": Row(
        firewall(rules=(*DESIRED.rules, FirewallRuleSpec("in", "tcp", "8080", ("0.0.0.0/0",)))),
        ("set_firewall_rules",),
        was_in_place=True,
    ),
    "SSH ranges changed in the configuration: set the rules": Row(
        firewall(rules=SSH_FROM_ANYWHERE), ("set_firewall_rules",)
    ),
    "a description edited: set the rules (they are exactly ours)": Row(
        firewall(rules=(replace(DESIRED.rules[0], description="hand-edited"), *DESIRED.rules[1:])),
        ("set_firewall_rules",),
    ),
    "removed from the selector: applied again": Row(
        firewall(selectors=()), ("apply_firewall",), was_in_place=True
    ),
    "also applied elsewhere by someone: left as it is": Row(
        firewall(selectors=("team=web", naming.MANAGED_SELECTOR))
    ),
    "rules changed and removed from the selector: both, rules first": Row(
        firewall(rules=HTTP_ONLY, selectors=()), ("set_firewall_rules", "apply_firewall"), was_in_place=True
    ),
    "someone else's firewall with our name (no label): never touched": Row(
        firewall(labels={}, rules=HTTP_ONLY, selectors=()), conflict=True
    ),
    "our label key with another value: someone else's": Row(
        firewall(labels={naming.MANAGED_BY_LABEL: "terraform"}), conflict=True
    ),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_plan_firewall(row: Row) -> None:
    plan = plan_firewall(row.observed, DESIRED, row.was_in_place)
    assert tuple(step_name(step) for step in plan.steps) == row.steps
    assert (plan.conflict is not None) == row.conflict
    for step in plan.steps:
        assert step.drift == row.was_in_place  # only a change behind our back counts as a repair
        match step:
            case CreateFirewall():
                assert (step.name, step.labels) == (naming.FIREWALL_NAME, OURS)
                assert (step.rules, step.selector) == (DESIRED.rules, naming.MANAGED_SELECTOR)
            case SetFirewallRules():
                assert (step.firewall_id, step.rules) == (7, DESIRED.rules)
            case ApplyFirewallToSelector():
                assert (step.firewall_id, step.selector) == (7, naming.MANAGED_SELECTOR)


def test_the_desired_rules_are_the_bootstrap_rules_for_the_configured_ranges() -> None:
    assert [rule.port for rule in DESIRED.rules] == ["22", "80", "443", None]
    assert DESIRED.rules[0].source_ips == SSH
    assert DESIRED.rules[-1].protocol == "icmp"
    assert [r.port for r in desired_firewall(()).rules] == ["80", "443", None]  # SSH closed entirely


def test_messages_say_what_changed_and_the_conflict_names_the_firewall() -> None:
    (step,) = plan_firewall(firewall(rules=SSH_FROM_ANYWHERE), DESIRED, True).steps
    assert "missing in tcp/22 2001:db8::/32 203.0.113.0/24" in step.message
    assert "unexpected in tcp/22 0.0.0.0/0 ::/0" in step.message
    conflict = plan_firewall(firewall(labels={"team": "net"}), DESIRED, False).conflict
    assert conflict is not None and "clawhost-managed (id 7)" in conflict and "untouched" in conflict
