"""The gateway token appears once in the user-data: inside the root-only EnvironmentFile, nowhere else
(not in any other file, not in a command cloud-init runs or logs) and never in an error message."""

from __future__ import annotations

import re
from typing import Any

import pytest

from openclaw_operator.bootstrap.render import (
    BOOTSTRAP_SCRIPT,
    TOKEN_FILE,
    TOKEN_VARIABLE,
    BootstrapInputError,
    BootstrapSettings,
)
from tests.bootstrap.userdata import TOKEN, instance, render, unit_directives, unit_value

# Every cloud-init key that runs commands (their text ends up in cloud-init's scripts and logs).
COMMAND_KEYS = ("runcmd", "bootcmd", "ansible", "puppet", "chef", "salt_minion", "phone_home", "power_state")


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings_in(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings_in(item)]
    return []


@pytest.mark.parametrize("token", [TOKEN, "A" * 16, "x" * 512, "aB3.d_e~f+g/h=i-jKLMNOP"])
def test_token_only_in_the_root_only_environment_file(token: str) -> None:
    user_data = render(instance(sshKeys=[]), token=token)
    assert user_data.text.count(token) == 1
    holders = [entry for entry in user_data.config["write_files"] if token in entry["content"]]
    assert [entry["path"] for entry in holders] == [TOKEN_FILE]
    (entry,) = holders
    assert entry["content"] == f"{TOKEN_VARIABLE}={token}\n"
    assert entry["owner"] == "root:root"
    assert entry["permissions"] == "0600"
    assert not entry.get("defer"), "written in the first stage, before any unprivileged process exists"
    assert not any(token in text for key in COMMAND_KEYS for text in strings_in(user_data.config.get(key)))
    other_keys = {key: value for key, value in user_data.config.items() if key != "write_files"}
    assert not any(token in text for text in strings_in(other_keys))


def test_scripts_never_expand_the_token() -> None:
    user_data = render()
    for path in (BOOTSTRAP_SCRIPT, "/usr/local/sbin/openclaw-admin"):
        script = user_data.content(path)
        assert f"${TOKEN_VARIABLE}" not in script and f"${{{TOKEN_VARIABLE}}}" not in script
        # Nothing that would print the environment or trace commands into cloud-init's log.
        assert not re.search(r"^\s*(env|printenv|export -p|set -x|set -o xtrace)\s*$", script, re.M)
    # The gateway gets the token from systemd, which reads the file as root before dropping privileges.
    unit = unit_directives(user_data.content("/etc/systemd/system/openclaw-gateway.service"))
    assert unit_value(unit, "Service", "EnvironmentFile") == TOKEN_FILE


@pytest.mark.parametrize(
    "bad_token",
    [
        "short-token",
        "",
        "has space in the middle of it",
        'quote"inside-the-token-x',
        "new\nline-in-the-token",
        "é" * 20,
    ],
)
def test_unusable_token_is_refused_without_quoting_it(bad_token: str) -> None:
    with pytest.raises(BootstrapInputError) as refused:
        render(token=bad_token)
    message = str(refused.value)
    assert "gateway token must be" in message
    if bad_token:
        assert bad_token not in message


def test_no_error_message_quotes_the_token() -> None:
    failures = [
        lambda: render(instance(openclawVersion="2026.1.1")),
        lambda: render(instance(hostname="bad_host")),
        lambda: render(settings=BootstrapSettings(min_openclaw_version="2027.1.1")),
    ]
    for failure in failures:
        with pytest.raises(ValueError) as refused:
            failure()
        assert TOKEN not in str(refused.value)
