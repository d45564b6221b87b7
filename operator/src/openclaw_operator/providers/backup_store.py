"""The off-server backup store: one S3-compatible bucket, per operator (docs/backups.md).

The operator never moves archive bytes. It hands the server's agent a presigned PUT (backup) or GET
(restore) URL, and itself only looks at, lists and deletes objects. So the adapter needs four small
requests and a URL signer, and the signer is our own AWS Signature Version 4 (header auth and query
presigning, `sigv4_*` below, about eighty lines). boto3/botocore would bring their service-model
machinery and a second HTTP stack for four requests (issue 16 budgets 250 MB RSS at 5,000 instances);
this module adds 1.5 MB to a process that has aiohttp (`python -m bench.backup_store`). The
signer is proven honest by a real S3 server (versitygw, tests/s3) verifying every signature it makes.
HTTP goes through aiohttp like the app probe (providers/app.py); every request is counted in
`clawhost_provider_requests_total{provider="s3"}`. Objects are addressed path-style
(`<endpoint>/<bucket>/<key>`), which every S3-compatible service accepts.

Errors are `Failure`s: a lost connection or a 5xx is RETRYING; an answer that only an administrator can
change (AccessDenied, NoSuchBucket, a wrong key or secret) is STALLED with S3's own code and message.
Only S3's `Code` and `Message` are ever quoted: its error bodies may also carry the signature sent and
the string it signed, and a presigned URL is a bearer credential, so neither appears in any message.
"""

from __future__ import annotations

import hashlib
import hmac
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import aiohttp
from yarl import URL

from openclaw_operator import metrics
from openclaw_operator.providers.errors import Failure, FailureKind

PROVIDER = "s3"
SHA256_HEADER = "x-amz-meta-sha256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's own limit
TIMEOUT = 30.0
# Answers only an administrator fixes (the credentials Secret, the bucket): retrying soon cannot help.
REFUSING_CODES = frozenset(
    {
        "AccessDenied",
        "NoSuchBucket",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AllAccessDisabled",
        "AccountProblem",
        "InvalidBucketName",
    }
)
_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
# _XML_NOTE: the bodies parsed are the configured store's own answers; ElementTree never fetches external
# entities and the expat it runs on (>= 2.4.1) caps entity expansion, so defusedxml would add nothing.


@dataclass(frozen=True)
class StoredBackup:
    key: str
    size_bytes: int
    last_modified: datetime
    sha256: str | None  # from object metadata x-amz-meta-sha256, if present


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    region: str

    def __repr__(self) -> str:  # never print the secret by accident
        return f"Credentials({self.access_key!r}, ***, {self.region!r})"


# --- AWS Signature Version 4 (docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html) ---------
def _uri_encode(text: str, safe: str = "-_.~") -> str:
    return quote(text, safe=safe)


def _canonical_query(params: Mapping[str, str]) -> str:
    pairs = sorted((_uri_encode(k), _uri_encode(v)) for k, v in params.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


def _scope(when: datetime, region: str) -> str:
    return f"{when:%Y%m%d}/{region}/s3/aws4_request"


def _signature(
    creds: Credentials,
    when: datetime,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_hash: str,
) -> tuple[str, str]:
    """(signed header names, hex signature) for one request; `headers` keys are lower case."""
    names = sorted(headers)
    canonical = "\n".join(
        [
            method,
            _uri_encode(path, safe="-_.~/"),
            _canonical_query(query),
            "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in names),
            ";".join(names),
            payload_hash,
        ]
    )
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            f"{when:%Y%m%dT%H%M%SZ}",
            _scope(when, creds.region),
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + creds.secret_key).encode()
    for part in (f"{when:%Y%m%d}", creds.region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return ";".join(names), hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def sigv4_headers(
    creds: Credentials,
    method: str,
    url: str,
    query: Mapping[str, str] | None = None,
    when: datetime | None = None,
) -> dict[str, str]:
    """The headers that authenticate a body-less request (HEAD, GET, DELETE) to `url`."""
    when = when or datetime.now(UTC)
    headers = {
        "host": urlsplit(url).netloc,
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": f"{when:%Y%m%dT%H%M%SZ}",
    }
    signed, signature = _signature(
        creds, when, method, urlsplit(url).path, query or {}, headers, EMPTY_SHA256
    )
    credential = f"{creds.access_key}/{_scope(when, creds.region)}"
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders={signed}, Signature={signature}"
    )
    del headers["host"]  # the HTTP client sends the same value itself
    return headers


