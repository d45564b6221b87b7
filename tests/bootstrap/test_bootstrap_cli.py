"""`openclaw-operator bootstrap render`: prints the user-data with the token hidden unless asked, and
reads the token from a file or the Secret in the same YAML stream."""

from __future__ import annotations

import argparse
import base64
import io
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from openclaw_operator.bootstrap import cli
from openclaw_operator.bootstrap.render import TOKEN_FILE
from tests.bootstrap.userdata import REPO_ROOT, parse

EXAMPLE_TOKEN = "replace-me-with-a-long-random-token-bob"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="openclaw-operator bootstrap")
    cli.configure(parser)
    args = parser.parse_args(list(argv))
    code = args.func(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def token_line(user_data: str) -> str:
    return str(parse(user_data).file(TOKEN_FILE)["content"])


def write_stream(path: Path, *documents: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump_all(documents))
    return path


def instance_doc(name: str = "claw", **spec: object) -> dict[str, object]:
    body = {"hostname": f"{name}.example.com", "gatewayTokenSecretRef": {"name": f"{name}-gw"}, **spec}
    return {
        "apiVersion": "clawhost.dev/v1alpha1",
        "kind": "OpenClawInstance",
        "metadata": {"name": name},
        "spec": body,
    }


def test_token_is_a_placeholder_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "render", "-f", str(REPO_ROOT / "examples" / "full.yaml"))
    assert code == 0, err
    assert EXAMPLE_TOKEN not in out
    assert token_line(out) == f'OPENCLAW_GATEWAY_TOKEN="{cli.TOKEN_PLACEHOLDER}"\n'
    assert "https://claw.bob.example.com" in out


def test_show_secrets_reads_the_secret_in_the_stream(capsys: pytest.CaptureFixture[str]) -> None:
    # full.yaml's Secret uses stringData and a non-default key (gateway-token).
    code, out, _ = run(capsys, "render", "-f", str(REPO_ROOT / "examples" / "full.yaml"), "--show-secrets")
    assert code == 0
    assert token_line(out) == f'OPENCLAW_GATEWAY_TOKEN="{EXAMPLE_TOKEN}"\n'


def test_show_secrets_decodes_base64_data(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    token = "from-base64-data-0123456789"
    secret = {
        "kind": "Secret",
        "metadata": {"name": "claw-gw"},
        "data": {"token": base64.b64encode(token.encode()).decode()},
    }
    path = write_stream(tmp_path / "i.yaml", secret, instance_doc())
    code, out, _ = run(capsys, "render", "-f", str(path), "--show-secrets")
    assert code == 0
    assert token_line(out) == f'OPENCLAW_GATEWAY_TOKEN="{token}"\n'


def test_token_file_wins_over_the_secret(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-the-token-file-0123456789\n")
    args = (
        "-f",
        str(REPO_ROOT / "examples" / "full.yaml"),
        "--show-secrets",
        "--token-file",
        str(tmp_path / "token"),
    )
    code, out, _ = run(capsys, "render", *args)
    assert code == 0
    assert token_line(out) == 'OPENCLAW_GATEWAY_TOKEN="from-the-token-file-0123456789"\n'
    assert EXAMPLE_TOKEN not in out


def test_show_secrets_without_a_source_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_stream(tmp_path / "i.yaml", instance_doc())
    code, out, err = run(capsys, "render", "-f", str(path), "--show-secrets")
    assert (code, out) == (1, "")
    assert "no --token-file and no Secret claw-gw" in err


def test_secret_without_the_key_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    secret = {"kind": "Secret", "metadata": {"name": "claw-gw"}, "stringData": {"other": "x" * 20}}
    path = write_stream(tmp_path / "i.yaml", secret, instance_doc())
    code, _, err = run(capsys, "render", "-f", str(path), "--show-secrets")
    assert code == 1 and "Secret claw-gw has no key token" in err


def test_several_instances_need_a_name(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_stream(tmp_path / "i.yaml", instance_doc("one"), instance_doc("two"))
    code, _, err = run(capsys, "render", "-f", str(path))
    assert code == 1 and "found 2; choose one with --name" in err
    code, out, _ = run(capsys, "render", "-f", str(path), "--name", "two")
    assert code == 0 and "https://two.example.com" in out


def test_unsafe_version_is_refused_with_a_message(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_stream(tmp_path / "i.yaml", instance_doc(openclawVersion="2026.1.29"))
    code, out, err = run(capsys, "render", "-f", str(path))
    assert (code, out) == (1, "")
    assert "OpenClaw 2026.1.29 is older than the minimum safe release 2026.7.1" in err


def test_default_version_comes_from_the_flag_or_the_environment(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_stream(tmp_path / "i.yaml", instance_doc())
    _, out, _ = run(capsys, "render", "-f", str(path), "--default-version", "2026.8.2")
    assert "OPENCLAW_VERSION=2026.8.2\n" in out
    monkeypatch.setenv("CLAWHOST_DEFAULT_OPENCLAW_VERSION", "2026.8.1")
    _, out, _ = run(capsys, "render", "-f", str(path))
    assert "OPENCLAW_VERSION=2026.8.1\n" in out
    code, _, err = run(capsys, "render", "-f", str(path), "--min-version", "2026.9.1")
    assert code == 1 and "OpenClaw 2026.8.1 is older than the minimum safe release 2026.9.1" in err


def test_reads_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(yaml.safe_dump(instance_doc("piped"))))
    code, out, _ = run(capsys, "render", "-f", "-")
    assert code == 0 and "https://piped.example.com" in out


def test_help_documents_the_token_sources(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run(capsys, "render", "--help")
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--show-secrets" in help_text and "--token-file" in help_text
    assert "spec.gatewayTokenSecretRef" in help_text and cli.TOKEN_PLACEHOLDER in help_text


def test_the_console_script_wires_the_subcommand() -> None:
    example = REPO_ROOT / "examples" / "minimal.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "openclaw_operator.cli", "bootstrap", "render", "-f", str(example)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert token_line(result.stdout) == f'OPENCLAW_GATEWAY_TOKEN="{cli.TOKEN_PLACEHOLDER}"\n'
    assert "replace-me-with-a-long-random-token-alice" not in result.stdout
