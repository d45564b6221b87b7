"""The two settings that bound the operator's memory (docs/benchmarks.md, "Memory"): glibc's malloc arenas
capped before any thread starts, and Kopf's initial LIST in pages."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import kopf
import pytest

from openclaw_operator import api, handlers, runner
from openclaw_operator.passes import InstanceMemory

# Eight threads allocate at once, then glibc describes its heaps: one <heap nr=..> per arena in use.
COUNT_ARENAS = textwrap.dedent(
    """
    import ctypes, os, sys, tempfile, threading
    from openclaw_operator import runner
    if sys.argv[1] == "capped":
        assert runner.limit_malloc_arenas()
    barrier = threading.Barrier(8)
    def churn():
        barrier.wait()
        for _ in range(200):
            [bytearray(4096) for _ in range(200)]
    threads = [threading.Thread(target=churn) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    libc = ctypes.CDLL("libc.so.6")
    libc.fopen.restype = ctypes.c_void_p
    path = tempfile.mktemp()
    stream = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    print(open(path).read().count("<heap nr="))
    """
)


def arenas(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run([sys.executable, "-c", COUNT_ARENAS, mode], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def test_capped_arenas_stay_at_two_where_threads_would_take_more() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_info  # noqa: B018
    except (OSError, AttributeError):
        pytest.skip("not glibc: no per-thread malloc arenas to cap")
    assert arenas("uncapped") > runner.MALLOC_ARENAS  # what the cap is for
    assert arenas("capped") <= runner.MALLOC_ARENAS


def test_an_explicit_malloc_arena_max_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert runner.limit_malloc_arenas() is False


def test_the_initial_list_comes_in_pages() -> None:
    settings = kopf.OperatorSettings()
    handlers.configure_settings(settings)
    assert settings.watching.chunk_size == handlers.INITIAL_LIST_CHUNK
    assert 0 < handlers.INITIAL_LIST_CHUNK <= 1000


# --- the reconciler's per-instance memory keeps a status only while the body lags behind -------------
READY = api.InstanceStatus(phase=api.Phase.RUNNING, server_id=7, message="ready")
CREATING = api.InstanceStatus(phase=api.Phase.PROVISIONING, message="creating")


@pytest.mark.parametrize(
    ("result", "in_body", "kept"),
    [
        (READY, READY, None),  # a settled pass: the body holds it, no second copy
        (READY, CREATING, READY),  # the body may not show this pass's patch yet: the next pass needs it
        (CREATING, api.InstanceStatus(), CREATING),
    ],
)
def test_a_pass_status_is_kept_only_while_the_body_lags(
    result: api.InstanceStatus, in_body: api.InstanceStatus, kept: api.InstanceStatus | None
) -> None:
    memory = InstanceMemory()
    memory.remember(result, in_body)
    assert memory.status == kept
    body = api.OpenClawInstance.from_body(
        {"metadata": {"name": "a", "namespace": "n", "uid": "u"}, "spec": {"hostname": "a.example.com",
         "gatewayTokenSecretRef": {"name": "t"}}, "status": in_body.to_api()}
    )  # fmt: skip
    assert memory.with_status(body).status == result  # what the next pass starts from, either way