def sigv4_presign(
    creds: Credentials,
    method: str,
    url: str,
    expires_seconds: int,
    signed_headers: Mapping[str, str] | None = None,
    when: datetime | None = None,
) -> str:
    """A URL good for one kind of request until it expires; whoever sends it must also send exactly
    `signed_headers` (lower-case names)."""
    if not 1 <= expires_seconds <= MAX_PRESIGN_SECONDS:
        raise ValueError(f"a presigned URL lives 1 s to 7 days, not {expires_seconds} s")
    when = when or datetime.now(UTC)
    headers = {"host": urlsplit(url).netloc, **(signed_headers or {})}
    query = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{creds.access_key}/{_scope(when, creds.region)}",
        "X-Amz-Date": f"{when:%Y%m%dT%H%M%SZ}",
        "X-Amz-Expires": str(expires_seconds),
        "X-Amz-SignedHeaders": ";".join(sorted(headers)),
    }
    _, signature = _signature(creds, when, method, urlsplit(url).path, query, headers, UNSIGNED_PAYLOAD)
    return f"{url}?{_canonical_query(query)}&X-Amz-Signature={signature}"


# --- the store -------------------------------------------------------------------------------------
class BackupStore:
    def __init__(
        self,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        prefix: str = "",
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.bucket = bucket
        self.creds = Credentials(access_key, secret_key, region)
        # "" or "<something>/": keys read the same whether or not the setting ended in a slash.
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.page_size = 1000  # S3's own maximum per ListObjectsV2 page
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BackupStore | None:
        """CLAWHOST_BACKUP_S3_*; the key and secret from mounted Secret files. None when no store is
        configured (no endpoint or bucket): backups are then off."""
        endpoint = env.get("CLAWHOST_BACKUP_S3_ENDPOINT", "").strip()
        bucket = env.get("CLAWHOST_BACKUP_S3_BUCKET", "").strip()
        if not endpoint or not bucket:
            return None
        secrets = []
        for var in ("CLAWHOST_BACKUP_S3_ACCESS_KEY_FILE", "CLAWHOST_BACKUP_S3_SECRET_KEY_FILE"):
            path = env.get(var, "").strip()
            if not path:
                raise ValueError(f"{var} is required when CLAWHOST_BACKUP_S3_ENDPOINT is set")
            try:
                value = Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"{var}: cannot read {path} ({type(exc).__name__})") from None
            if not value:
                raise ValueError(f"{var}: {path} is empty")
            secrets.append(value)
        return cls(
            endpoint,
            bucket,
            secrets[0],
            secrets[1],
            region=env.get("CLAWHOST_BACKUP_S3_REGION", "").strip() or "us-east-1",
            prefix=env.get("CLAWHOST_BACKUP_S3_PREFIX", ""),
        )

    # --- naming ---------------------------------------------------------------------------------------
    def instance_prefix(self, namespace: str, name: str, uid: str) -> str:
        """Everything one instance owns; the uid keeps a recreated namesake's backups apart."""
        return f"{self.prefix}instances/{namespace}/{name}/{uid}/"

    def key_for(self, namespace: str, name: str, uid: str, backup_id: str) -> str:
        return f"{self.instance_prefix(namespace, name, uid)}{backup_id}.tar.gz"

    def _url(self, key: str = "") -> str:
        return f"{self.endpoint}/{self.bucket}/{key}" if key else f"{self.endpoint}/{self.bucket}"

    # --- presigned URLs (bearer credentials: hand them only to the agent, as a channel secret) --------
    def presign_put(self, key: str, sha256: str | None = None, expires_seconds: int = 3600) -> str:
        """With `sha256` the URL also signs the x-amz-meta-sha256 header: the uploader must send that
        exact value, so the object's recorded checksum is the one the operator was told."""
        headers = {SHA256_HEADER: sha256} if sha256 else None
        return sigv4_presign(self.creds, "PUT", self._url(key), expires_seconds, headers)

    def presign_get(self, key: str, expires_seconds: int = 3600) -> str:
        return sigv4_presign(self.creds, "GET", self._url(key), expires_seconds)

    # --- requests -------------------------------------------------------------------------------------
    async def head(self, key: str) -> StoredBackup | None:
        status, headers, _ = await self._send("HEAD", key)
        if status == 404:
            return None
        return StoredBackup(
            key=key,
            size_bytes=int(headers.get("Content-Length", "0")),
            last_modified=_http_date(headers.get("Last-Modified", "")),
            sha256=headers.get(SHA256_HEADER) or None,
        )

    async def list(self, prefix: str) -> list[StoredBackup]:
        """Every object under `prefix`, following ListObjectsV2's continuation tokens. Listing returns
        no metadata, so `sha256` is None here; `head` one object for it."""
        found: list[StoredBackup] = []
        token: str | None = None
        while True:
            query = {"list-type": "2", "prefix": prefix, "max-keys": str(self.page_size)}
            if token:
                query["continuation-token"] = token
            status, _, body = await self._send("GET", "", query)
            if status == 404:  # NoSuchBucket is raised by _send; a bare 404 is an empty listing
                return found
            root = ET.fromstring(body)  # noqa: S314 (see _XML_NOTE)
            for item in root.iter(f"{_S3_NS}Contents"):
                found.append(
                    StoredBackup(
                        key=_text(item, "Key"),
                        size_bytes=int(_text(item, "Size") or 0),
                        last_modified=datetime.fromisoformat(_text(item, "LastModified")),
                        sha256=None,
                    )
                )
            token = _text(root, "NextContinuationToken") or None
            if _text(root, "IsTruncated") != "true" or token is None:
                return found

    async def delete(self, key: str) -> None:
        """Idempotent: S3 answers 204 for a key that is already gone."""
        await self._send("DELETE", key)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> BackupStore:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _send(
        self, method: str, key: str, query: Mapping[str, str] | None = None
    ) -> tuple[int, Mapping[str, str], bytes]:
        url = self._url(key)
        operation = f"{method} /{{bucket}}" + ("/{key}" if key else "")
        headers = sigv4_headers(self.creds, method, url, query)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        target = f"{url}?{_canonical_query(query)}" if query else url
        try:
            # The query is already canonically encoded; aiohttp must not encode it again.
            async with self._session.request(
                method, URL(target, encoded=True), headers=headers, allow_redirects=False
            ) as response:
                body = await response.read()
                status, answer = response.status, response.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            metrics.PROVIDER_REQUESTS.labels(PROVIDER, operation, "0").inc()
            raise Failure(
                FailureKind.RETRYING,
                "BackupStoreUnreachable",
                f"the backup store at {self.endpoint} did not answer {method}: {type(exc).__name__}",
            ) from None
        metrics.PROVIDER_REQUESTS.labels(PROVIDER, operation, str(status)).inc()
        if status < 300 or (status == 404 and method == "HEAD"):
            return status, answer, body
        code, message = _s3_error(body, status)
        if status == 404 and code == "NoSuchKey":
            return status, answer, body
        if method == "HEAD" and status in (400, 401, 403):
            code = code or ("AccessDenied" if status == 403 else "BadRequest")  # HEAD answers have no body
        raise _failure(method, key or self.bucket, status, code, message)


