"""Context: who or what caused an event, so a chain of effects can be traced to its origin."""

from __future__ import annotations

from typing import TypedDict

from ulid_transform import ulid_now


class ContextDict(TypedDict):
    """The JSON form of a Context, as Home Assistant clients expect it."""

    id: str
    parent_id: str | None
    user_id: str | None


class Context:
    """The origin of an event: its own id, the id of the context it derives from, and a user.

    The id is a ULID, generated only when first read: most events on a busy bus are never
    recorded or traced, and not generating their ids keeps ``fire()`` cheap.
    """

    __slots__ = ("_id", "parent_id", "user_id")

    def __init__(
        self,
        user_id: str | None = None,
        parent_id: str | None = None,
        id: str | None = None,  # noqa: A002 - the field is called "id" on the wire
    ) -> None:
        self._id = id
        self.user_id = user_id
        self.parent_id = parent_id

    @property
    def id(self) -> str:
        """The context's ULID."""
        if self._id is None:
            self._id = ulid_now()
        return self._id

    def child(self, user_id: str | None = None) -> Context:
        """A new context caused by this one (same user unless another is given)."""
        return Context(user_id=user_id if user_id is not None else self.user_id, parent_id=self.id)

    def as_dict(self) -> ContextDict:
        """The JSON-serialisable form."""
        return {"id": self.id, "parent_id": self.parent_id, "user_id": self.user_id}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Context) and self.id == other.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"<Context id={self.id} parent_id={self.parent_id} user_id={self.user_id}>"
