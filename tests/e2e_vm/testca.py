"""A test CA and one server certificate for every stand-in host, made with the openssl command line.

The image trusts the CA; the stand-ins present the certificate. Both live in the e2e cache, never in the
repository, and are made once per cache key.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SeamCA:
    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_seam_ca(directory: Path, server_names: Iterable[str], *, days: int = 3650) -> SeamCA:
    """A CA (`ca.crt`) and a server certificate (`server.crt`/`server.key`) for `server_names`.

    Names that parse as IPv4 addresses become IP subject alternative names (the fast tests use 127.0.0.1).
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca = SeamCA(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    ca_key = directory / "ca.key"
    names = sorted(set(server_names))
    alt_names = ",".join(("IP:" if _is_ipv4(name) else "DNS:") + name for name in names)
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", ca_key, "-out", ca.ca_cert, "-days", str(days), "-subj", "/CN=clawhost e2e test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    request = directory / "server.csr"
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", ca.server_key, "-out", request, "-subj", f"/CN={names[0]}",
    )  # fmt: skip
    extensions = directory / "server.ext"
    extensions.write_text(
        f"subjectAltName={alt_names}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        encoding="utf-8",
    )
    _openssl(
        "x509", "-req", "-in", request, "-CA", ca.ca_cert, "-CAkey", ca_key, "-CAcreateserial",
        "-out", ca.server_cert, "-days", str(days), "-extfile", extensions,
    )  # fmt: skip
    return ca


def _is_ipv4(name: str) -> bool:
    parts = name.split(".")
    return len(parts) == 4 and all(part.isdigit() for part in parts)


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)
