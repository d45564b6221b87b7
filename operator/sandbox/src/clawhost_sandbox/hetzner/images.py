"""Images: the catalogue's system images and the project's own snapshots and backups.

`create_image` copies a server's used data into an image that is `creating` until its action finishes
(durations and sizes: `world.py`, "Snapshots"). A snapshot outlives its server; a backup is bound to it
(`bound_to`), deleted with it, and at most seven are kept per server. A server can be created from (or
rebuilt with) an available image of its architecture whose `disk_size` fits its disk; the real API refuses
a bigger one with 422 `invalid_input` "image disk is bigger than server type disk". Only snapshots and
backups can be updated or deleted, only snapshots protected, and a protected snapshot is not deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from multidict import MultiMapping

from ..simserver import ApiError
from .catalogue import CATALOGUE_CREATED, IMAGES, Image, ServerType, find_image
from .errors import hetzner_error, invalid_input, not_found
from .listing import listing, select
from .resources import checked_labels
from .world import BACKUP_SLOTS, SNAPSHOT_COMPRESSION, SYSTEM_IMAGE_USED_GB, ProjectImage, Server, World

AnyImage = Image | ProjectImage
IMAGE_TYPES = ("system", "app", "snapshot", "backup")


def _unprocessable(field: str, message: str) -> ApiError:
    error = invalid_input(field, message)
    error.status = 422  # what the real API answers for these (a client measured it; see the module doc)
    return error


def find_any_image(world: World, ident: str | int) -> AnyImage:
    key = str(ident)
    own = world.images.get(int(key)) if key.isdigit() else None
    found = own or next((image for image in IMAGES if str(image.id) == key), None)
    if found is None:
        raise not_found("image", ident)
    return found


def image_for(world: World, ref: object, server_type: ServerType, disk_gb: int) -> AnyImage:
    """The image a server of this type and disk is created from or rebuilt with (`image` by id or name)."""
    own = world.images.get(int(str(ref))) if str(ref).isdigit() else None
    if own is None:
        system = find_image(str(ref), server_type.architecture) if ref is not None else None
        if system is None:
            raise invalid_input("image", f"image {ref} not found for architecture {server_type.architecture}")
        return system
    if own.status != "available":
        raise _unprocessable("image", f"image {own.id} is not available yet")
    if own.architecture != server_type.architecture:
        raise _unprocessable(
            "image", f"image {own.id} is for {own.architecture}, not {server_type.architecture}"
        )
    if own.disk_size > disk_gb:
        raise _unprocessable("image", "image disk is bigger than server type disk")
    return own


def used_disk_after_install(image: AnyImage) -> float:
    return image.data_gb if isinstance(image, ProjectImage) else SYSTEM_IMAGE_USED_GB


def restore_seconds(world: World, image: AnyImage) -> float:
    """Extra time a create or rebuild takes to copy this image onto the disk (system images deploy fast)."""
    if isinstance(image, ProjectImage) and image.image_size is not None:
        return world.restore_seconds_per_gb * image.image_size
    return 0.0


# --- POST /servers/{id}/actions/create_image ---------------------------------------------------------
def create_image(world: World, server: Server, body: dict[str, Any]) -> dict[str, Any]:
    kind = body.get("type", "snapshot")
    if kind not in ("snapshot", "backup"):
        raise invalid_input("type", "must be snapshot or backup")
    if kind == "backup" and server.backup_window is None:
        raise _unprocessable("type", "backups are not enabled for this server")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        raise invalid_input("description", "must be a string")
    labels = checked_labels(body, {})
    now = world.clock.now()
    source = server.image
    image = ProjectImage(
        world.next_id(), kind, description or f"{server.name}-{int(world.clock.unix(now))}", labels, now,
        server.primary_disk_size, server.used_disk_gb, server.server_type.architecture, source.os_flavor,
        source.os_version, (server.id, server.name), server.id if kind == "backup" else None,
    )  # fmt: skip
    world.images[image.id] = image
    if kind == "backup":
        backups = sorted((i for i in world.images.values() if i.bound_to == server.id), key=lambda i: i.id)
        for oldest in backups[:-BACKUP_SLOTS]:  # the slots are full: the oldest backup makes room
            oldest.deleted = now
            del world.images[oldest.id]

    def stored(at: float) -> None:
        image.status = "available"
        image.image_size = round(image.data_gb * SNAPSHOT_COMPRESSION, 2)

    def failed(at: float) -> None:
        world.images.pop(image.id, None)

    seconds = world.action_seconds["create_image"] + world.snapshot_seconds_per_gb * image.data_gb
    action = world.start_action(
        "create_image", [(server.id, "server"), (image.id, "image")], on_success=stored,
        on_failure=failed, seconds=seconds,
    )  # fmt: skip
    return {"action": action.render(world.clock), "image": world.render_image(image)}


# --- /images -------------------------------------------------------------------------------------------
def _labels(image: AnyImage) -> dict[str, str]:
    return image.labels if isinstance(image, ProjectImage) else {}


def _type(image: AnyImage) -> str:
    return image.type if isinstance(image, ProjectImage) else "system"


def _status(image: AnyImage) -> str:
    return image.status if isinstance(image, ProjectImage) else "available"


def list_images(world: World, query: MultiMapping[str]) -> dict[str, Any]:
    def created(image: AnyImage) -> tuple[str, float]:
        # Rendered timestamps are wall-clock instants, equal for images made within one `advance()`:
        # the simulated creation time breaks the tie, so the order is the order things happened in.
        if isinstance(image, ProjectImage):
            return world.clock.iso(image.created), image.created
        return CATALOGUE_CREATED, float("-inf")

    sort_keys: dict[str, Callable[[AnyImage], Any]] = {
        "id": lambda i: i.id, "name": lambda i: i.name or "", "created": created,
    }  # fmt: skip
    every: list[AnyImage] = [*IMAGES, *world.images.values()]
    items = select(every, query, name=lambda i: i.name or "",
                   labels=_labels, sort_keys=sort_keys)  # fmt: skip
    for wanted in query.getall("type", []):
        if wanted not in IMAGE_TYPES:
            raise invalid_input("type", f"unknown image type {wanted!r}")
    filters: list[tuple[str, Callable[[AnyImage], str]]] = [
        ("type", _type), ("status", _status), ("architecture", lambda i: i.architecture),
        ("bound_to", lambda i: str(i.bound_to) if isinstance(i, ProjectImage) else ""),
    ]  # fmt: skip
    for parameter, value_of in filters:
        if wanted_values := query.getall(parameter, []):
            items = [image for image in items if value_of(image) in wanted_values]
    return listing("images", items, query, world.render_image)


def _own(image: AnyImage, verb: str) -> ProjectImage:
    if not isinstance(image, ProjectImage):
        raise hetzner_error("forbidden", f"system images cannot be {verb}; only snapshots and backups")
    return image


def update_image(world: World, image: AnyImage, body: dict[str, Any]) -> dict[str, Any]:
    """Description, labels, and `type: snapshot` turns a backup into a snapshot that outlives its server."""
    own = _own(image, "updated")
    description = body.get("description", own.description)
    if not isinstance(description, str):
        raise invalid_input("description", "must be a string")
    if body.get("type", "snapshot") != "snapshot":
        raise invalid_input("type", "an image can only be converted to a snapshot")
    labels = checked_labels(body, own.labels)
    own.description, own.labels = description, labels
    if "type" in body:
        own.type, own.bound_to = "snapshot", None
    return {"image": world.render_image(own)}


def delete_image(world: World, image: AnyImage) -> None:
    own = _own(image, "deleted")
    if own.protection_delete:
        raise hetzner_error("protected", "image is protected against deletion")
    if own.status == "creating":
        raise hetzner_error("locked", "image is being created")
    own.deleted = world.clock.now()  # servers made from it still name it, with `deleted` set
    del world.images[own.id]


def change_image_protection(world: World, image: AnyImage, body: dict[str, Any]) -> dict[str, Any]:
    own = _own(image, "protected")
    if own.type != "snapshot":
        raise invalid_input("id", "only snapshots can be protected")
    delete = body.get("delete", own.protection_delete)
    if not isinstance(delete, bool):
        raise invalid_input("delete", "must be a boolean")

    def apply(at: float) -> None:
        own.protection_delete = delete

    action = world.start_action("change_protection", [(own.id, "image")], on_success=apply)
    return {"action": action.render(world.clock)}
