"""Did the operator's client-side limiter ever send while it believed the bucket empty?

The operator logs every span in which its limiter refused all requests ("rate-limit window: <provider>
bucket empty from <t0> to <t1>", wall-clock unix seconds). The simulators log the wall time of every
request they received. No request may arrive inside such a span: the same proof the core's storm test
uses (tests/operator/integration/test_operator_at_scale.py), applied to any operator log.

The simulators stamp a request when they answer it, after their simulated latency; with latency turned
on, pass the send times a proxy in front of them saw instead (`LossyProxy.arrivals`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from tests.operator.integration.harness import Stage

WINDOW = re.compile(r"rate-limit window: (\w+) bucket empty from ([\d.]+) to ([\d.]+)")
SLACK = 0.05  # a request let through just before the window opened may land a moment later


@dataclass(frozen=True)
class EmptyBucketReport:
    windows: Counter[str]  # provider -> spans with an empty bucket
    sent_inside: int  # requests the providers received inside one of them


def empty_bucket_report(
    stage: Stage, logs: str, sent: dict[str, list[float]] | None = None
) -> EmptyBucketReport:
    windows = [(m[1], float(m[2]), float(m[3])) for m in WINDOW.finditer(logs)]
    sent = sent or {
        name: [r.wall_time for r in sim.request_log if not r.path.startswith("/_sim/")]
        for name, sim in (("hetzner", stage.hetzner), ("cloudflare", stage.cloudflare))
    }
    inside = sum(
        1 for provider, start, end in windows for at in sent[provider] if start + SLACK < at < end - SLACK
    )
    return EmptyBucketReport(Counter(provider for provider, _, _ in windows), inside)
