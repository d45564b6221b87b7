"""The `openclaw-operator` console script.

Each subcommand lives with the code it drives; a module named here exposes
`configure(parser: argparse.ArgumentParser) -> None`, which adds its arguments (or its own
subcommands) and sets `func`, a callable taking the parsed namespace and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("openclaw_operator.runner", "run the operator"),
    "controlplane": (
        "openclaw_operator.sandbox.controlplane_cli",
        "start or stop a local Kubernetes control plane",
    ),
    "sim": ("openclaw_operator.sandbox.sim_cli", "run a Hetzner Cloud or Cloudflare API simulator"),
    "bootstrap": ("openclaw_operator.bootstrap.cli", "show the cloud-init user-data an instance gets"),
    "sandbox": ("openclaw_operator.sandbox.runner", "the whole system on simulated clouds"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser. Only the chosen subcommand's module is imported, so no command breaks another."""
    parser = argparse.ArgumentParser(prog="openclaw-operator", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        subparser = commands.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module_name).configure(subparser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in arguments if not a.startswith("-")), None)
    args = build_parser(command).parse_args(arguments)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
