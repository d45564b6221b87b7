"""What both provider simulators share: simulated time, latency, faults, rate limits, the request log,
and the thread that runs simulators for synchronous code.

The HTTP plumbing (auth, limiter, faults, logging as one aiohttp middleware) lives in `simserver.py`;
this module holds the parts that decide *what* happens to a request, so they can be tested without a
socket and reused by both simulators.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Generic, Literal, Protocol, TypeVarTuple, cast

__all__ = [
    "FaultDecision",
    "Faults",
    "Latency",
    "LatencyModel",
    "LimitDecision",
    "RequestRecord",
    "SimClock",
    "SimulatorThread",
    "SlidingWindowLimiter",
    "TokenBucket",
    "count_requests",
]


class SimClock:
    """Simulated seconds since the clock was made, running `time_scale` times faster than the wall clock.

    `advance()` jumps forward (tests use it to skip boot times without sleeping). Calendar time, which the
    simulators put in resource timestamps, is the *wall-clock* instant at which a simulated instant
    happened: a client compares those timestamps with its own clock (as it does the wall-clock
    `RateLimit-Reset` and `Retry-After`), so they must never lie in its future. Adding simulated seconds to
    the start time would: at `--time-scale 60`, a server made after ten wall minutes would be dated ten
    hours ahead. So durations between timestamps are wall durations, an `advance()` takes no wall time, and
    the simulated length of anything is in the request log's `sim_time`. `epoch` (unix seconds; default:
    the wall time at creation) is the calendar time of the start, fixed for reproducible answers.
    """

    def __init__(self, time_scale: float = 1.0, epoch: float | None = None) -> None:
        self._epoch = time.time() if epoch is None else epoch
        self._mono0 = time.monotonic()
        # (monotonic reference, simulated seconds at it, scale), replaced whole so that a reader in another
        # thread never mixes an old scale with a new reference
        self._base = (self._mono0, 0.0, 1.0)
        # every base the clock has run from, oldest first, and their simulated starts (for bisect): the
        # wall instant of any past simulated instant, see `unix()`
        self._history = [self._base]
        self._history_sim = [0.0]
        self._lock = threading.Lock()
        self.time_scale = time_scale

    @property
    def time_scale(self) -> float:
        return self._base[2]

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        """Change speed from now on; the time already passed stays as it was."""
        if value <= 0:
            raise ValueError("time_scale must be positive")
        with self._lock:
            self._rebase(0.0, value)

    def now(self) -> float:
        return self._at(time.monotonic())

    def _at(self, mono: float) -> float:
        mono0, sim0, scale = self._base
        return sim0 + (mono - mono0) * scale

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the simulated clock only moves forward")
        with self._lock:
            self._rebase(seconds, self.time_scale)

    def _rebase(self, jump: float, scale: float) -> None:
        """From this moment on run at `scale`, `jump` simulated seconds ahead of where the clock was."""
        mono = time.monotonic()
        self._base = (mono, self._at(mono) + jump, scale)
        self._history.append(self._base)
        self._history_sim.append(self._base[1])

    def unix(self, sim_time: float | None = None) -> float:
        """Calendar time (unix seconds) of a simulated instant: the wall instant it happened at (an instant
        not reached yet is dated now)."""
        with self._lock:
            now = self.now()
            instant = now if sim_time is None else min(sim_time, now)
            index = bisect.bisect_right(self._history_sim, instant) - 1
            mono, sim, scale = self._history[max(index, 0)]
            wall = mono + max(0.0, instant - sim) / scale
            if index + 1 < len(self._history):  # within an advance() the wall clock stood still
                wall = min(wall, self._history[index + 1][0])
        return self._epoch + (wall - self._mono0)

    def iso(self, sim_time: float | None = None) -> str:
        instant = datetime.fromtimestamp(self.unix(sim_time), UTC).replace(microsecond=0)
        return instant.isoformat().replace("+00:00", "Z")

    def to_wall_seconds(self, sim_seconds: float) -> float:
        """How long a client really waits for `sim_seconds` to pass (for Retry-After and reset headers)."""
        return sim_seconds / self.time_scale

    async def sleep(self, sim_seconds: float) -> None:
        if sim_seconds > 0:
            await asyncio.sleep(self.to_wall_seconds(sim_seconds))


@dataclass(frozen=True)
class Latency:
    """A distribution of simulated seconds."""

    kind: Literal["constant", "uniform", "lognormal"] = "constant"
    a: float = 0.0  # constant value, uniform low, or lognormal median
    b: float = 0.0  # uniform high, or lognormal sigma

    @classmethod
    def constant(cls, seconds: float) -> Latency:
        return cls("constant", seconds)

    @classmethod
    def uniform(cls, low: float, high: float) -> Latency:
        return cls("uniform", low, high)

    @classmethod
    def lognormal(cls, median: float, sigma: float = 0.5) -> Latency:
        return cls("lognormal", median, sigma)

    def sample(self, rng: random.Random) -> float:
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "lognormal":
            return rng.lognormvariate(math.log(self.a), self.b) if self.a > 0 else 0.0
        return self.a


class LatencyModel:
    """Response latency per operation (`"POST /servers"`), falling back to a default distribution."""

    def __init__(self, default: Latency | None = None, per_operation: Mapping[str, Latency] | None = None):
        self.default = default or Latency.constant(0.0)
        self.per_operation = dict(per_operation or {})

    @classmethod
    def none(cls) -> LatencyModel:
        return cls()

    @classmethod
    def realistic(cls) -> LatencyModel:
        """Rough public-API figures: tens of ms for reads, a few hundred ms for creates."""
        return cls(
            Latency.lognormal(0.06, 0.4),
            {
                "POST /servers": Latency.lognormal(0.6, 0.3),
                "DELETE /servers/{id}": Latency.lognormal(0.3, 0.3),
                "GET /servers": Latency.lognormal(0.12, 0.4),
                "POST /zones/{zone_id}/dns_records": Latency.lognormal(0.25, 0.3),
                "POST /zones/{zone_id}/dns_records/batch": Latency.lognormal(0.4, 0.3),
                "GET /zones/{zone_id}/dns_records": Latency.lognormal(0.15, 0.4),
            },
        )

    def set(self, operation: str, latency: Latency) -> None:
        self.per_operation[operation] = latency

    def for_operation(self, operation: str) -> Latency:
        return self.per_operation.get(operation, self.default)


@dataclass(frozen=True)
class LimitDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_after: float  # simulated seconds until the budget is whole again (or the lockout ends)


class TokenBucket:
    """Hetzner's limiter: `capacity` requests per key, refilled continuously at `refill_per_second`."""

    def __init__(self, capacity: int = 3600, refill_per_second: float = 1.0) -> None:
        self.capacity = capacity
        self.refill_per_second = refill_per_second
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (float(self.capacity), now))
        return min(float(self.capacity), tokens + max(0.0, now - at) * self.refill_per_second)

    def take(self, key: str, now: float) -> LimitDecision:
        tokens = self._level(key, now)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        return self._decision(allowed, tokens)

    def peek(self, key: str, now: float) -> LimitDecision:
        return self._decision(True, self._level(key, now))

    def _decision(self, allowed: bool, tokens: float) -> LimitDecision:
        missing = self.capacity - tokens
        return LimitDecision(allowed, self.capacity, int(tokens), missing / self.refill_per_second)


