"""Backtest an automation against recorded history: what it would have done, before enabling it.

``run.backtest`` validates the automation as saving would, replays the recorder's state changes
and events of a period in an isolated runtime on a ``FakeClock`` (``engine.Replay`` in a
``sandbox.Sandbox``) and returns the report (``report.build_report``). ``api`` serves it as the
WebSocket command ``automation/backtest`` and ``POST /api/config/automation/backtest``.

Nothing here is imported until a backtest is asked for: the replay reads the recorder's
database with SQLAlchemy.
"""
