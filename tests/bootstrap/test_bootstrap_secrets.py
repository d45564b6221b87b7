"""The gateway token appears once in the user-data: inside the root-only EnvironmentFile, nowhere else
(not in any other file, not in a command cloud-init runs or logs) and never in an error message."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
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


PRINTABLE_SPECIALS = "".join(chr(code) for code in range(0x21, 0x7F) if not chr(code).isalnum())


def systemd_environment_value(line: str) -> str:
    """One KEY="VALUE" line read the way systemd (v240 and later: Debian 12, Ubuntu 24.04, Debian 13) reads
    an EnvironmentFile, after src/basic/env-file.c: inside double quotes a backslash makes ", \\, ` and $
    literal and is kept before any other character."""
    _, _, quoted = line.rstrip("\n").partition("=")
    assert quoted.startswith('"') and quoted.endswith('"')
    value, chars = [], iter(quoted[1:-1])
    for char in chars:
        if char == "\\":
            following = next(chars)
            value.append(following if following in '"\\`$' else "\\" + following)
        else:
            assert char != '"', "an unescaped quote would end the value early"
            value.append(char)
    return "".join(value)


def shell_environment_value(content: str, shell: str, tmp_path: Path) -> str:
    """The value `openclaw-admin` gets: the file `.`-sourced with `set -a` by a real shell."""
    path = tmp_path / "gateway.env"
    path.write_text(content)
    script = f'set -a; . "$1"; printf %s "${TOKEN_VARIABLE}"'
    result = subprocess.run(
        [shell, "-c", script, shell, str(path)], capture_output=True, text=True, check=True
    )
    return result.stdout


@pytest.mark.parametrize(
    "token",
    [TOKEN, "A" * 16, "x" * 512, "aB3.d_e~f+g/h=i-jKLMNOP", PRINTABLE_SPECIALS, 'tr\\"icky$HOME`id`\\'],
)
def test_token_only_in_the_root_only_environment_file(token: str, tmp_path: Path) -> None:
    user_data = render(instance(sshKeys=[]), token=token)
    holders = [entry for entry in user_data.config["write_files"] if token in entry["content"]]
    entry = user_data.file(TOKEN_FILE)
    assert holders in ([entry], [])  # [] when escaping changed the token's spelling inside the file
    assert entry["owner"] == "root:root"
    assert entry["permissions"] == "0600"
    assert not entry.get("defer"), "written in the first stage, before any unprivileged process exists"
    line = entry["content"]
    assert line.startswith(f"{TOKEN_VARIABLE}=") and line.count("\n") == 1
    # Both readers of the file get exactly the token back.
    assert systemd_environment_value(line) == token
    assert shell_environment_value(line, "sh", tmp_path) == token
    assert shell_environment_value(line, "bash", tmp_path) == token
    others = [e["content"] for e in user_data.config["write_files"] if e["path"] != TOKEN_FILE]
    assert not any(token in text for text in others)
    assert not any(token in text for key in COMMAND_KEYS for text in strings_in(user_data.config.get(key)))
    other_keys = {key: value for key, value in user_data.config.items() if key != "write_files"}
    assert not any(token in text for text in strings_in(other_keys))
    assert user_data.text.count(token) <= 1


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
        "tab\tinside-the-token-xxxxx",
        "x" * 513,
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
