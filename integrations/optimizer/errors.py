"""The optimizer's typed errors."""

from __future__ import annotations

from core.errors import EdgewiseError


class OptimizerInputError(EdgewiseError, ValueError):
    """A request's input is malformed; ``field`` names the offending key (``loads.1.hours``)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.message = message
        self.field = field
