"""One client-side rate limiter per provider credential: an estimate of the provider's bucket.

The limiter sits in the HTTP transport, so every request the SDKs make (pages, retries) passes through
it. It never sends while its estimate is below one request: the caller gets `RateLimited` (a `Failure`)
with the time the estimate refills, and the reconcile requeues until then instead of sleeping in a worker.

Hetzner documents a token bucket (RateLimit-Limit per hour, refilled continuously) and reports
RateLimit-Remaining and RateLimit-Reset (when the bucket is full again) on every response. Cloudflare
answers 429 with Retry-After, and blocks the credential until then.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from openclaw_operator.providers.errors import RateLimited

log = logging.getLogger(__name__)

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class EmptyWindow:
    """A span during which the limiter refused every request."""

    provider: str
    start: float
    end: float


class RateLimiter:
    def __init__(
        self,
        provider: str,
        *,
        limit: float | None = None,
        refill_per_second: float | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.provider = provider
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._limit = limit  # None until the provider tells us
        self._refill = refill_per_second
        self._tokens = limit if limit is not None else 1.0
        self._at = clock()
        self._reset_at: float | None = None  # the provider says the bucket is full again by then
        self._blocked_until = 0.0
        self._inflight = 0
        self._refused_recently = 0
        self._empty_since: float | None = None
        self.windows: deque[EmptyWindow] = deque(maxlen=10_000)
        self.sent = 0
        self.refused = 0

    # --- the gate -----------------------------------------------------------------------------------
    def acquire(self) -> None:
        """Take one request from the estimate, or raise RateLimited without sending."""
        with self._lock:
            now = self._clock()
            tokens = self._level(now)
            if now < self._blocked_until or tokens < 1.0:
                self._open_window(now)
                self.refused += 1
                self._refused_recently += 1
                raise RateLimited(self.provider, self._next_slot(now, tokens), now)
            self._close_window(now)
            self._refused_recently = 0
            self._tokens = tokens - 1.0
            self._at = now
            self._inflight += 1
            self.sent += 1

    def done(self) -> None:
        """A request that `acquire` let through has ended without rate-limit information."""
        with self._lock:
            self._inflight = max(0, self._inflight - 1)

    # --- what the provider told us ------------------------------------------------------------------
    def observe(
        self,
        *,
        limit: float | None = None,
        window: float | None = None,
        remaining: float | None = None,
        reset_at: float | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Fold one response's rate-limit headers into the estimate (and end its in-flight slot)."""
        with self._lock:
            now = self._clock()
            self._inflight = max(0, self._inflight - 1)
            if limit is not None and limit > 0:
                self._limit = limit
                if window is not None and window > 0:
                    self._refill = limit / window
                elif self._refill is None:
                    self._refill = limit / SECONDS_PER_HOUR  # Hetzner: the limit is per hour
            if remaining is not None:
                # Requests still in flight may not be counted in this answer yet: assume they are not.
                self._tokens = max(0.0, remaining - self._inflight)
                self._at = now
            if reset_at is not None:
                self._reset_at = reset_at
            if retry_after is not None:
                self._blocked_until = max(self._blocked_until, now + retry_after)
                self._tokens = 0.0
                self._at = now
            if self._level(now) >= 1.0 and now >= self._blocked_until:
                self._close_window(now)

    def remaining(self) -> float:
        with self._lock:
            return self._level(self._clock())

    # --- the estimate --------------------------------------------------------------------------------
    def _level(self, now: float) -> float:
        if self._limit is None:
            return max(self._tokens, 1.0) if now >= self._blocked_until else 0.0
        if self._reset_at is not None and now >= self._reset_at and self._inflight == 0:
            return self._limit
        refill = (self._refill or 0.0) * max(0.0, now - self._at)
        return min(self._limit, self._tokens + refill)

    def _next_slot(self, now: float, tokens: float) -> float:
        at = self._blocked_until
        if tokens < 1.0:
            if self._refill:
                at = max(at, now + (1.0 - tokens) / self._refill)
            elif self._reset_at is not None:
                at = max(at, self._reset_at)
            else:
                at = max(at, now + 1.0)
        # Spread the callers who were refused together, so they do not all come back in the same instant.
        spread = self._refused_recently / self._refill if self._refill else 1.0
        return at + self._rng.uniform(0.0, min(spread, 60.0))

    def _open_window(self, now: float) -> None:
        if self._empty_since is None:
            self._empty_since = now

    def _close_window(self, now: float) -> None:
        if self._empty_since is not None:
            window = EmptyWindow(self.provider, self._empty_since, now)
            self.windows.append(window)
            self._empty_since = None
            log.info(
                "rate-limit window: %s bucket empty from %.3f to %.3f",
                window.provider,
                window.start,
                window.end,
            )
