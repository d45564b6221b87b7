"""The HTTP layer under both SDKs: every request passes the rate limiter, is counted, and its
rate-limit headers feed the limiter's estimate.

hcloud uses a `requests.Session`, so it gets a mounted `HTTPAdapter`; cloudflare's async client uses
httpx, so it gets a wrapping `AsyncBaseTransport`. Hooking here instead of around SDK methods means the
SDK's own pagination and any retry are gated and counted too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import requests
from requests.adapters import HTTPAdapter

from openclaw_operator import metrics
from openclaw_operator.providers.ratelimit import RateLimiter

_CF_RATELIMIT = re.compile(r"(?:^|[;,\s])r=(\d+).*?(?:[;,\s])t=(\d+)")
_CF_POLICY = re.compile(r"(?:^|[;,\s])q=(\d+).*?(?:[;,\s])w=(\d+)")


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def retry_after_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """Retry-After as seconds (`retry-after-ms`, seconds, or an HTTP date)."""
    millis = _float(headers.get("retry-after-ms"))
    if millis is not None:
        return max(0.0, millis / 1000.0)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _float(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def observe_headers(limiter: RateLimiter, status: int, headers: Mapping[str, str]) -> None:
    """Feed one response's rate-limit information (any of the spellings either provider uses)."""
    now = time.time()
    limit = _float(headers.get("ratelimit-limit"))
    remaining = _float(headers.get("ratelimit-remaining"))
    reset_at = _float(headers.get("ratelimit-reset"))
    retry_after = retry_after_seconds(headers, now)
    window = None
    policy = headers.get("ratelimit-policy")  # Cloudflare: `"default";q=1200;w=300`
    if policy and (match := _CF_POLICY.search(policy)):
        limit, window = float(match.group(1)), float(match.group(2))
    structured = headers.get("ratelimit")  # Cloudflare: `"default";r=50;t=30`
    if structured and (match := _CF_RATELIMIT.search(structured)):
        remaining = float(match.group(1))
        if remaining == 0:
            retry_after = max(retry_after or 0.0, float(match.group(2)))
    if status == 429 and retry_after is None and remaining is None:
        retry_after = 1.0  # a bare 429: back off a little rather than not at all
    limiter.observe(
        limit=limit, window=window, remaining=remaining, reset_at=reset_at, retry_after=retry_after
    )
    metrics.RATE_LIMIT_REMAINING.labels(limiter.provider).set(limiter.remaining())


class _Lowercase(dict[str, str]):
    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__((key.lower(), value) for key, value in headers.items())


@contextmanager
def gated(limiter: RateLimiter, method: str, path: str) -> Iterator[Callable[[int, Mapping[str, str]], None]]:
    """One request through the gate: refused (and counted as refused) when the estimate is empty, else
    sent; the caller reports the response with the callback, or the request counts as a lost one."""
    provider = limiter.provider
    try:
        limiter.acquire()
    except Exception:
        metrics.PROVIDER_REFUSED.labels(provider).inc()
        raise
    answered = False

    def answer(status: int, headers: Mapping[str, str]) -> None:
        nonlocal answered
        answered = True
        observe_headers(limiter, status, _Lowercase(headers))
        metrics.record_request(provider, method, path, status)

    try:
        yield answer
    finally:
        if not answered:
            limiter.done()
            metrics.record_request(provider, method, path, 0)


class GatedAdapter(HTTPAdapter):
    """requests adapter for hcloud."""

    def __init__(self, limiter: RateLimiter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limiter = limiter

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        with gated(self.limiter, request.method or "GET", urlsplit(request.url or "").path) as answer:
            response = super().send(request, *args, **kwargs)
            answer(response.status_code, response.headers)
        return response


def gate_session(session: requests.Session, limiter: RateLimiter, connections: int) -> None:
    adapter = GatedAdapter(limiter, max_retries=0, pool_maxsize=connections)
    session.mount("http://", adapter)
    session.mount("https://", adapter)


class GatedAsyncTransport(httpx.AsyncBaseTransport):
    """httpx transport for the cloudflare SDK."""

    def __init__(self, limiter: RateLimiter, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.limiter = limiter
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with gated(self.limiter, request.method, request.url.path) as answer:
            response = await self.inner.handle_async_request(request)
            answer(response.status_code, response.headers)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
