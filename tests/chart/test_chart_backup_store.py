"""The chart's backup store settings: off by default; set, the two S3 credentials are Secret keys mounted as
files, and the variables the operator and its store read point at them."""

from __future__ import annotations

from pathlib import Path

from openclaw_operator.config import ENV_FIELDS, load_config
from tests.chart.chartkit import container_env, only, render

STORE = [
    "managedZones={example.com}",
    "backupStore.endpoint=https://s3.example.net",
    "backupStore.bucket=clawhost-backups",
    "backupStore.region=eu-central",
    "backupStore.prefix=prod/",
    "backupStore.existingSecret=backup-creds",
    "backupStore.finalRetentionDays=14",
]


def test_no_store_by_default_and_no_credentials_mounted() -> None:
    deployment = only(render(sets=["managedZones={example.com}"]), "Deployment")
    env = container_env(deployment)
    assert not any(name.startswith("CLAWHOST_BACKUP_S3_") for name in env)
    assert env["CLAWHOST_BACKUP_FINAL_RETENTION_DAYS"] == "30"
    assert "backup-store" not in {v["name"] for v in deployment["spec"]["template"]["spec"]["volumes"]}


def test_a_store_mounts_its_credentials_as_files(tmp_path: Path) -> None:
    deployment = only(render(sets=STORE), "Deployment")
    env = container_env(deployment)
    pod = deployment["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "backup-store")
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "backup-store")
    assert volume["secret"]["secretName"] == "backup-creds" and mount["readOnly"] is True
    assert {i["key"] for i in volume["secret"]["items"]} == {"access-key", "secret-key"}
    assert (env["CLAWHOST_BACKUP_S3_ENDPOINT"], env["CLAWHOST_BACKUP_S3_BUCKET"]) == (
        "https://s3.example.net",
        "clawhost-backups",
    )
    assert (env["CLAWHOST_BACKUP_S3_REGION"], env["CLAWHOST_BACKUP_S3_PREFIX"]) == ("eu-central", "prod/")
    for var, key in (("ACCESS_KEY", "access-key"), ("SECRET_KEY", "secret-key")):
        assert env[f"CLAWHOST_BACKUP_S3_{var}_FILE"] == f"{mount['mountPath']}/{key}"
    assert not any(env[name].startswith("AKIA") for name in env)  # values never in the environment
    # The operator's own settings parse: the variables of the store's are read by the store itself.
    operator_env = {k: v for k, v in env.items() if k in ENV_FIELDS}
    tokens = tmp_path / "token"
    tokens.write_text("t\n")
    config = load_config(
        {**operator_env, "HCLOUD_TOKEN_FILE": str(tokens), "CLOUDFLARE_API_TOKEN_FILE": str(tokens)}
    )
    assert config.backup_final_retention_days == 14
    assert config.final_backup_timeout_seconds == 600
