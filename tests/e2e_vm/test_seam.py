"""The seam follows the rendered user-data: every host it fetches from has a stand-in, and no more.

Fast and always run (part of `make test`): no guest, only the renderer's output.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from openclaw_operator.bootstrap.render import BOOTSTRAP_SCRIPT, BootstrapSettings, render_user_data
from tests.bootstrap.userdata import TOKEN, instance_from_file
from tests.e2e_vm import caddy_internal_ca, seam
from tests.e2e_vm.aptrepo import VendorRepository, site_path, vendor_repositories
from tests.e2e_vm.run import HOSTNAME, render_for_e2e
from tests.e2e_vm.sites import bootstrap_script, fetched_hosts

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ6dGVzdGtleWZvcnRoZWUyZXZtaGFybmVzczAw e2e"


@pytest.mark.parametrize("example", ["minimal.yaml", "full.yaml"])
def test_every_host_the_user_data_fetches_has_a_standin(example: str) -> None:
    user_data = render_user_data(instance_from_file(EXAMPLES / example), BootstrapSettings(), TOKEN)
    assert fetched_hosts(user_data) == set(seam.STANDIN_HOSTS)


def _with_bootstrap_line(user_data: str, line: str) -> str:
    config = yaml.safe_load(user_data)
    for entry in config["write_files"]:
        if entry["path"] == BOOTSTRAP_SCRIPT:
            entry["content"] += line + "\n"
    return "#cloud-config\n" + yaml.safe_dump(config)


def test_a_new_vendor_host_in_the_bootstrap_is_noticed() -> None:
    user_data = render_for_e2e(SSH_KEY, TOKEN)
    changed = _with_bootstrap_line(user_data, "curl -fsSL https://get.example.org/installer | sh")
    assert fetched_hosts(changed) - set(seam.STANDIN_HOSTS) == {"get.example.org"}
    commented = _with_bootstrap_line(user_data, "# see https://docs.example.org/why")
    assert fetched_hosts(commented) == set(seam.STANDIN_HOSTS)


def test_the_vendor_repositories_are_read_from_the_script() -> None:
    repositories = vendor_repositories(bootstrap_script(render_for_e2e(SSH_KEY, TOKEN)))
    assert repositories == [
        VendorRepository(
            "nodesource",
            "https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key",
            "https://deb.nodesource.com/node_24.x",
            "nodistro",
            ("main",),
        ),
        VendorRepository(
            "caddy",
            "https://dl.cloudsmith.io/public/caddy/stable/gpg.key",
            "https://dl.cloudsmith.io/public/caddy/stable/deb/debian",
            "any-version",
            ("main",),
        ),
    ]
    assert site_path(repositories[0].key_url) == Path("deb.nodesource.com/gpgkey/nodesource-repo.gpg.key")


def test_an_unset_script_variable_is_an_error() -> None:
    script = 'add_repository x https://k.example/key "https://r.example/${MISSING} s main"\n'
    with pytest.raises(ValueError, match=r"\$MISSING"):
        vendor_repositories(script)


def test_the_e2e_user_data_is_the_renderers_own() -> None:
    user_data = render_for_e2e(SSH_KEY, TOKEN)
    config = yaml.safe_load(user_data)
    assert config["users"][0]["ssh_authorized_keys"] == [SSH_KEY]
    caddyfile = next(f["content"] for f in config["write_files"] if f["path"] == "/etc/caddy/Caddyfile")
    assert caddyfile.count(HOSTNAME) >= 1 and "local_certs" not in caddyfile


def test_the_image_points_every_standin_host_at_the_forwarded_address() -> None:
    lines = seam.hosts_entries().splitlines()
    assert sorted(line.split()[1] for line in lines) == sorted(seam.STANDIN_HOSTS)
    assert {line.split()[0] for line in lines} == {seam.GUEST_STANDIN_ADDRESS}
    assert seam.guestfwd_rules(4443, 4080) == [
        "guestfwd=tcp:10.0.2.100:443-cmd:socat - TCP:127.0.0.1:4443",
        "guestfwd=tcp:10.0.2.100:80-cmd:socat - TCP:127.0.0.1:4080",
    ]


def test_caddy_runs_the_rendered_caddyfile_under_its_internal_ca() -> None:
    drop_in = seam.IMAGE_FILES["/etc/systemd/system/caddy.service.d/clawhost-e2e.conf"]
    make_config = f"/usr/bin/python3 {seam.CADDY_CONFIG_SCRIPT} /etc/caddy/Caddyfile {seam.CADDY_E2E_CONFIG}"
    assert f"ExecStartPre={make_config}\n" in drop_in and f"ExecReload={make_config}\n" in drop_in
    assert drop_in.count(f"--config {seam.CADDY_E2E_CONFIG}") == 2  # start and reload
    assert seam.IMAGE_FILES[seam.CADDY_CONFIG_SCRIPT] == Path(caddy_internal_ca.__file__).read_text()


@pytest.mark.skipif(shutil.which("caddy") is None, reason="needs caddy (make system-deps)")
def test_the_adapted_caddyfile_keeps_the_rendered_sites_and_uses_the_internal_ca(tmp_path: Path) -> None:
    config = yaml.safe_load(render_for_e2e(SSH_KEY, TOKEN))
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(
        next(f["content"] for f in config["write_files"] if f["path"] == "/etc/caddy/Caddyfile")
    )
    output = tmp_path / "caddy.json"
    caddy_internal_ca.main(str(caddyfile), str(output))
    adapted = json.loads(output.read_text())
    tls = adapted["apps"]["tls"]["automation"]["policies"]
    assert tls and all(policy["issuers"] == [{"module": "internal"}] for policy in tls)
    assert adapted["apps"]["pki"]["certificate_authorities"]["local"]["install_trust"] is False
    server = next(iter(adapted["apps"]["http"]["servers"].values()))
    assert server["protocols"] == ["h1", "h2"]  # the rendered global options survive
    assert any(HOSTNAME in match.get("host", []) for route in server["routes"] for match in route["match"])
    subprocess.run(["caddy", "validate", "--config", str(output)], check=True, capture_output=True)
