"""Persistent schedules: service calls at set times, created by users or integrations.

A ``ScheduledJob`` names a trigger (``at``, ``every``, ``daily`` or ``cron``) and a service call.
The ``ScheduleStore`` keeps them in one JSON file, arms them on a ``Scheduler`` and catches up
after a restart: a job whose time passed while the runtime was down runs once on start when it is
at most ``grace`` seconds late, and is skipped (logged at info) when it is later than that.

File format (``version`` 1)::

    {"version": 1, "jobs": [
        {"id": "01J...", "name": "Charge at night", "trigger": {"cron": "0 2 * * *"},
         "action": "battery.charge", "data": {"power": 3000}, "target": null,
         "grace": 300, "enabled": true, "last_run": null, "created_by": "tariff"}]}

Writes are atomic (temporary file, fsync, ``os.replace``), run in the executor and coalesced:
any number of changes within one loop tick cause one write.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import functools
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import cast

import voluptuous as vol
from ulid_transform import ulid_now

from .timers import Cancel, Scheduler, validate_cron

_LOGGER = logging.getLogger(__name__)

STORE_VERSION = 1
DEFAULT_GRACE = 300.0
TRIGGER_KINDS = ("at", "every", "daily", "cron")

#: Runs a job's service call; wired by the runtime to ``ServiceRegistry.call``.
Runner = Callable[["ScheduledJob", datetime], Awaitable[None]]
#: Runs a blocking function off the loop (the runtime's executor helper).
ExecutorJob = Callable[[Callable[[], object]], Awaitable[object]]
#: A trigger in its JSON form, e.g. ``{"daily": "06:30:00"}``.
Trigger = Mapping[str, str | float]

_SERVICE_RE = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")
_WALL_TIME_RE = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")
_MAX_CATCH_UP_STEPS = 100_000


# -- validation ----------------------------------------------------------------------------------


def _aware_iso(value: object) -> str:
    """An aware ISO 8601 datetime (string or datetime), normalised to its ISO string."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise vol.Invalid(f"not an ISO 8601 datetime: {value!r}") from None
    else:
        raise vol.Invalid(f"expected an ISO 8601 datetime, got {type(value).__name__}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise vol.Invalid(f"datetime {value!r} has no UTC offset")
    return when.isoformat()


def _wall_time(value: object) -> str:
    """A local wall time ``HH:MM[:SS]``, normalised to ``HH:MM:SS``."""
    if not isinstance(value, str) or not _WALL_TIME_RE.match(value):
        raise vol.Invalid(f"expected a time HH:MM[:SS], got {value!r}")
    try:
        hour, minute, *second = (int(part) for part in value.split(":"))
        return time(hour, minute, second[0] if second else 0).isoformat()
    except ValueError:
        raise vol.Invalid(f"not a valid time: {value!r}") from None


def _cron(value: object) -> str:
    """A valid 5-field cron pattern or alias."""
    if not isinstance(value, str):
        raise vol.Invalid(f"expected a cron pattern, got {value!r}")
    try:
        return validate_cron(value)
    except ValueError as err:
        raise vol.Invalid(str(err)) from None


def _service(value: object) -> str:
    """A service name ``domain.service``."""
    if not isinstance(value, str) or not _SERVICE_RE.match(value):
        raise vol.Invalid(f"expected 'domain.service', got {value!r}")
    return value


_TRIGGER_SCHEMAS = {
    "at": vol.Schema({vol.Required("at"): _aware_iso}),
    "every": vol.Schema(
        {
            vol.Required("every"): vol.All(vol.Coerce(float), vol.Range(min=0, min_included=False)),
            vol.Optional("start"): _aware_iso,
        }
    ),
    "daily": vol.Schema({vol.Required("daily"): _wall_time}),
    "cron": vol.Schema({vol.Required("cron"): _cron}),
}


def _trigger(value: object) -> dict[str, str | float]:
    """Exactly one trigger kind with its own fields."""
    if not isinstance(value, dict):
        raise vol.Invalid("expected a mapping")
    kinds = [kind for kind in TRIGGER_KINDS if kind in value]
    if len(kinds) != 1:
        raise vol.Invalid(f"expected exactly one of {', '.join(TRIGGER_KINDS)}")
    return cast(dict[str, str | float], _TRIGGER_SCHEMAS[kinds[0]](value))


JOB_SCHEMA = vol.Schema(
    {
        vol.Required("id"): vol.All(str, vol.Length(min=1)),
        vol.Required("name"): str,
        vol.Required("trigger"): _trigger,
        vol.Required("action"): _service,
        vol.Optional("data", default=dict): dict,
        vol.Optional("target", default=None): vol.Any(None, dict),
        vol.Optional("grace", default=DEFAULT_GRACE): vol.All(vol.Coerce(float), vol.Range(min=0)),
        vol.Optional("enabled", default=True): bool,
        vol.Optional("last_run", default=None): vol.Any(None, _aware_iso),
        vol.Optional("created_by", default=None): vol.Any(None, str),
        vol.Optional("created_at", default=None): vol.Any(None, _aware_iso),
    }
)


def _describe(err: vol.Invalid) -> str:
    """``field: message`` for each voluptuous error."""
    errors = err.errors if isinstance(err, vol.MultipleInvalid) else [err]
    return "; ".join(
        f"{'.'.join(str(p) for p in error.path) or '<job>'}: {error.msg}" for error in errors
    )


# -- the job -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    """A persistent scheduled service call.

    Attributes:
        id: unique id (a ULID is generated by ``ScheduleStore.add`` when empty).
        name: human-readable name.
        trigger: one of ``{"at": iso}``, ``{"every": seconds, "start": iso}``,
            ``{"daily": "HH:MM[:SS]"}`` (local time), ``{"cron": "..."}`` (local time).
        action: the service to call, ``"domain.service"``.
        data, target: the service call's data and target.
        grace: how late (seconds) a run missed during downtime may still be made up on start.
        enabled: disabled jobs are kept but never run.
        last_run: the scheduled time of the last run.
        created_by: the user id or integration domain that created the job.
        created_at: when it was added; the reference for catching up a job that never ran.
    """

    id: str
    name: str
    trigger: Trigger
    action: str
    data: Mapping[str, object] = field(default_factory=dict)
    target: Mapping[str, object] | None = None
    grace: float = DEFAULT_GRACE
    enabled: bool = True
    last_run: datetime | None = None
    created_by: str | None = None
    created_at: datetime | None = None

    @property
    def kind(self) -> str:
        """The trigger kind: ``at``, ``every``, ``daily`` or ``cron``."""
        return next(kind for kind in TRIGGER_KINDS if kind in self.trigger)

    @property
    def service(self) -> tuple[str, str]:
        """The action split into ``(domain, service)``."""
        domain, _, service = self.action.partition(".")
        return domain, service

    def as_dict(self) -> dict[str, object]:
        """The JSON form stored in the file."""
        return {
            "id": self.id,
            "name": self.name,
            "trigger": dict(self.trigger),
            "action": self.action,
            "data": dict(self.data),
            "target": None if self.target is None else dict(self.target),
            "grace": self.grace,
            "enabled": self.enabled,
            "last_run": None if self.last_run is None else self.last_run.isoformat(),
            "created_by": self.created_by,
            "created_at": None if self.created_at is None else self.created_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, raw: object) -> ScheduledJob:
        """Validate a job's JSON form and build it.

        Raises:
            vol.Invalid: a field is missing or malformed; its path names the field.
        """
        value = JOB_SCHEMA(raw)
        return cls(
            id=value["id"],
            name=value["name"],
            trigger=value["trigger"],
            action=value["action"],
            data=value["data"],
            target=value["target"],
            grace=value["grace"],
            enabled=value["enabled"],
            last_run=_parse_dt(value["last_run"]),
            created_by=value["created_by"],
            created_at=_parse_dt(value["created_at"]),
        )


def _parse_dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


# -- the store -----------------------------------------------------------------------------------


class ScheduleStore:
    """Keeps persistent jobs in a JSON file and runs them through a ``Scheduler``.

    Must be used on the scheduler's event loop. A job's run is recorded (``last_run``, or removal
    of a one-shot ``at`` job) after the runner returns or raises, so a job that fails is not
    retried on every restart.
    """

    def __init__(
        self,
        path: Path,
        scheduler: Scheduler,
        runner: Runner,
        *,
        executor: ExecutorJob | None = None,
    ) -> None:
        self.path = Path(path)
        self._scheduler = scheduler
        self._runner = runner
        self._executor = executor
        self._jobs: dict[str, ScheduledJob] = {}
        self._cancels: dict[str, builtins.list[Cancel]] = {}
        # Entries that failed validation are written back verbatim, so a typo loses nothing.
        self._invalid: builtins.list[object] = []
        self._dirty = False
        self._save_task: asyncio.Task[None] | None = None
        self._loaded = False

    # -- loading -------------------------------------------------------------------------------

    async def load(self) -> None:
        """Read the file, arm every enabled job and catch up runs missed while down.

        A missing file is an empty store. A file that is not valid JSON is logged, moved aside to
        ``<name>.corrupt-<timestamp>`` and the store starts empty. Invalid jobs are logged with
        their id and field and skipped (but kept in the file).

        Raises:
            RuntimeError: the store was already loaded.
        """
        if self._loaded:
            raise RuntimeError(f"Schedule store {self.path} is already loaded")
        self._loaded = True
        text = cast(str | None, await self._run_blocking(functools.partial(_read, self.path)))
        entries = [] if text is None else await self._parse_file(text)
        now = self._scheduler.clock.now()
        for index, entry in enumerate(entries):
            try:
                job = ScheduledJob.from_dict(entry)
            except vol.Invalid as err:
                job_id = entry.get("id") if isinstance(entry, dict) else None
                _LOGGER.error(
                    "Skipping invalid scheduled job %s in %s: %s",
                    job_id if job_id is not None else f"#{index}",
                    self.path,
                    _describe(err),
                )
                self._invalid.append(entry)
                continue
            if job.id in self._jobs:
                _LOGGER.error("Skipping duplicate scheduled job id %s in %s", job.id, self.path)
                self._invalid.append(entry)
                continue
            self._jobs[job.id] = job
        for job in builtins.list(self._jobs.values()):
            if job.enabled:
                self._arm_on_start(job, now)
        _LOGGER.info("Loaded %d scheduled job(s) from %s", len(self._jobs), self.path)

    async def _parse_file(self, text: str) -> builtins.list[object]:
        """The job entries of the file's text; a corrupt file is moved aside (empty list)."""
        try:
            document = json.loads(text)
            if not isinstance(document, dict) or not isinstance(document.get("jobs"), list):
                raise ValueError("expected an object with a 'jobs' list")
        except ValueError as err:
            stamp = self._scheduler.clock.now().strftime("%Y%m%dT%H%M%S")
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
            await self._run_blocking(functools.partial(os.replace, self.path, aside))
            _LOGGER.error(
                "Schedule file %s is corrupt (%s); moved it to %s and starting empty",
                self.path,
                err,
                aside,
            )
            return []
        return cast(builtins.list[object], document["jobs"])

    def _arm_on_start(self, job: ScheduledJob, now: datetime) -> None:
        """Arm ``job`` and make up (once) for a run it missed while the runtime was down."""
        if job.kind == "at":
            when = _require(_parse_dt(str(job.trigger["at"])))
            if job.last_run is not None:
                self._drop_done(job)
            elif now - when > timedelta(seconds=job.grace):
                _LOGGER.info(
                    "Scheduled job %s (%s) missed its run at %s by more than %.0f s; skipped",
                    job.id,
                    job.name,
                    when,
                    job.grace,
                )
                self._drop_done(job)
            else:
                self._arm(job)
            return
        missed = self._missed_run(job, now)
        if missed is not None:
            # Scheduled in the past, so the scheduler runs it right away, with its missed time.
            self._cancels.setdefault(job.id, []).append(
                self._scheduler.at(
                    missed,
                    functools.partial(self._fire, job.id),
                    name=f"schedule[{job.id}].catch_up",
                )
            )
        self._arm(job)

    def _missed_run(self, job: ScheduledJob, now: datetime) -> datetime | None:
        """The latest run missed since the last one if within grace (else logged, None)."""
        reference = job.last_run or job.created_at
        if reference is None:
            return None
        first = self._next_after(job, reference)
        if first is None or first > now:
            return None
        window_start = max(reference, now - timedelta(seconds=job.grace))
        latest: datetime | None = None
        # The boundary itself is within grace, hence the microsecond before it.
        slot = (
            first
            if window_start == reference
            else self._next_after(job, window_start - timedelta(microseconds=1))
        )
        for _ in range(_MAX_CATCH_UP_STEPS):
            if slot is None or slot > now:
                break
            latest = slot
            slot = self._next_after(job, slot)
        if latest is None or now - latest > timedelta(seconds=job.grace):
            _LOGGER.info(
                "Scheduled job %s (%s) missed its run at %s by more than %.0f s; skipped",
                job.id,
                job.name,
                first,
                job.grace,
            )
            return None
        _LOGGER.info(
            "Scheduled job %s (%s) missed its run at %s; running it now", job.id, job.name, latest
        )
        return latest

    def _next_after(self, job: ScheduledJob, after: datetime) -> datetime | None:
        """The job's first scheduled time strictly after ``after``."""
        trigger = job.trigger
        if job.kind == "every":
            interval = timedelta(seconds=float(trigger["every"]))
            start = _parse_dt(str(trigger["start"])) if "start" in trigger else job.created_at
            if start is None:
                return None
            if after < start:
                return start
            return start + ((after - start) // interval + 1) * interval
        if job.kind == "daily":
            return self._scheduler.next_daily_time(time.fromisoformat(str(trigger["daily"])), after)
        if job.kind == "cron":
            return self._scheduler.next_cron_time(str(trigger["cron"]), after)
        when = _parse_dt(str(trigger["at"]))
        return when if when is not None and when > after else None

    # -- arming and running --------------------------------------------------------------------

    def _arm(self, job: ScheduledJob) -> None:
        """Put ``job``'s future runs on the scheduler."""
        action = functools.partial(self._fire, job.id)
        name = f"schedule[{job.id}]"
        trigger = job.trigger
        scheduler = self._scheduler
        if job.kind == "at":
            cancel = scheduler.at(_require(_parse_dt(str(trigger["at"]))), action, name=name)
        elif job.kind == "every":
            first = self._next_after(job, scheduler.clock.now())
            interval = timedelta(seconds=float(trigger["every"]))
            cancel = scheduler.every(interval, action, name=name, start=first)
        elif job.kind == "daily":
            at = time.fromisoformat(str(trigger["daily"]))
            cancel = scheduler.daily(at, action, name=name)
        else:
            cancel = scheduler.cron(str(trigger["cron"]), action, name=name)
        self._cancels.setdefault(job.id, []).append(cancel)

    def _disarm(self, job_id: str) -> None:
        for cancel in self._cancels.pop(job_id, []):
            cancel()

    async def _fire(self, job_id: str, when: datetime) -> None:
        """Run one job through the runner, then record the run."""
        job = self._jobs.get(job_id)
        if job is None or not job.enabled:
            return
        try:
            await self._runner(job, when)
        except Exception:
            _LOGGER.exception(
                "Scheduled job %s (%s) failed to run %s", job.id, job.name, job.action
            )
        finally:
            self._record_run(job_id, when)

    def _record_run(self, job_id: str, when: datetime) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        if job.kind == "at":
            self._drop_done(job)
            return
        self._jobs[job_id] = dataclasses.replace(job, last_run=when)
        self._schedule_save()

    def _drop_done(self, job: ScheduledJob) -> None:
        """Remove a one-shot job that ran or can no longer run."""
        self._disarm(job.id)
        self._jobs.pop(job.id, None)
        self._schedule_save()

    # -- public API ----------------------------------------------------------------------------

    def add(self, job: ScheduledJob) -> ScheduledJob:
        """Validate, store and arm a new job; returns it as stored (id and start filled in).

        Raises:
            ValueError: the job is invalid or its id is taken.
        """
        now = self._scheduler.clock.now()
        if not job.id:
            job = dataclasses.replace(job, id=ulid_now())
        if "every" in job.trigger and "start" not in job.trigger:
            job = dataclasses.replace(job, trigger={**job.trigger, "start": now.isoformat()})
        if job.created_at is None:
            job = dataclasses.replace(job, created_at=now)
        job = _validated(job)
        if job.id in self._jobs:
            raise ValueError(f"A scheduled job with id {job.id!r} already exists")
        self._jobs[job.id] = job
        if job.enabled:
            self._arm(job)
        self._schedule_save()
        return job

    def update(self, job_id: str, **changes: object) -> ScheduledJob:
        """Change fields of a job (not its id) and re-arm it; returns the new job.

        Raises:
            KeyError: no job has this id.
            ValueError: a change is invalid or names an unknown field or the id.
        """
        job = self._jobs[job_id]
        if "id" in changes:
            raise ValueError("The id of a scheduled job cannot be changed")
        try:
            changed = dataclasses.replace(job, **changes)  # type: ignore[arg-type]  # checked below
        except TypeError as err:
            raise ValueError(f"Invalid change to scheduled job {job_id!r}: {err}") from err
        if "every" in changed.trigger and "start" not in changed.trigger:
            now = self._scheduler.clock.now().isoformat()
            changed = dataclasses.replace(changed, trigger={**changed.trigger, "start": now})
        changed = _validated(changed)
        self._disarm(job_id)
        self._jobs[job_id] = changed
        if changed.enabled:
            self._arm(changed)
        self._schedule_save()
        return changed

    def remove(self, job_id: str) -> None:
        """Cancel and delete a job.

        Raises:
            KeyError: no job has this id.
        """
        del self._jobs[job_id]
        self._disarm(job_id)
        self._schedule_save()

    def get(self, job_id: str) -> ScheduledJob | None:
        """The job with this id, or None."""
        return self._jobs.get(job_id)

    async def flush(self) -> None:
        """Wait until every change so far is written to the file."""
        while self._save_task is not None and not self._save_task.done():
            await asyncio.shield(self._save_task)

    async def close(self) -> None:
        """Cancel every armed job and write pending changes."""
        for job_id in builtins.list(self._cancels):
            self._disarm(job_id)
        await self.flush()

    def list(self) -> builtins.list[ScheduledJob]:
        """Every job, valid ones only, in insertion order."""
        return builtins.list(self._jobs.values())

    # -- persistence ---------------------------------------------------------------------------

    def _schedule_save(self) -> None:
        self._dirty = True
        if self._save_task is None or self._save_task.done():
            self._save_task = asyncio.get_running_loop().create_task(
                self._save(), name="schedules.save"
            )

    async def _save(self) -> None:
        # Let the rest of this tick's changes accumulate: they all go into one write.
        await asyncio.sleep(0)
        while self._dirty:
            self._dirty = False
            document = {
                "version": STORE_VERSION,
                "jobs": [job.as_dict() for job in self._jobs.values()] + self._invalid,
            }
            text = json.dumps(document, indent=2, ensure_ascii=False)
            try:
                await self._run_blocking(functools.partial(_write_atomic, self.path, text))
            except OSError:
                _LOGGER.exception("Could not write schedule file %s", self.path)

    async def _run_blocking(self, func: Callable[[], object]) -> object:
        if self._executor is not None:
            return await self._executor(func)
        return await asyncio.get_running_loop().run_in_executor(None, func)


def _validated(job: ScheduledJob) -> ScheduledJob:
    """``job`` normalised through ``JOB_SCHEMA``; raises ValueError naming the bad field."""
    try:
        return ScheduledJob.from_dict(job.as_dict())
    except vol.Invalid as err:
        raise ValueError(f"Invalid scheduled job {job.id!r}: {_describe(err)}") from err


def _require(when: datetime | None) -> datetime:
    if when is None:
        raise ValueError("missing datetime")
    return when


def _read(path: Path) -> str | None:
    """The file's text, or None when it does not exist (runs in the executor)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so a crash leaves the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)
    # Make the rename itself durable; not every platform can open a directory.
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
