"""Reading and writing files safely.

Reading: :func:`read_bounded` reads a regular file of at most a given size and
refuses anything else (a device such as ``/dev/zero``, a FIFO, a folder) with
one line, before reading a byte; it never trusts ``st_size`` (0 for devices)
and never reads more than the limit plus one byte. :func:`read_line_bounded`
does the same for the first line of a stream (``--password-stdin``).

Writing: all or nothing, never over an existing file unless asked, never
through a symbolic link inside the output folder, with the permissions the
umask gives (files are created 0666 less the umask, as every program's are;
0600 for private ones).

A file is written to a temporary name in the same folder, flushed to disk,
then renamed over the target (``os.replace`` is atomic on POSIX and Windows),
so a crash or Ctrl-C leaves either the old file or the whole new one, never
half of it. :func:`write_all` does that for a set of files at once: existing
files are refused before anything is written, and a failure half-way puts
back what was there, so a failed export changes nothing.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from advisor.errors import AdvisorError
from advisor.i18n import _


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
        return _("a folder")
    if stat.S_ISFIFO(mode):
        return _("a pipe (FIFO)")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return _("a device")
    if stat.S_ISSOCK(mode):
        return _("a socket")
    return _("something else")


def _not_a_file(path: Path, mode: int, what: str) -> str:
    return _("{path}: {kind}, not a file; expected {what}").format(
        path=path, kind=_kind(mode), what=what
    )


def cannot_read(path: Path, exc: OSError) -> str:
    return _("{path}: cannot read: {reason}").format(path=path, reason=exc.strerror or exc)


def cannot_write(path: object, exc: OSError) -> str:
    return _("{path}: cannot write: {reason}").format(path=path, reason=exc.strerror or exc)


def size_text(limit: int) -> str:
    """``16 MiB``, ``256 KiB``, ``512 bytes``: a limit as people say it."""
    if limit >= 1 << 20 and limit % (1 << 20) == 0:
        return _("{count} MiB").format(count=limit >> 20)
    if limit >= 1 << 10 and limit % (1 << 10) == 0:
        return _("{count} KiB").format(count=limit >> 10)
    return _("{count} bytes").format(count=limit)


def too_large(path: Path, limit: int, what: str) -> str:
    return _("{path}: larger than {size}; not {what}").format(
        path=path, size=size_text(limit), what=what
    )


def too_deep(path: Path, what: str) -> str:
    """For a parser's RecursionError: JSON or TOML nested deeper than it recurses."""
    return _("{path}: nested too deeply; not {what}").format(path=path, what=what)


