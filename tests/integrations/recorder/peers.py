"""A tiny tmpfs for the reliability tests (a full disk), and a way to fill it up.

Mounting needs root; when it cannot be done the test fails under CI and is skipped elsewhere,
always with the reason. Private PostgreSQL clusters are in ``tests/_postgres.py``.
"""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests._postgres import unavailable


@contextmanager
def tmpfs(size: str) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (e.g. ``"2m"``) on a fresh directory; unmount it afterwards."""
    mount_point = Path(tempfile.mkdtemp(prefix="edgewise-tmpfs-"))
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        mount_point.rmdir()
        unavailable(f"cannot mount a tmpfs (needs root): {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        # Lazy, so a file an aborted test left open cannot keep the mount (and the test) alive.
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
        mount_point.rmdir()


def fill_up(path: Path, chunk: int = 4096) -> int:
    """Write zeros to ``path`` until the filesystem is full; return the bytes written."""
    written = 0
    block = b"\0" * chunk
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        while True:
            try:
                written += os.write(fd, block)
            except OSError as err:
                if err.errno != errno.ENOSPC:
                    raise
                if chunk == 1:
                    break
                # Take the last pieces of the last page too.
                chunk = max(1, chunk // 8)
                block = b"\0" * chunk
    finally:
        os.close(fd)
    return written
