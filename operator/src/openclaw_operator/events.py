"""Kubernetes Events about an instance, posted through Kopf's own background poster.

The reconciler only needs something it can hand a `Note` to (`EventSink`); this module is where that
becomes `kopf.event`, so neither the reconciler nor the handlers module owns the other's wiring.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

import kopf

from openclaw_operator import api
from openclaw_operator.reconcile.model import Note


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
    The instance may already be gone (a vanished or orphaned one): the API accepts Events about it."""
    target = cast(kopf.Body, event_target(instance))  # kopf only reads the object reference from it
    kopf.event(target, type=note.type, reason=note.reason, message=note.message)
