# Two commands for a newcomer: `make sandbox` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.installed
PY_DIRS := operator tests $(wildcard bench)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

system-deps:  ## Debian packages: PHP + PHPUnit + phpcs, cloud-init (for `cloud-init schema`), openssl
	@scripts/install-system-deps.sh

$(PIP_STAMP): operator/pyproject.toml operator/sandbox/pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e 'operator[dev]' -e operator/sandbox
	@touch $@

venv: $(PIP_STAMP)  ## the Python virtualenv with the operator and its dev tools

controlplane:  ## build etcd, kube-apiserver, kube-controller-manager, kubectl, helm (cached outside the repo)
	@tests/controlplane/build.sh >/dev/null

s3server:  ## build versitygw, the real S3 server of the backup tests and the sandbox (cached outside the repo)
	@tests/s3/build.sh >/dev/null

lint: venv  ## ruff, mypy --strict, phpcs, php -l, hadolint
	$(VENV)/bin/ruff check $(PY_DIRS)
	$(VENV)/bin/ruff format --check $(PY_DIRS)
	cd operator && ../$(VENV)/bin/mypy
	@scripts/lint-php.sh
	@if [ -f Dockerfile ]; then $(VENV)/bin/hadolint Dockerfile; fi

# Workers for `make test`: most of the suite waits on real processes (apiserver, gateways, sshd, S3), so
# more workers than the 2 cores pay off; see docs/benchmarks.md ("The test suite's wall time"). loadfile keeps a
# module (and its module-scoped fixtures) on one worker; loadgroup's xdist_group marks are ignored under
# pytest 9.2 (xdist 3.8 rewrites `item._nodeid`, which pytest no longer reads).
TEST_WORKERS ?= 3

test: system-deps venv controlplane s3server lint  ## the full suite on TEST_WORKERS pytest-xdist workers (installs everything it needs first)
	@scripts/run-pytest.sh -n $(TEST_WORKERS) --dist loadfile --durations=25 tests

soak: system-deps venv controlplane  ## the long reliability suites
	@SOAK=1 scripts/run-pytest.sh -m slow tests/reliability

bench: venv controlplane s3server  ## scale and API-cost benchmarks (BENCH_PROFILE=scale: + 10,000 sharded); bench/results/
	$(PY) -m bench.run $(if $(filter scale,$(BENCH_PROFILE)),--scale) $(BENCH_ARGS)

e2e-vm: venv  ## boot the rendered user-data in a Debian 13 qemu guest and check it from the host (cold and golden; about 40 min under TCG on a quiet host)
	@tests/e2e_vm/install-deps.sh
	@CLAWHOST_E2E_VM=1 scripts/run-pytest.sh -p no:cacheprovider tests/e2e_vm

sandbox: venv controlplane s3server  ## the whole system on simulated clouds (DETACH=1 to run in the background)
	$(VENV)/bin/clawhost-sandbox up $(if $(DETACH),--detach) $(if $(APP),--app $(APP)) --dir .sandbox --examples examples

sandbox-down:  ## stop a detached sandbox
	$(VENV)/bin/clawhost-sandbox down --dir .sandbox

.PHONY: help system-deps venv controlplane s3server lint test soak bench e2e-vm sandbox sandbox-down
