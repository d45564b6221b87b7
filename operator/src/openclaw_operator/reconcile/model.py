"""The data the pure decisions work on: what the providers showed us, and the steps we may take.

Observations are plain frozen dataclasses built by the provider adapters, so the planners never see an
SDK object and the tables in the tests can spell every situation out literally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ServerStatus(StrEnum):
    RUNNING = "running"
    INITIALIZING = "initializing"
    STARTING = "starting"
    STOPPING = "stopping"
    OFF = "off"
    DELETING = "deleting"
    MIGRATING = "migrating"
    REBUILDING = "rebuilding"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ServerObservation:
    id: int
    name: str
    status: str
    server_type: str
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=True)
    ipv4: str | None = None
    ipv6: str | None = None  # the address the AAAA record points at, not the /64
    disk_gb: int | None = None
    architecture: str | None = None
    backups: bool = False
    delete_protected: bool = False
    rebuild_protected: bool = False


@dataclass(frozen=True)
class ServerTypeInfo:
    name: str
    disk_gb: int
    architecture: str
    storage_type: str = "local"


class ActionStatus(StrEnum):
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"


@dataclass(frozen=True)
class ActionObservation:
    id: int
    command: str
    status: str
    error_message: str | None = None


@dataclass(frozen=True)
class RecordObservation:
    id: str
    zone_id: str
    name: str
    type: str
    content: str
    proxied: bool
    ttl: int
    comment: str | None = None


@dataclass(frozen=True)
class Zone:
    id: str
    name: str


class StepKind(StrEnum):
    CREATE_SERVER = "create_server"
    POWER_ON = "poweron"
    SHUTDOWN = "shutdown"
    POWER_OFF = "poweroff"
    REBOOT = "reboot"
    REBUILD = "rebuild"
    CHANGE_TYPE = "change_type"
    ENABLE_BACKUP = "enable_backup"
    DISABLE_BACKUP = "disable_backup"
    PROTECT = "protect"
    UNPROTECT = "unprotect"
    SET_LABELS = "set_labels"
    DELETE_SERVER = "delete_server"
    CREATE_RECORD = "create_record"
    UPDATE_RECORD = "update_record"
    DELETE_RECORD = "delete_record"


# Steps that start a Hetzner action on the server: at most one of them runs at a time, because Hetzner
# locks a server while an action runs and answers `locked` to the next one.
SERVER_ACTIONS = frozenset(
    {
        StepKind.CREATE_SERVER,
        StepKind.POWER_ON,
        StepKind.SHUTDOWN,
        StepKind.POWER_OFF,
        StepKind.REBOOT,
        StepKind.REBUILD,
        StepKind.CHANGE_TYPE,
        StepKind.ENABLE_BACKUP,
        StepKind.DISABLE_BACKUP,
        StepKind.PROTECT,
        StepKind.UNPROTECT,
        StepKind.DELETE_SERVER,
    }
)


@dataclass(frozen=True)
class Step:
    """One provider write. `reason` is the event reason; `message` is what a human reads."""

    kind: StepKind
    reason: str
    message: str
    server_id: int | None = None
    server_type: str | None = None
    labels: dict[str, str] | None = field(default=None, hash=False)
    record: RecordObservation | None = None  # desired record (create/update) or the one to delete
    drift: bool = False  # repairs something changed behind our back (counted in metrics)
    # status fields (python names of api.InstanceStatus) recorded only once the step succeeded
    on_success: dict[str, object] = field(default_factory=dict, hash=False)

    @property
    def is_server_action(self) -> bool:
        return self.kind in SERVER_ACTIONS


@dataclass(frozen=True)
class Note:
    """A Kubernetes Event to post: `type` is Normal or Warning."""

    type: str
    reason: str
    message: str
