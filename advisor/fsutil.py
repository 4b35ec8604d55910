"""Reading and writing files safely.

Reading: :func:`read_bounded` reads a regular file of at most a given size and
refuses anything else (a device such as ``/dev/zero``, a FIFO, a folder) with
one line, before reading a byte; it never trusts ``st_size`` (0 for devices)
and never reads more than the limit plus one byte. :func:`read_line_bounded`
does the same for the first line of a stream (``--password-stdin``).

Writing: all or nothing per file, never over an existing one unless asked.

A file is written to a temporary name in the same folder, flushed to disk,
then renamed over the target (``os.replace`` is atomic on POSIX and Windows),
so a crash or Ctrl-C leaves either the old file or the whole new one, never
half of it. Existing files are refused before anything is written, so a
refused export changes nothing.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO, TextIO

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


# O_NONBLOCK: opening a FIFO for reading waits for a writer; without the flag a
# FIFO given as a file would hang before the type check below could refuse it.
_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_CHUNK = 64 * 1024


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def size_text(limit: int) -> str:
    """``16 MiB``, ``256 KiB``, ``512 bytes``: a limit as people say it."""
    if limit >= 1 << 20 and limit % (1 << 20) == 0:
        return f"{limit >> 20} MiB"
    if limit >= 1 << 10 and limit % (1 << 10) == 0:
        return f"{limit >> 10} KiB"
    return f"{limit} bytes"


def _open_regular(path: Path, what: str, error: type[AdvisorError]) -> int:
    """A descriptor for reading the regular file ``path``; anything else refused in one line."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error(f"{path}: {_kind(mode)}, not a file; expected {what}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # a regular file never blocks: no EAGAIN surprises
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bounded(
    path: Path, limit: int, *, what: str, error: type[AdvisorError] = AdvisorError
) -> bytes:
    """The bytes of the regular file ``path``, refused in one line if it is anything else
    or larger than ``limit`` bytes (``what`` names what the file should be: "a rule file").

    At most ``limit + 1`` bytes are ever read, whatever the file claims to be.
    """
    fd = _open_regular(path, what, error)
    chunks: list[bytes] = []
    left = limit + 1
    try:
        while left > 0:
            chunk = os.read(fd, min(left, _CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if left <= 0:
        raise error(f"{path}: larger than {size_text(limit)}; not {what}")
    return b"".join(chunks)


def open_regular(path: Path, *, what: str) -> BinaryIO:
    """``path`` opened for reading bytes as a stream, refused in one line unless it is a
    regular file (no FIFO to wait on, no device to read for ever)."""
    return open(_open_regular(path, what, AdvisorError), "rb")


def open_regular_text(
    path: Path,
    *,
    what: str,
    encoding: str = "utf-8",
    errors: str = "strict",
    newline: str | None = None,
) -> TextIO:
    """``path`` opened for reading text, for files read as a stream (a CSV of any length),
    refused in one line unless it is a regular file."""
    fd = _open_regular(path, what, AdvisorError)
    return open(fd, encoding=encoding, errors=errors, newline=newline)


def read_line_bounded(stream: TextIO, limit: int, *, what: str) -> str:
    """The first line of ``stream`` without its line break, at most ``limit`` characters.

    ``/dev/zero`` or an endless pipe on standard input costs ``limit`` characters of
    memory, then one line of error, instead of growing until the machine gives up.
    """
    try:
        line = stream.readline(limit + 2)  # the text, then "\r\n" at most
    except UnicodeDecodeError:
        raise AdvisorError(f"{what}: standard input is not UTF-8 text") from None
    except (OSError, ValueError) as exc:  # ValueError: a closed stream
        raise AdvisorError(f"{what}: cannot read standard input: {exc}") from None
    value = line.removesuffix("\n").removesuffix("\r")
    if len(value) > limit:
        raise AdvisorError(f"{what}: the first line is longer than {limit} characters")
    return value


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
