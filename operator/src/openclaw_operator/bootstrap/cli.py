"""`openclaw-operator bootstrap render`: print the user-data an instance's server would get, so an operator
can review exactly what runs there. The gateway token is replaced by a placeholder unless --show-secrets."""

from __future__ import annotations

import argparse
import base64
import binascii
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from openclaw_operator import api

from .render import render_user_data
from .settings import (
    DEFAULT_OPENCLAW_VERSION,
    MIN_OPENCLAW_VERSION,
    BootstrapSettings,
)

# Passes the renderer's token check, and says what it stands for.
TOKEN_PLACEHOLDER = "REDACTED-GATEWAY-TOKEN"  # noqa: S105 - a placeholder, not a credential

_SECRETS_HELP = (
    f"The gateway token is replaced by {TOKEN_PLACEHOLDER} unless --show-secrets is given. Then the token "
    "is read from --token-file if given, otherwise from the Secret named by spec.gatewayTokenSecretRef in "
    "the same YAML stream (stringData or base64 data, key spec.gatewayTokenSecretRef.key)."
)


class _UsageError(Exception):
    """Bad input to the command: reported on stderr without a traceback."""


def configure(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="bootstrap_command", required=True, metavar="COMMAND")
    render = commands.add_parser(
        "render",
        help="print the cloud-init user-data for an instance",
        description="Print the cloud-init user-data an OpenClawInstance's server gets.",
        epilog=_SECRETS_HELP,
    )
    render.add_argument(
        "-f", "--filename", required=True, type=Path, help="YAML file with the instance ('-' for stdin)"
    )
    render.add_argument("--name", help="which OpenClawInstance, when the file holds several")
    render.add_argument("--show-secrets", action="store_true", help="include the real gateway token")
    render.add_argument(
        "--token-file", type=Path, help="file whose content is the token (with --show-secrets)"
    )
    render.add_argument(
        "--default-version",
        default=os.environ.get("CLAWHOST_DEFAULT_OPENCLAW_VERSION", DEFAULT_OPENCLAW_VERSION),
        help="version installed when spec.openclawVersion is unset "
        "(default: $CLAWHOST_DEFAULT_OPENCLAW_VERSION or %(default)s)",
    )
    render.add_argument(
        "--min-version",
        default=os.environ.get("CLAWHOST_MIN_OPENCLAW_VERSION", MIN_OPENCLAW_VERSION),
        help="oldest version accepted (default: $CLAWHOST_MIN_OPENCLAW_VERSION or %(default)s)",
    )
    render.set_defaults(func=run_render)


def run_render(args: argparse.Namespace) -> int:
    try:
        documents = _load_documents(args.filename)
        instance = _pick_instance(documents, args.name)
        token = _token(args, documents, instance) if args.show_secrets else TOKEN_PLACEHOLDER
        settings = BootstrapSettings(
            default_openclaw_version=args.default_version, min_openclaw_version=args.min_version
        )
        user_data = render_user_data(instance, settings, token)
    except (_UsageError, ValueError, OSError, yaml.YAMLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(user_data)
    return 0


def _load_documents(path: Path) -> list[dict[str, Any]]:
    text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]


def _pick_instance(documents: Iterable[dict[str, Any]], name: str | None) -> api.OpenClawInstance:
    bodies = [doc for doc in documents if doc.get("kind") == api.KIND]
    if name is not None:
        bodies = [body for body in bodies if (body.get("metadata") or {}).get("name") == name]
    if len(bodies) != 1:
        which = f" named {name!r}" if name else ""
        hint = "" if name or not bodies else "; choose one with --name"
        raise _UsageError(f"expected one {api.KIND}{which}, found {len(bodies)}{hint}")
    return api.OpenClawInstance.from_body(bodies[0])


def _token(
    args: argparse.Namespace, documents: Iterable[dict[str, Any]], instance: api.OpenClawInstance
) -> str:
    if args.token_file is not None:
        return Path(args.token_file).read_text(encoding="utf-8").strip()
    ref = instance.spec.gateway_token_secret_ref
    for doc in documents:
        metadata = doc.get("metadata") or {}
        if doc.get("kind") != "Secret" or metadata.get("name") != ref.name:
            continue
        if ref.key in (doc.get("stringData") or {}):
            return str(doc["stringData"][ref.key])
        if ref.key in (doc.get("data") or {}):
            try:
                return base64.b64decode(doc["data"][ref.key], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise _UsageError(f"Secret {ref.name} key {ref.key} is not valid base64 text") from None
        raise _UsageError(f"Secret {ref.name} has no key {ref.key}")
    raise _UsageError(f"--show-secrets: no --token-file and no Secret {ref.name} in the file")
