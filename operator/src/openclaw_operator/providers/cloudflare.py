"""A thin adapter over the official cloudflare SDK (its async client): zones and A/AAAA records.

The SDK's retries are off (`max_retries=0`): a 429 from Cloudflare blocks the token for minutes, far
longer than the SDK would wait, so the limiter in the transport and the reconcile's requeue own it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import cloudflare
import httpx
from cloudflare import AsyncCloudflare
from pydantic import SecretStr

from openclaw_operator.providers.errors import (
    Failure,
    FailureKind,
    Operation,
    classify_cloudflare,
    provider_failure,
)
from openclaw_operator.providers.ratelimit import RateLimiter
from openclaw_operator.providers.transport import GatedAsyncTransport
from openclaw_operator.reconcile.model import RecordObservation, Zone

T = TypeVar("T")
PROVIDER = "cloudflare"
RECORDS_PER_PAGE = 5000  # Cloudflare's maximum: one request per zone in all but huge zones


def record_observation(zone_id: str, record: Any) -> RecordObservation:
    return RecordObservation(
        id=str(record.id),
        zone_id=zone_id,
        name=str(record.name).lower().rstrip("."),
        type=str(record.type),
        content=str(getattr(record, "content", "") or ""),
        proxied=bool(getattr(record, "proxied", False)),
        ttl=int(getattr(record, "ttl", 1) or 1),
        comment=getattr(record, "comment", None),
    )


def record_fields(record: RecordObservation) -> dict[str, Any]:
    return {
        "zone_id": record.zone_id,
        "name": record.name,
        "type": record.type,
        "content": record.content,
        "proxied": record.proxied,
        "ttl": record.ttl,
        "comment": record.comment or "",
    }


class CloudflareProvider:
    def __init__(
        self, token: SecretStr, base_url: str, limiter: RateLimiter, concurrency: int, timeout: float
    ) -> None:
        self.limiter = limiter
        self._slots = asyncio.Semaphore(concurrency)
        transport = GatedAsyncTransport(limiter)
        self._client = AsyncCloudflare(
            api_token=token.get_secret_value(),
            base_url=base_url,
            max_retries=0,
            timeout=timeout,
            http_client=httpx.AsyncClient(transport=transport, timeout=timeout),
        )

    async def close(self) -> None:
        await self._client.close()

    async def _call(self, operation: str, kind: Operation, fn: Callable[[], Awaitable[T]]) -> T:
        async with self._slots:
            try:
                return await fn()
            except cloudflare.APIStatusError as exc:
                codes = tuple(int(error.code) for error in exc.errors if error.code is not None)
                error_kind, slow = classify_cloudflare(codes, exc.status_code)
                message = "; ".join(error.message for error in exc.errors if error.message) or exc.message
                code = str(codes[0]) if codes else str(exc.status_code)
                raise provider_failure(PROVIDER, operation, error_kind, slow, code, message) from None
            except cloudflare.APIConnectionError as exc:
                # The SDK wraps whatever the transport raised; a refusal by our limiter is not an error.
                if isinstance(exc.__cause__, Failure):
                    raise exc.__cause__ from None
                raise provider_failure(
                    PROVIDER, operation, FailureKind.RETRYING, False, "connection", type(exc).__name__
                ) from None

    async def zone(self, name: str) -> Zone | None:
        page = await self._call("list_zones", Operation.READ, lambda: self._client.zones.list(name=name))
        for found in page.result:
            if str(found.name).lower() == name:
                return Zone(id=str(found.id), name=name)
        return None

    async def records(self, zone: Zone) -> list[RecordObservation]:
        """Every record in the zone, ours and others' (ownership and conflicts are decided by the planner)."""
        found: list[RecordObservation] = []
        page_number = last_page = 1
        while page_number <= last_page:
            fetch = functools.partial(
                self._client.dns.records.list, zone_id=zone.id, page=page_number, per_page=RECORDS_PER_PAGE
            )
            page = await self._call("list_records", Operation.READ, fetch)
            found.extend(record_observation(zone.id, record) for record in page.result)
            # Cloudflare may serve fewer records per page than asked for, so a short page is not the last:
            # `result_info.total_pages` says how many there are (the SDK's model leaves it as an extra).
            # Without it, read on until an empty page, as the SDK's own iteration does.
            total_pages = getattr(page.result_info, "total_pages", None)
            last_page = int(total_pages) if total_pages is not None else page_number + bool(page.result)
            page_number += 1
        return found

    async def create_record(self, record: RecordObservation) -> RecordObservation:
        fields = record_fields(record)
        created = await self._call(
            "create_record",
            Operation.CREATE,
            lambda: self._client.dns.records.create(**fields),
        )
        return record_observation(record.zone_id, created)

    async def update_record(self, record: RecordObservation) -> RecordObservation:
        """A full overwrite (PUT), so a field edited by hand cannot survive a repair."""
        fields = record_fields(record)
        updated = await self._call(
            "update_record",
            Operation.UPDATE,
            lambda: self._client.dns.records.update(record.id, **fields),
        )
        return record_observation(record.zone_id, updated)

    async def delete_record(self, record: RecordObservation) -> None:
        try:
            await self._call(
                "delete_record",
                Operation.DELETE,
                lambda: self._client.dns.records.delete(record.id, zone_id=record.zone_id),
            )
        except Failure as exc:
            if exc.kind != FailureKind.NOT_FOUND:
                raise
