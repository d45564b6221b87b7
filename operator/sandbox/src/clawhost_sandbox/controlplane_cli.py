"""`clawhost-sandbox controlplane up|down --dir DIR`: a local control plane for humans and scripts."""

from __future__ import annotations

import argparse
from pathlib import Path

from clawhost_sandbox.controlplane import ControlPlane, ControlPlaneError, stop_detached


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser("up", help="start etcd, kube-apiserver and kube-controller-manager detached")
    up.add_argument("--dir", type=Path, required=True, help="state directory (kubeconfig, logs, PIDs)")
    up.add_argument("--no-controller-manager", action="store_true", help="skip kube-controller-manager")
    up.set_defaults(func=_up)
    down = actions.add_parser("down", help="stop a control plane started with `up`")
    down.add_argument("--dir", type=Path, required=True, help="the directory given to `up`")
    down.set_defaults(func=_down)


def _up(args: argparse.Namespace) -> int:
    directory: Path = args.dir.resolve()
    if (directory / "controlplane.json").exists():
        print(f"a control plane is already running in {directory}; run `controlplane down --dir {args.dir}`")
        return 1
    plane = ControlPlane(directory, controller_manager=not args.no_controller_manager, detached=True)
    try:
        access = plane.start()
    except ControlPlaneError as error:
        print(f"control plane failed to start: {error}")
        return 1
    print(access.kubeconfig)
    return 0


def _down(args: argparse.Namespace) -> int:
    stopped = stop_detached(args.dir.resolve())
    print(f"stopped {len(stopped)} processes" if stopped else "nothing was running")
    return 0
