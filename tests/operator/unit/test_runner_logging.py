"""Planned requeues do not show up as ERROR lines in the operator's log; other errors still do."""

from __future__ import annotations

import logging

from openclaw_operator.runner import RequeuesAreNotErrors


def record(level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord("kopf.objects", level, __file__, 1, message, None, None)


def test_a_requeue_is_logged_at_info() -> None:
    entry = record(logging.ERROR, "Handler 'reconcile' failed temporarily: waiting for action create_server")
    assert RequeuesAreNotErrors().filter(entry)
    assert (entry.levelno, entry.levelname) == (logging.INFO, "INFO")


def test_a_real_error_stays_an_error() -> None:
    entry = record(logging.ERROR, "Handler 'reconcile' failed with an exception. Will retry.")
    assert RequeuesAreNotErrors().filter(entry)
    assert entry.levelno == logging.ERROR


def test_routine_timer_and_event_runs_are_debug_only() -> None:
    for message in (
        "Timer 'drift' succeeded.",
        "Handler 'gone' succeeded.",
    ):
        entry = record(logging.INFO, message)
        root = logging.getLogger()
        before = root.level
        try:
            root.setLevel(logging.INFO)
            assert not RequeuesAreNotErrors().filter(entry)  # dropped at INFO
            root.setLevel(logging.DEBUG)
            assert RequeuesAreNotErrors().filter(record(logging.INFO, message))  # kept with --verbose
        finally:
            root.setLevel(before)
    assert RequeuesAreNotErrors().filter(record(logging.INFO, "Handler 'reconcile' succeeded."))