class SlidingWindowLimiter:
    """Cloudflare's limiter: `limit` requests per `window` seconds; exceeding it blocks for `lockout`."""

    def __init__(self, limit: int = 1200, window: float = 300.0, lockout: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self.lockout = lockout
        self._hits: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}

    def take(self, key: str, now: float) -> LimitDecision:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        locked_until = self._locked_until.get(key, -math.inf)
        if now < locked_until:
            return LimitDecision(False, self.limit, 0, locked_until - now)
        if len(hits) >= self.limit:
            self._locked_until[key] = now + self.lockout
            return LimitDecision(False, self.limit, 0, self.lockout)
        hits.append(now)
        return LimitDecision(True, self.limit, self.limit - len(hits), hits[0] + self.window - now)


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    template: str  # the route, e.g. "/servers/{id}/actions/poweron"; the path itself if no route matched
    query: str
    status: int  # 0 = the connection was dropped
    sim_time: float
    wall_time: float
    rate_limit_remaining: int | None
    fault: str | None = None  # the injected fault, if any
    project: str | None = None  # the Hetzner project the request's token belongs to (None: no such token)


def count_requests(log: list[RequestRecord]) -> Counter[tuple[str, str, int]]:
    return Counter((r.method, r.template, r.status) for r in log)


@dataclass(frozen=True)
class FaultDecision:
    kind: Literal["drop", "outage", "rate_limit", "error"] | None = None
    status: int = 0
    code: str | int = ""
    extra_delay: float = 0.0  # simulated seconds added to the response time


