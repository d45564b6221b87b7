"""The `openclaw-operator` console script: what a production image runs.

Each subcommand lives with the code it drives; a module named here exposes a configure function
(`configure` unless named) taking an `argparse.ArgumentParser`, which adds its arguments (or its own
subcommands) and sets `func`, a callable taking the parsed namespace and returning an exit code.
The development tools (simulators, local control plane, sandbox) have their own console script,
`clawhost-sandbox`, in the `clawhost_sandbox` package, which the image never installs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Mapping, Sequence

# name -> (module, configure function, help)
Subcommands = Mapping[str, tuple[str, str, str]]

SUBCOMMANDS: Subcommands = {
    "run": ("openclaw_operator.runner", "configure", "run the operator"),
    "bootstrap": (
        "openclaw_operator.bootstrap.cli",
        "configure",
        "show the cloud-init user-data an instance gets",
    ),
    "golden": ("openclaw_operator.golden", "configure", "build golden snapshots (docs/golden-images.md)"),
}


def build_parser(
    prog: str, description: str, subcommands: Subcommands, command: str | None = None
) -> argparse.ArgumentParser:
    """The parser. Only the chosen subcommand's module is imported, so no command breaks another."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, function, help_text) in subcommands.items():
        subparser = commands.add_parser(name, help=help_text, description=help_text)
        if name == command:
            getattr(importlib.import_module(module_name), function)(subparser)
    return parser


def dispatch(prog: str, description: str, subcommands: Subcommands, argv: Sequence[str] | None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in arguments if not a.startswith("-")), None)
    args = build_parser(prog, description, subcommands, command).parse_args(arguments)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch("openclaw-operator", __doc__.splitlines()[0], SUBCOMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
