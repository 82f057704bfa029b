"""The recorder's database schema (SQLAlchemy 2 declarative models).

Designed for small rows on an SD card:

* entity ids, event types, attribute sets and event data are stored once each and referenced;
* timestamps are POSIX floats (8 bytes) rather than datetimes;
* ``last_changed_ts`` is NULL when it equals ``last_updated_ts`` (the common case for numbers);
* context ids are stored as the 16 bytes of their ULID, not as 26-character strings (an id that
  is not a ULID, as an API client may send, is stored as ``0xff`` followed by its UTF-8 bytes).

The schema version is in ``schema_changes`` (the one this code writes is
``const.SCHEMA_VERSION``); ``migration.py`` brings older databases forward.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: SQLite stores any INTEGER in 1-8 bytes; on PostgreSQL ids need 64 bits.
IdType = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """The declarative base of every recorder table."""


class SchemaChange(Base):
    """One applied schema version, the newest being the current one."""

    __tablename__ = "schema_changes"
    change_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    schema_version: Mapped[int] = mapped_column(Integer)
    changed_ts: Mapped[float] = mapped_column(Float)


class RecorderRun(Base):
    """One run of the recorder: when it started, when it ended, whether it ended cleanly."""

    __tablename__ = "recorder_runs"
    run_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    start_ts: Mapped[float] = mapped_column(Float, index=True)
    end_ts: Mapped[float | None] = mapped_column(Float)
    closed_incorrect: Mapped[bool] = mapped_column(Boolean, default=False)


class StatesMeta(Base):
    """Each entity id, stored once."""

    __tablename__ = "states_meta"
    metadata_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(255), unique=True)


class StateAttributes(Base):
    """One distinct set of attributes (JSON), shared by every state that has it."""

    __tablename__ = "state_attributes"
    attributes_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    hash: Mapped[int] = mapped_column(BigInteger, index=True)
    shared_attrs: Mapped[str] = mapped_column(Text)


class States(Base):
    """One recorded state change."""

    __tablename__ = "states"
    state_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    metadata_id: Mapped[int] = mapped_column(IdType, ForeignKey("states_meta.metadata_id"))
    state: Mapped[str | None] = mapped_column(String(255))
    attributes_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("state_attributes.attributes_id")
    )
    last_updated_ts: Mapped[float] = mapped_column(Float)
    #: NULL when equal to last_updated_ts.
    last_changed_ts: Mapped[float | None] = mapped_column(Float)
    old_state_id: Mapped[int | None] = mapped_column(IdType)
    context_id_bin: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    context_user_id: Mapped[str | None] = mapped_column(String(36))
    context_parent_id_bin: Mapped[bytes | None] = mapped_column(LargeBinary(16))

    __table_args__ = (
        # Covering for the history queries that need only the state (the downsampled buckets
        # read no table row), in the order they read: state_id breaks ties of time.
        Index(
            "ix_states_metadata_id_last_updated_ts_state",
            "metadata_id",
            "last_updated_ts",
            "state_id",
            "state",
        ),
        Index("ix_states_last_updated_ts", "last_updated_ts"),
    )


class EventTypes(Base):
    """Each event type, stored once."""

    __tablename__ = "event_types"
    event_type_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64), unique=True)


class EventData(Base):
    """One distinct event payload (JSON), shared by every event that has it."""

    __tablename__ = "event_data"
    data_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    hash: Mapped[int] = mapped_column(BigInteger, index=True)
    shared_data: Mapped[str] = mapped_column(Text)


class Events(Base):
    """One recorded event (other than state_changed, which is in ``states``)."""

    __tablename__ = "events"
    event_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    event_type_id: Mapped[int] = mapped_column(IdType, ForeignKey("event_types.event_type_id"))
    data_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("event_data.data_id"))
    origin_idx: Mapped[int] = mapped_column(SmallInteger, default=0)
    time_fired_ts: Mapped[float] = mapped_column(Float)
    context_id_bin: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    context_user_id: Mapped[str | None] = mapped_column(String(36))
    context_parent_id_bin: Mapped[bytes | None] = mapped_column(LargeBinary(16))

    __table_args__ = (
        Index("ix_events_event_type_id_time_fired_ts", "event_type_id", "time_fired_ts"),
        Index("ix_events_time_fired_ts", "time_fired_ts"),
    )


class StatisticsMeta(Base):
    """What a long-term statistic is: its id (an entity id), unit, and whether it has mean/sum."""

    __tablename__ = "statistics_meta"
    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    statistic_id: Mapped[str] = mapped_column(String(255), unique=True)
    source: Mapped[str] = mapped_column(String(32), default="recorder")
    unit_of_measurement: Mapped[str | None] = mapped_column(String(64))
    has_mean: Mapped[bool] = mapped_column(Boolean, default=False)
    has_sum: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str | None] = mapped_column(String(255))


class _StatisticsColumns:
    """Columns shared by the hourly and the 5-minute statistics tables."""

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    metadata_id: Mapped[int] = mapped_column(IdType, ForeignKey("statistics_meta.id"))
    start_ts: Mapped[float] = mapped_column(Float)
    created_ts: Mapped[float] = mapped_column(Float)
    mean: Mapped[float | None] = mapped_column(Float)
    min: Mapped[float | None] = mapped_column(Float)
    max: Mapped[float | None] = mapped_column(Float)
    last_reset_ts: Mapped[float | None] = mapped_column(Float)
    state: Mapped[float | None] = mapped_column(Float)
    sum: Mapped[float | None] = mapped_column(Float)


class Statistics(_StatisticsColumns, Base):
    """Hourly long-term statistics: never purged."""

    __tablename__ = "statistics"
    __table_args__ = (UniqueConstraint("metadata_id", "start_ts", name="uq_statistics_period"),)


class StatisticsShortTerm(_StatisticsColumns, Base):
    """5-minute statistics: the building blocks of the hourly rows, kept like states."""

    __tablename__ = "statistics_short_term"
    __table_args__ = (
        UniqueConstraint("metadata_id", "start_ts", name="uq_statistics_short_term_period"),
    )


class StatisticsRuns(Base):
    """The 5-minute periods whose statistics have been compiled (so none is done twice)."""

    __tablename__ = "statistics_runs"
    run_id: Mapped[int] = mapped_column(IdType, primary_key=True)
    start_ts: Mapped[float] = mapped_column(Float, unique=True)
