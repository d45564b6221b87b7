"""Calls the WHMCS module's functions from Python, one PHP process per call, as WHMCS would call them.

WHMCS's own globals are the recording stand-ins of the PHPUnit bootstrap (whmcs-module/tests/driver.php),
so every answer carries what the module passed to localAPI and logModuleCall.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from tests.whmcs.phpunit_runner import MODULE_DIR

DRIVER = MODULE_DIR / "tests" / "driver.php"


@dataclass(frozen=True)
class ModuleAnswer:
    result: Any
    local_api: list[dict[str, Any]]
    module_log: list[dict[str, Any]]
    activity: list[str]
    usage: dict[str, dict[str, dict[str, int]]]  # server id -> service id -> tblhosting columns written
    html: str | None = None  # the product page WHMCS would show (ClientArea with render=True)

    def local_api_calls(self, command: str) -> list[dict[str, Any]]:
        return [call["arguments"] for call in self.local_api if call["command"] == command]

    def logged_text(self) -> str:
        return json.dumps(self.module_log)


def call_module(
    function: str,
    params: dict[str, Any],
    servers: dict[int, dict[str, Any]] | None = None,
    services: dict[int, dict[int, dict[str, str]]] | None = None,
    post: dict[str, str] | None = None,
    render: bool = False,
) -> ModuleAnswer:
    """One module function; `servers` and `services` are WHMCS's tables for the per-server ones, `post`
    the client-area form that was submitted (WHMCS leaves it in $_POST); `render`: ClientArea's page
    rendered by the real Smarty as well."""
    tables = {"servers": servers or {}, "services": services or {}}
    return _run({"function": function, "params": params, "post": post or {}, "render": render, **tables})


def run_cron_hook(
    servers: dict[int, dict[str, Any]], services: dict[int, dict[int, dict[str, str]]]
) -> ModuleAnswer:
    """The AfterCronJob hook, with WHMCS's server and service tables given as data."""
    return _run({"hook": "AfterCronJob", "servers": servers, "services": services})


def _run(request: dict[str, Any]) -> ModuleAnswer:
    php = shutil.which("php")
    assert php, "php is not installed: run `make system-deps`"
    done = subprocess.run(
        [php, str(DRIVER)], input=json.dumps(request), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"PHP driver failed:\n{done.stdout}\n{done.stderr}"
    answer = json.loads(done.stdout)
    usage = answer["usage"] or {}  # PHP encodes an empty map as []
    return ModuleAnswer(
        answer["result"], answer["localApi"], answer["moduleLog"], answer["activity"], usage, answer["html"]
    )
