"""Writing files safely: all or nothing per file, never over an existing one unless asked.

A file is written to a temporary name in the same folder, flushed to disk,
then renamed over the target (``os.replace`` is atomic on POSIX and Windows),
so a crash or Ctrl-C leaves either the old file or the whole new one, never
half of it. Existing files are refused before anything is written, so a
refused export changes nothing.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from advisor.errors import AdvisorError


class WouldOverwrite(AdvisorError):
    """Files exist and --force was not given; nothing was written."""

    def __init__(self, paths: list[Path]) -> None:
        shown = ", ".join(str(p) for p in paths[:5]) + (" ..." if len(paths) > 5 else "")
        super().__init__(
            f"{len(paths)} file(s) already exist and were left alone: {shown}"
            " (use --force to replace them)"
        )
        self.paths = paths


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically (same-folder temp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_all(files: Mapping[Path, bytes], *, force: bool) -> list[Path]:
    """Write every file, or none if one exists and ``force`` is false."""
    if not force:
        existing = [p for p in files if p.exists()]
        if existing:
            raise WouldOverwrite(existing)
    written = []
    for path, data in files.items():
        try:
            atomic_write(path, data)
        except OSError as exc:
            raise AdvisorError(f"{path}: cannot write: {exc.strerror}") from None
        written.append(path)
    return written