@dataclass
class _ErrorRule:
    method: str
    template: str
    rate: float
    status: int
    code: str | int
    rng: random.Random


@dataclass
class Faults:
    """Seeded fault injection. Each rule draws from its own generator seeded by (seed, rule), so the faults
    one endpoint sees do not depend on how its requests interleave with other endpoints'."""

    clock: SimClock
    seed: int = 0
    _errors: list[_ErrorRule] = field(default_factory=list)
    _outages: list[tuple[float, float]] = field(default_factory=list)
    _storms: list[tuple[float, float]] = field(default_factory=list)
    _slow: dict[str, float] = field(default_factory=dict)
    _drop_rate: float = 0.0
    _drop_rng: random.Random = field(default_factory=random.Random)
    _action_failures: Counter[str] = field(default_factory=Counter)

    def _rng(self, *key: object) -> random.Random:
        return random.Random("|".join(map(str, (self.seed, *key))))

    def error_rate(
        self,
        method: str,
        path_template: str,
        rate: float,
        status: int = 503,
        code: str | int = "service_error",
    ) -> None:
        """Fail a share of requests to one route (`"*"` matches any method or template)."""
        rng = self._rng("error", method, path_template, status, code)
        self._errors.append(_ErrorRule(method.upper(), path_template, rate, status, code, rng))

    def outage(self, start_s: float, duration_s: float) -> None:
        """Every request fails with 503 from `start_s` for `duration_s` (simulated seconds from now)."""
        start = self.clock.now() + start_s
        self._outages.append((start, start + duration_s))

    def rate_limit_storm(self, duration_s: float) -> None:
        """Every request gets 429 for `duration_s` simulated seconds from now."""
        now = self.clock.now()
        self._storms.append((now, now + duration_s))

    def fail_actions(self, command: str, count: int = 1) -> None:
        """The next `count` asynchronous actions with this command end in `error`."""
        self._action_failures[command] += count

    def slow(self, path_template: str, seconds: float) -> None:
        """Add `seconds` of simulated latency to every request of a route."""
        self._slow[path_template] = seconds

    def drop_connections(self, rate: float) -> None:
        """Close a share of connections without an answer."""
        self._drop_rate = rate
        self._drop_rng = self._rng("drop")

    def clear(self) -> None:
        self._errors.clear()
        self._outages.clear()
        self._storms.clear()
        self._slow.clear()
        self._drop_rate = 0.0
        self._action_failures.clear()

    def take_action_failure(self, command: str) -> bool:
        if self._action_failures[command] > 0:
            self._action_failures[command] -= 1
            return True
        return False

    def decide(self, method: str, template: str) -> FaultDecision:
        now = self.clock.now()
        delay = self._slow.get(template, 0.0)
        if self._drop_rate and self._drop_rng.random() < self._drop_rate:
            return FaultDecision("drop", extra_delay=delay)
        if any(start <= now < end for start, end in self._outages):
            return FaultDecision("outage", 503, "service_error", delay)
        if any(start <= now < end for start, end in self._storms):
            return FaultDecision("rate_limit", 429, "rate_limit_exceeded", delay)
        for rule in self._errors:
            matches = rule.method in ("*", method) and rule.template in ("*", template)
            if matches and rule.rng.random() < rule.rate:
                return FaultDecision("error", rule.status, rule.code, delay)
        return FaultDecision(extra_delay=delay)


class Startable(Protocol):
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None: ...
    async def stop(self) -> None: ...


Sims = TypeVarTuple("Sims")


class SimulatorThread(Generic[*Sims]):
    """Runs simulators on an event loop in a background thread, for synchronous tests and tools.

    The simulators' inspection and control methods stay callable from the calling thread: they hand their
    work to the loop (see `SimulatorServer.call_in_loop`).
    """

    def __init__(self, *simulators: *Sims, host: str = "127.0.0.1") -> None:
        self.simulators = simulators
        self.host = host
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="simulators", daemon=True)

    def _each(self) -> tuple[Startable, ...]:
        return cast(tuple[Startable, ...], self.simulators)  # TypeVarTuple cannot carry a bound

    def __enter__(self) -> tuple[*Sims]:
        self._thread.start()
        for sim in self._each():
            asyncio.run_coroutine_threadsafe(sim.start(host=self.host), self.loop).result(timeout=30)
        return self.simulators

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sim in self._each():
            asyncio.run_coroutine_threadsafe(sim.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        self.loop.close()
