# syntax=docker/dockerfile:1
# The operator image. Stage 1 builds a virtualenv from a wheel of operator/ with every dependency pinned
# by operator/requirements.lock, from binary wheels only (nothing is compiled); stage 2 copies that
# virtualenv into a clean slim Python and runs it as an unprivileged numeric user.
# tests/image/ lints this file with hadolint and builds the same virtualenv the same way to prove the
# ENTRYPOINT starts the operator (there is no container engine in the test environment).

ARG PYTHON_IMAGE=python:3.11.14-slim-trixie

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY operator/pyproject.toml operator/requirements.lock operator/
COPY operator/src operator/src
RUN python -m venv /opt/venv \
    && python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels ./operator \
    && /opt/venv/bin/pip install --no-cache-dir --only-binary=:all: --constraint ./operator/requirements.lock /wheels/openclaw_operator-*.whl \
    && /opt/venv/bin/pip check

FROM ${PYTHON_IMAGE}
# A passwd entry for the numeric user: getpass.getuser() (used by Kopf to name itself) needs one.
RUN groupadd --system --gid 10001 openclaw \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin openclaw
COPY --from=build /opt/venv /opt/venv
# The root filesystem is read-only in the Helm chart: no bytecode writes, HOME on the /tmp emptyDir.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
# Kopf's liveness endpoint (CLAWHOST_HEALTH_PORT) and the Prometheus metrics (CLAWHOST_METRICS_PORT).
EXPOSE 8080 9090
ENTRYPOINT ["/opt/venv/bin/openclaw-operator"]
CMD ["run"]
