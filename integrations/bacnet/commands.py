"""The write-command queue: every write to a BACnet point, who asked, and what became of it.

Each write (a value at a priority, a relinquish, the start or end of a timed override) is a
``WriteCommand`` that goes ``pending`` (waiting its turn on the device) → ``executing`` (on the
wire) → ``completed`` or ``failed`` (with the device's error). The last ``WRITE_COMMANDS_KEPT``
are kept in ``.storage/bacnet.write_commands``, so the trail survives a restart; a command that
was pending or executing when the runtime stopped is recorded as failed on the next start.

Timed overrides live in ``.storage/bacnet.overrides``: the point, its priority and when it is to
be relinquished. On start, an override whose end passed while the runtime was down is
relinquished at once; the others are armed on the scheduler again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from ulid_transform import ulid_now

from core import Context, Runtime
from core.storage import JsonStore

from .const import (
    STORE_OVERRIDES,
    STORE_WRITE_COMMANDS,
    WRITE_COMMANDS_KEPT,
    CommandStatus,
    Requester,
)

_STORE_VERSION = 1


def requester_of(context: Context, explicit: str | None = None) -> Requester:
    """Who asked for a write, from the call's context (or what the caller declared).

    A caller that knows better (the MQTT command bridge, the API) says so with ``explicit``;
    otherwise a context with a parent was caused by something else (an automation or script),
    one with only a user is that user's own request, and one with neither is the system's.
    """
    if explicit is not None:
        return Requester(explicit)
    if context.parent_id is not None:
        return Requester.AUTOMATION
    if context.user_id is not None:
        return Requester.USER
    return Requester.SYSTEM


@dataclass(slots=True)
class WriteCommand:
    """One write to a point and its outcome."""

    id: str
    entity_id: str
    device: int
    object: str
    action: str
    value: Any
    priority: int
    requested_by: str
    user_id: str | None
    context_id: str
    created: str
    status: CommandStatus = CommandStatus.PENDING
    started: str | None = None
    finished: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        result = asdict(self)
        result["status"] = self.status.value
        return result

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> WriteCommand:
        """Build a command from its JSON form."""
        data = dict(raw)
        data["status"] = CommandStatus(data["status"])
        return cls(**data)


@dataclass(slots=True)
class Override:
    """A value written for a while, to be relinquished at ``until``."""

    entity_id: str
    value: Any
    priority: int
    until: str
    command_id: str


@dataclass(slots=True)
class _State:
    commands: deque[WriteCommand] = field(default_factory=lambda: deque(maxlen=WRITE_COMMANDS_KEPT))
    by_id: dict[str, WriteCommand] = field(default_factory=dict)


class WriteCommandLog:
    """The persisted write-command queue and the timed overrides. Used on the loop."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._state = _State()
        self.overrides: dict[str, Override] = {}
        self._store = JsonStore.for_runtime(
            runtime,
            STORE_WRITE_COMMANDS,
            version=_STORE_VERSION,
        )
        self._override_store = JsonStore.for_runtime(
            runtime,
            STORE_OVERRIDES,
            version=_STORE_VERSION,
        )

    async def load(self) -> None:
        """Read both stores; commands cut short by a stop are marked failed."""
        data = await self._store.load() or {}
        interrupted = False
        for raw in data.get("commands", []):
            command = WriteCommand.from_dict(raw)
            if command.status in (CommandStatus.PENDING, CommandStatus.EXECUTING):
                command.status = CommandStatus.FAILED
                command.error = "interrupted: Edgewise stopped before the write finished"
                command.finished = command.finished or self._now()
                interrupted = True
            self._keep(command)
        if interrupted:
            self._save()
        overrides = await self._override_store.load() or {}
        for raw in overrides.get("overrides", []):
            override = Override(**raw)
            self.overrides[override.entity_id] = override

    async def flush(self) -> None:
        """Write what is scheduled (at shutdown)."""
        await self._store.flush()
        await self._override_store.flush()

    def _now(self) -> str:
        return self._runtime.clock.now().isoformat()

    def _keep(self, command: WriteCommand) -> None:
        commands = self._state.commands
        if len(commands) == commands.maxlen:
            dropped = commands.popleft()
            self._state.by_id.pop(dropped.id, None)
        commands.append(command)
        self._state.by_id[command.id] = command

    def _save(self) -> None:
        self._store.schedule_save(
            lambda: {"commands": [c.as_dict() for c in self._state.commands]}, delay=0.5
        )

    def create(  # noqa: PLR0917 - one field per column of the trail
        self,
        entity_id: str,
        device: int,
        obj: str,
        action: str,
        value: Any,
        priority: int,
        context: Context,
        requested_by: Requester,
    ) -> WriteCommand:
        """Queue a new command as pending and persist it."""
        command = WriteCommand(
            id=ulid_now(),
            entity_id=entity_id,
            device=device,
            object=obj,
            action=action,
            value=value,
            priority=priority,
            requested_by=requested_by.value,
            user_id=context.user_id,
            context_id=context.id,
            created=self._now(),
        )
        self._keep(command)
        self._save()
        return command

    def executing(self, command: WriteCommand) -> None:
        """The command is on the wire."""
        command.status = CommandStatus.EXECUTING
        command.started = self._now()
        self._save()

    def finished(self, command: WriteCommand, error: str | None = None) -> None:
        """The command completed, or failed with ``error``."""
        command.status = CommandStatus.FAILED if error is not None else CommandStatus.COMPLETED
        command.error = error
        command.finished = self._now()
        if command.started is None:
            command.started = command.finished
        self._save()

    def query(
        self,
        *,
        entity_ids: Iterable[str] = (),
        status: CommandStatus | None = None,
        limit: int = 100,
    ) -> list[WriteCommand]:
        """The newest ``limit`` commands, newest first, filtered by entity and status."""
        wanted = set(entity_ids)
        result: list[WriteCommand] = []
        for command in reversed(self._state.commands):
            if len(result) >= limit:
                break
            if wanted and command.entity_id not in wanted:
                continue
            if status is not None and command.status is not status:
                continue
            result.append(command)
        return result

    def get(self, command_id: str) -> WriteCommand | None:
        """The command with this id, if it is still kept."""
        return self._state.by_id.get(command_id)

    # --- overrides ------------------------------------------------------------------------------

    def _save_overrides(self) -> None:
        self._override_store.schedule_save(
            lambda: {"overrides": [asdict(o) for o in self.overrides.values()]}, delay=0.0
        )

    def set_override(self, override: Override) -> None:
        """Remember an override until it is relinquished."""
        self.overrides[override.entity_id] = override
        self._save_overrides()

    def clear_override(self, entity_id: str) -> Override | None:
        """Forget the override of ``entity_id``; returns it."""
        override = self.overrides.pop(entity_id, None)
        if override is not None:
            self._save_overrides()
        return override

    @staticmethod
    def until_of(override: Override) -> datetime:
        """When ``override`` ends."""
        return datetime.fromisoformat(override.until)