def _failure(method: str, what: str, status: int, code: str, message: str) -> Failure:
    text = f"the backup store refused {method} {what} ({code or status}): {message or 'no message'}"
    if code in REFUSING_CODES or status in (401, 403) or (status == 404 and code == "NoSuchBucket"):
        return Failure(FailureKind.STALLED, "BackupStoreRejected", text, slow=True, code=code)
    if status == 429 or status >= 500:
        return Failure(FailureKind.RETRYING, "BackupStoreRetrying", text, code=code)
    return Failure(FailureKind.STALLED, "BackupStoreRejected", text, code=code)


def _s3_error(body: bytes, status: int) -> tuple[str, str]:
    """S3's `Code` and `Message` only (the body may also hold the signature sent)."""
    try:
        root = ET.fromstring(body)  # noqa: S314 (see _XML_NOTE)
    except ET.ParseError:
        return "", f"HTTP {status}"
    return _text(root, "Code"), _text(root, "Message")[:300]


def _text(element: ET.Element, name: str) -> str:
    found = element.find(f"{_S3_NS}{name}")
    if found is None:
        found = element.find(name)  # error bodies carry no namespace
    return (found.text or "") if found is not None else ""


def _http_date(value: str) -> datetime:
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return datetime.fromtimestamp(0, UTC)
