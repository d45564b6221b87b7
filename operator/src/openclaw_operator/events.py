"""Kubernetes Events about an instance, posted through Kopf's own background poster.

The reconciler only needs something it can hand a `Note` to (`EventSink`); this module is where that
becomes `kopf.event`, so neither the reconciler nor the handlers module owns the other's wiring.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, cast

import kopf

from openclaw_operator import api
from openclaw_operator.reconcile.model import Note

log = logging.getLogger(__name__)


class EventSink(Protocol):
    """Where the notes of a pass go: one Kubernetes Event each, about the instance."""

    def __call__(self, instance: api.OpenClawInstance, note: Note) -> None: ...


def event_target(instance: api.OpenClawInstance) -> dict[str, Any]:
    meta = instance.metadata
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND,
        "metadata": {"name": meta.name, "namespace": meta.namespace, "uid": meta.uid},
    }


def post_event(instance: api.OpenClawInstance, note: Note) -> None:
    """An `EventSink`: Kopf queues the Event and posts it in the background (never blocking a pass).

    Kopf's queue belongs to the task that processes a resource; the orphan sweep works outside any,
    for instances that no longer exist, and there (a LookupError of Kopf's context variable) the note
    becomes a log line instead."""
    target = cast(kopf.Body, event_target(instance))  # kopf only reads the object reference from it
    try:
        kopf.event(target, type=note.type, reason=note.reason, message=note.message)
    except LookupError:
        level = logging.WARNING if note.type == "Warning" else logging.INFO
        meta = instance.metadata
        log.log(
            level, "%s/%s (uid %s): %s: %s", meta.namespace, meta.name, meta.uid, note.reason, note.message
        )