def _open_regular(
    path: Path, what: str, error: type[AdvisorError], *, follow_symlinks: bool = True
) -> int:
    """A descriptor for reading the regular file ``path``; anything else refused in one line."""
    flags = _READ_FLAGS if follow_symlinks else _READ_FLAGS | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise error(_("{path}: a symbolic link; not followed").format(path=path)) from None
        raise error(cannot_read(path, exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error(_not_a_file(path, mode, what))
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
        raise error(cannot_read(path, exc)) from None
    finally:
        os.close(fd)
    if left <= 0:
        raise error(too_large(path, limit, what))
    return b"".join(chunks)


def open_regular(path: Path, *, what: str, follow_symlinks: bool = True) -> io.BufferedReader:
    """``path`` opened for reading bytes as a stream, refused in one line unless it is a
    regular file (no FIFO to wait on, no device to read for ever)."""
    fd = _open_regular(path, what, AdvisorError, follow_symlinks=follow_symlinks)
    return open(fd, "rb")


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
        raise AdvisorError(
            _("{what}: standard input is not UTF-8 text").format(what=what)
        ) from None
    except (OSError, ValueError) as exc:  # ValueError: a closed stream
        raise AdvisorError(
            _("{what}: cannot read standard input: {reason}").format(what=what, reason=exc)
        ) from None
    value = line.removesuffix("\n").removesuffix("\r")
    if len(value) > limit:
        raise AdvisorError(
            _("{what}: the first line is longer than {limit} characters").format(
                what=what, limit=limit
            )
        )
    return value


class LinkRefused(AdvisorError):
    """A symbolic link where advisor writes: it is never written through."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            _(
                "{path}: a symbolic link inside the output folder; advisor does not write"
                " through links (remove it, or choose another folder)"
            ).format(path=path)
        )


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
FILE_MODE = 0o666  # before the umask, as every program that creates files asks
PRIVATE_MODE = 0o600  # files only their owner may read (the cache: reports name people)


def _relative(root: Path, path: Path) -> tuple[str, ...]:
    """The parts of ``path`` below ``root``; a path outside it is a bug of ours."""
    parts = path.relative_to(root).parts
    if not parts or any(part in ("", ".", "..") for part in parts):
        raise AdvisorError(_("{path}: not a file name inside {root}").format(path=path, root=root))
    return parts


def _check_no_links(root: Path, parts: tuple[str, ...]) -> None:
    """Every existing component below ``root`` is a real folder, and the file itself,
    if it exists, is not a link (lstat: links are looked at, never followed)."""
    current = root
    for index, part in enumerate(parts):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return  # nothing further down exists yet
        except OSError:
            return  # the write reports it, with its reason
        if stat.S_ISLNK(mode):
            raise LinkRefused(current)
        if index < len(parts) - 1 and not stat.S_ISDIR(mode):
            return  # not a folder: the write says so


def _make_folders(root: Path, parts: tuple[str, ...]) -> list[Path]:
    """Create the folders of ``parts`` below ``root`` (not following links); returns
    the folders made, outermost first."""
    made: list[Path] = []
    current = root
    for part in parts[:-1]:
        current = current / part
        try:
            os.mkdir(current)
            made.append(current)
        except FileExistsError:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                raise LinkRefused(current) from None
    return made


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """A new file (never an existing one, never through a link), fsynced. ``mode``
    is filtered by the umask, as ``open()`` does: exported files get the
    permissions the user's other files get."""
    fd = os.open(path, _WRITE_FLAGS, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def _temporary_name(path: Path) -> Path:
    # The names _remove_temporaries (onboard) and every cleanup know: ".NAME.xxxx.tmp".
    return path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")


def file_mode(private: bool = False) -> int:
    """The permissions a new file gets here: 0666 (0600 private) less the umask."""
    mask = _umask()
    return (PRIVATE_MODE if private else FILE_MODE) & ~mask


def _umask() -> int:
    # /proc says it without changing it (os.umask would, for every thread at once).
    with (
        contextlib.suppress(OSError, ValueError),
        open("/proc/self/status", encoding="ascii") as status,
    ):
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(
    path: Path, data: bytes, *, mode: int = FILE_MODE, root: Path | None = None
) -> None:
    """Write ``data`` to ``path`` atomically (same-folder temp file, fsync, rename).

    The file gets ``mode`` less the umask. With ``root`` (the output folder),
    no symbolic link between ``root`` and ``path``, nor ``path`` itself, is
    followed: :class:`LinkRefused`.
    """
    if root is not None:
        parts = _relative(root, path)
        _check_no_links(root, parts)
        root.mkdir(parents=True, exist_ok=True)
        _make_folders(root, parts)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path)
    _write_new(tmp, data, mode)
    try:
        if root is not None and stat.S_ISLNK(_lmode(path)):  # planted meanwhile
            raise LinkRefused(path)
        os.replace(tmp, path)  # replaces a link itself, never what it points to
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _lmode(path: Path) -> int:
    try:
        return os.lstat(path).st_mode
    except FileNotFoundError:
        return 0


def write_all(files: Mapping[Path, bytes], *, force: bool, root: Path | None = None) -> list[Path]:
    """Write every file, or none: refused if one exists and ``force`` is false, and
    undone if one cannot be written.

    ``root`` is the output folder (default: the folder the files have in common);
    a symbolic link inside it is never written through (:class:`LinkRefused`).
    Every file is first written whole in a staging folder inside ``root``, then
    renamed into place; a failure half-way puts back what was there (the old
    files are kept as hard links until the end) and removes the folders made,
    so a failed export leaves the folder as it found it.
    """
    if not files:
        return []
    if root is None:
        root = Path(os.path.commonpath([p.parent for p in files]))
    relative = {path: _relative(root, path) for path in files}
    for parts in relative.values():
        _check_no_links(root, parts)
    existing = [p for p in files if os.path.lexists(p)]
    if existing and not force:
        raise WouldOverwrite(existing)
    try:
        return _write_staged(files, relative, root)
    except OSError as exc:
        where = exc.filename if exc.filename is not None else root
        raise AdvisorError(cannot_write(where, exc)) from None


def _write_staged(
    files: Mapping[Path, bytes], relative: Mapping[Path, tuple[str, ...]], root: Path
) -> list[Path]:
    made_root = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".advisor-export.", suffix=".tmp", dir=root))
    made: list[Path] = []
    placed: list[tuple[Path, Path | None]] = []  # (file, the old version kept aside)
    try:
        staged = {}
        for number, (path, data) in enumerate(files.items()):
            staged[path] = stage / str(number)
            _write_new(staged[path], data, FILE_MODE)
        for path in files:
            made += _make_folders(root, relative[path])
            old = None
            mode = _lmode(path)
            if stat.S_ISLNK(mode):  # planted since the check
                raise LinkRefused(path)
            if mode:
                old = stage / f"old-{len(placed)}"
                _keep_aside(path, old)
            placed.append((path, old))
            os.replace(staged[path], path)
    except BaseException:
        for path, old in reversed(placed):
            with contextlib.suppress(OSError):
                if old is not None:
                    os.replace(old, path)
                else:
                    os.unlink(path)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                os.rmdir(folder)
        shutil.rmtree(stage, ignore_errors=True)
        if made_root:
            with contextlib.suppress(OSError):
                os.rmdir(root)
        raise
    shutil.rmtree(stage, ignore_errors=True)
    return list(files)


def _keep_aside(path: Path, aside: Path) -> None:
    """A second name for the old file, so that it can be put back; the file keeps
    its own name until the new one replaces it in one rename."""
    try:
        os.link(path, aside)  # ``path`` is no link: checked by the caller
    except OSError:  # a file system without hard links: a copy will do
        shutil.copy2(path, aside, follow_symlinks=False)


def private_folder(folder: Path) -> None:
    """``folder`` (and missing parents) made, readable by its owner only (0700); an
    existing one of ours that others could read is narrowed to 0700."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.stat(folder)
    if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == getattr(os, "geteuid", lambda: -1)():
        os.chmod(folder, 0o700)
