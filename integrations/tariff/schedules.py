"""Exact appliance schedules, fired by the kernel's persistent schedules.

Each schedule (``schedule_spec.py``) becomes jobs of a ``core.schedules.ScheduleStore`` kept in
``.storage/tariff.jobs.json``: its start (``at``, ``daily`` or ``cron``, local time and DST as
the kernel does them) and its end (``at``; a recurring run's end is added when it starts, with a
day's grace so an appliance is switched off after a restart mid-run). The store survives
restarts and makes up a run missed while Edgewise was down once if it is still within the
schedule's grace; a run later than that is written to the schedule log as ``missed`` here,
from the schedule's ``next_run``. Nothing runs twice: the store records each run.

Every execution goes through the appliance's own services under a context tagged
``schedule`` (so the control log names the schedule), opens or closes a metered run
(``runs.py``) and writes a schedule log entry: planned time, actual time, action, result,
error. The appliance shows ``scheduled`` with its next planned start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from ulid_transform import ulid_now

from core import Context
from core.entity_platform import entity_index
from core.schedules import ScheduledJob, ScheduleStore
from core.storage import storage_path

from .schedule_spec import REQUEST_SCHEMA, build_spec, start_trigger
from .window import WindowError, cheapest

if TYPE_CHECKING:
    from core import Runtime

    from .prices import Change, Prices
    from .runs import RunTracker
    from .store import TariffStore

_LOGGER = logging.getLogger(__name__)

#: How late a run's end may still be made up after a restart, s.
END_GRACE = 86_400.0
#: Most missed occurrences logged for one schedule after a long downtime.
MAX_MISSED_LOGGED = 31


class ScheduleError(ValueError):
    """A schedule request that cannot be made; the message names the field."""


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


class ApplianceSchedules:
    """The schedules, their jobs, their log. Use on the loop."""

    def __init__(
        self, runtime: Runtime, prices: Prices, store: TariffStore, runs: RunTracker
    ) -> None:
        self.runtime = runtime
        self.prices = prices
        self.store = store
        self.runs = runs
        scheduler = runtime.scheduler
        assert scheduler is not None  # noqa: S101 - made by the runtime's core stage
        self.scheduler = scheduler
        self.jobs = ScheduleStore(
            storage_path(runtime.config_dir, "tariff.jobs.json"),
            scheduler,
            self._run,
            executor=runtime.run_in_executor,
        )
        self._remove_prices: Any = None
        #: Called with each new schedule log entry.
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        #: Called with ``("created" | "updated" | "deleted", schedule)`` whenever a schedule's
        #: definition changes: made, re-planned, advanced to its next run, or gone (deleted,
        #: or a one-shot that has run).
        self.definition_listeners: list[Callable[[str, dict[str, Any]], None]] = []

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Log runs missed beyond their grace, load the jobs (the store makes up the rest)."""
        now = self.runtime.clock.now()
        for spec in list(self.store.schedules.values()):
            self._log_missed(spec, now)
        await self.jobs.load()
        self._remove_prices = self.prices.subscribe(self._on_prices)
        for appliance in {s["appliance"] for s in self.store.schedules.values()}:
            self._show_next(appliance)

    async def stop(self) -> None:
        """Cancel the timers, write the jobs."""
        if self._remove_prices is not None:
            self._remove_prices()
        await self.jobs.close()

    # -- API ---------------------------------------------------------------------------------

    def create(self, request: dict[str, Any], user: str | None = None) -> dict[str, Any]:
        """Validate and add a schedule; returns it.

        Raises:
            ScheduleError: the request is invalid, in the past, or cannot be planned.
        """
        now = self.runtime.clock.now()
        try:
            valid = REQUEST_SCHEMA(request)
            if self.runtime.states.get(valid["appliance"]) is None:
                raise vol.Invalid(f"{valid['appliance']} does not exist", path=["appliance"])
            spec = build_spec(valid, self.runtime.core.tzinfo, now, ulid_now(), user)
        except vol.Invalid as err:
            where = ".".join(str(p) for p in err.path)
            raise ScheduleError(f"{where + ': ' if where else ''}{err.msg}") from None
        if spec["kind"] == "finish_by":
            try:
                self._plan(spec, now)
            except WindowError as err:
                raise ScheduleError(f"deadline: {err}") from None
        spec["baseline_price"] = self._baseline(spec, now)
        self.store.schedules[spec["id"]] = spec
        self._arm(spec)
        self.store.save()
        self._definition_changed("created", spec)
        self._show_next(spec["appliance"])
        return spec

    def delete(self, schedule_id: str) -> None:
        """Remove a schedule and its jobs; a run in progress gets its receipt now.

        Raises:
            KeyError: no such schedule.
        """
        spec = self.store.schedules.pop(schedule_id)
        self._disarm(schedule_id)
        # A run in progress is left as it is (the appliance is not switched), its receipt closed.
        self.runs.close_all(schedule_id)
        self.store.save()
        self._definition_changed("deleted", spec)
        self._show_next(spec["appliance"])

    def list(self) -> list[dict[str, Any]]:
        """Every schedule."""
        return list(self.store.schedules.values())

    # -- planning ----------------------------------------------------------------------------

    def _baseline(self, spec: dict[str, Any], now: datetime) -> float | None:
        """The average price of running from now (when the user asked), per kWh."""
        if "duration_s" in spec:
            length = timedelta(seconds=spec["duration_s"])
        else:
            length = _dt(spec["end"]) - _dt(spec["start"])
        cost = self.prices.timeline.cost(now, now + length, 1000.0)
        return None if cost is None else cost / (length.total_seconds() / 3600.0)

    def _plan(self, spec: dict[str, Any], now: datetime) -> None:
        plan = cheapest(
            self.prices.timeline,
            timedelta(seconds=spec["duration_s"]),
            now,
            _dt(spec["deadline"]),
            blocks=spec["blocks"],
        )
        spec["plan"] = [[b.start.isoformat(), b.end.isoformat()] for b in plan.blocks]
        spec["planned_at"] = now.isoformat()

    def _on_prices(self, change: Change) -> None:
        """Re-plan each finish-by schedule whose first block has not started."""
        if change.reason != "data":
            return
        now = change.when
        for spec in list(self.store.schedules.values()):
            if spec["kind"] != "finish_by" or _dt(spec["plan"][0][0]) <= now:
                continue
            old = spec["plan"]
            try:
                self._plan(spec, now)
            except WindowError as err:
                _LOGGER.warning("Schedule %s keeps its plan: %s", spec["name"], err)
                continue
            if spec["plan"] != old:
                _LOGGER.info("Schedule %s re-planned: %s", spec["name"], spec["plan"])
                self._disarm(spec["id"])
                self._arm(spec)
                self.store.save()
                self._definition_changed("updated", spec)
                self._show_next(spec["appliance"])

    # -- jobs --------------------------------------------------------------------------------

    def _job(
        self,
        job_id: str,
        spec: dict[str, Any],
        phase: str,
        trigger: dict[str, Any],
        *,
        run: str | None = None,
        grace: float | None = None,
        last: bool = True,
    ) -> None:
        data = {
            "entity_id": spec["appliance"],
            "schedule": spec["id"],
            "phase": phase,
            "last": last,
        }
        if run is not None:
            data["run"] = run
        self.jobs.add(
            ScheduledJob(
                id=job_id,
                name=f"{spec['name']} {phase}",
                trigger=trigger,
                action="appliance.turn_on" if phase == "start" else "appliance.turn_off",
                data=data,
                grace=spec["grace"] if grace is None else grace,
                created_by="tariff",
            )
        )

    def _arm(self, spec: dict[str, Any]) -> None:
        sid = spec["id"]
        if spec["kind"] == "finish_by":
            blocks = spec["plan"]
            for index, (start, end) in enumerate(blocks):
                last = index == len(blocks) - 1
                self._job(f"{sid}.b{index}.start", spec, "start", {"at": start}, run=sid)
                self._job(
                    f"{sid}.b{index}.end",
                    spec,
                    "end",
                    {"at": end},
                    run=sid,
                    grace=END_GRACE,
                    last=last,
                )
            spec["next_run"] = blocks[0][0]
            return
        if spec["kind"] == "once":
            self._job(f"{sid}.start", spec, "start", {"at": spec["start"]}, run=sid)
            self._job(f"{sid}.end", spec, "end", {"at": spec["end"]}, run=sid, grace=END_GRACE)
            spec["next_run"] = spec["start"]
            return
        self._job(f"{sid}.start", spec, "start", start_trigger(spec))
        spec["next_run"] = self._next_start(spec, self.runtime.clock.now()).isoformat()

    def _disarm(self, schedule_id: str) -> None:
        for job in self.jobs.list():
            if job.data.get("schedule") == schedule_id:
                self.jobs.remove(job.id)

    def _next_start(self, spec: dict[str, Any], after: datetime) -> datetime:
        trigger = start_trigger(spec)
        if "daily" in trigger:
            return self.scheduler.next_daily_time(time.fromisoformat(trigger["daily"]), after)
        return self.scheduler.next_cron_time(trigger["cron"], after)

    # -- running -----------------------------------------------------------------------------

    async def _run(self, job: ScheduledJob, when: datetime) -> None:
        """Execute one job through the appliance's services; log it."""
        # Imported here: the appliance integration is set up before the tariff.
        from integrations.appliance.const import Source  # noqa: PLC0415
        from integrations.appliance.control_log import tag_context  # noqa: PLC0415

        data = dict(job.data)
        spec = self.store.schedules.get(str(data.get("schedule")))
        if spec is None:
            return
        phase = str(data["phase"])
        appliance = spec["appliance"]
        service = "turn_on" if phase == "start" else "turn_off"
        context = Context()
        tag_context(self.runtime, context, Source.SCHEDULE, f"schedule {spec['name']}")
        error: str | None = None
        now = self.runtime.clock.now()  # the actual time: when the action started
        try:
            await self.runtime.services.call(
                "appliance", service, target={"entity_id": appliance}, context=context
            )
        except Exception as err:  # any failure is the log entry's result
            error = str(err) or type(err).__name__
        run_key = str(data.get("run") or f"{spec['id']}@{when.isoformat()}")
        if phase == "start":
            if error is None:
                self.runs.open(
                    run_key,
                    appliance,
                    {
                        "source": "schedule",
                        "schedule": spec["id"],
                        "planned_start": when.isoformat(),
                        "planned_end": self._planned_end(spec, when).isoformat(),
                        "baseline_price": spec.get("baseline_price"),
                    },
                )
            if spec["kind"] in ("daily", "weekdays"):
                end = when + timedelta(seconds=spec["duration_s"])
                self._job(
                    f"{spec['id']}.end@{when.isoformat()}",
                    spec,
                    "end",
                    {"at": end.isoformat()},
                    run=run_key,
                    grace=END_GRACE,
                )
                spec["next_run"] = self._next_start(spec, when).isoformat()
            elif spec["kind"] == "finish_by":
                later = [b[0] for b in spec["plan"] if _dt(b[0]) > when]
                spec["next_run"] = later[0] if later else None
            else:
                spec["next_run"] = None
        elif data.get("last", True):
            self.runs.close(run_key)
            if spec["kind"] in ("once", "finish_by"):
                self.store.schedules.pop(spec["id"], None)
        self.log_entry(spec, when, now, service, error=error)
        gone = spec["id"] not in self.store.schedules
        self._definition_changed("deleted" if gone else "updated", spec)
        self._show_next(appliance)

    def _planned_end(self, spec: dict[str, Any], when: datetime) -> datetime:
        if spec["kind"] == "once":
            return _dt(spec["end"])
        if spec["kind"] == "finish_by":
            return _dt(spec["plan"][-1][1])
        return when + timedelta(seconds=spec["duration_s"])

    def log_entry(
        self,
        spec: dict[str, Any],
        planned: datetime,
        actual: datetime | None,
        action: str,
        *,
        error: str | None,
        result: str | None = None,
    ) -> None:
        """Write a schedule log entry."""
        entry = {
            "schedule": spec["id"],
            "name": spec["name"],
            "appliance": spec["appliance"],
            "planned": planned.isoformat(),
            "actual": actual.isoformat() if actual else None,
            "lateness_ms": None
            if actual is None
            else round((actual - planned).total_seconds() * 1000.0, 3),
            "action": action,
            "result": result or ("error" if error else "ok"),
            "error": error,
        }
        self.store.log.append(entry)
        self.store.save()
        for listener in list(self.listeners):
            listener(entry)
        if entry["result"] != "ok":
            self.runtime.notifications.create(
                f"{spec['name']}: {action} planned for {entry['planned']} "
                f"{entry['result']}" + (f" ({error})" if error else ""),
                title="Schedule " + entry["result"],
                notification_id=f"tariff_schedule_{spec['id']}",
            )

    def _definition_changed(self, change: str, spec: dict[str, Any]) -> None:
        for listener in list(self.definition_listeners):
            listener(change, spec)

    def _log_missed(self, spec: dict[str, Any], now: datetime) -> None:
        """Log each start missed beyond grace while down; advance ``next_run``."""
        next_run = spec.get("next_run")
        if not next_run:
            return
        planned = _dt(next_run)
        grace = timedelta(seconds=spec["grace"])
        logged = 0
        while planned <= now and now - planned > grace and logged < MAX_MISSED_LOGGED:
            self.log_entry(
                spec, planned, None, "turn_on", error="Edgewise was not running", result="missed"
            )
            logged += 1
            if spec["kind"] in ("daily", "weekdays"):
                planned = self._next_start(spec, planned)
            else:
                break
        if spec["kind"] in ("daily", "weekdays"):
            spec["next_run"] = self._next_start(spec, now - grace).isoformat()
        elif logged:
            if spec["kind"] == "finish_by":
                later = [b[0] for b in spec["plan"] if _dt(b[0]) > now - grace]
                spec["next_run"] = later[0] if later else None
                if later:
                    return
            # A one-shot whose start is gone: its end job still switches it off if it ran.
            self.store.schedules.pop(spec["id"], None)
            self.store.save()
            self._definition_changed("deleted", spec)

    def _show_next(self, appliance: str) -> None:
        starts = [
            _dt(s["next_run"])
            for s in self.store.schedules.values()
            if s["appliance"] == appliance and s.get("next_run")
        ]
        entity = entity_index(self.runtime).get(appliance)
        setter = getattr(entity, "set_planned_start", None)
        if setter is not None:
            setter(min(starts) if starts else None)
