"""Free disk space, and the level below which Edgewise stops writing history.

The recorder pauses below ``DEFAULT_MIN_FREE_BYTES`` (200 MiB) free, or below
``MIN_FREE_SHARE`` of the file system when that is smaller (a small partition or a test's
tmpfs), and resumes above the higher resume mark; ``edgewise doctor`` fails at the same level.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .const import (
    DEFAULT_MIN_FREE_BYTES,
    DEFAULT_RESUME_FREE_BYTES,
    MIN_FREE_SHARE,
    RESUME_FREE_SHARE,
)


@dataclass(frozen=True, slots=True)
class DiskSpace:
    """A file system's size and the space an unprivileged writer may still use, in bytes."""

    total: int
    free: int


def disk_space(directory: Path) -> DiskSpace:
    """The space of ``directory``'s file system (``statvfs``: a few microseconds)."""
    stats = os.statvfs(directory)
    return DiskSpace(stats.f_blocks * stats.f_frsize, stats.f_bavail * stats.f_frsize)


def pause_level(total: int, min_free: int = DEFAULT_MIN_FREE_BYTES) -> int:
    """Free bytes below which history is not written on a file system of ``total`` bytes."""
    return min(min_free, int(total * MIN_FREE_SHARE))


def resume_level(total: int, resume_free: int = DEFAULT_RESUME_FREE_BYTES) -> int:
    """Free bytes above which a paused recorder writes again."""
    return min(resume_free, int(total * RESUME_FREE_SHARE))
