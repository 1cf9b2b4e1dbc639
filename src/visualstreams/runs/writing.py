"""Whether results can be written into a directory, and by whom: created with one-line refusals, checked
writable (by writing a file) and roomy enough, held by one process at a time (:func:`lock_directory`), and
removed again when a refused command made it and left it empty. Run and compare directories
(:mod:`.rundir`) use these; imports the leaves only."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DirectoryInUse
from ..storage import check_writable, format_bytes, free_bytes

LOCK_FILE = "visualstreams.lock"  # in a directory while a process writes there; gone when it ends


@contextlib.contextmanager
def removed_if_left_empty(path: str | os.PathLike[str]) -> Iterator[None]:
    """Around work that creates ``path``: if it fails and leaves the directories it created empty (``path`` and any
    missing parent, ``runs/`` of ``runs/NAME``), they go too, so a refused run or analysis leaves nothing behind; a
    directory that was there, or holds something (a checkpoint), stays."""
    made: list[Path] = []  # the directories this work may create, deepest first
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        made.append(p)
        p = p.parent
    try:
        yield
    except BaseException:
        for directory in made:
            try:
                directory.rmdir()
            except OSError:  # not empty (or gone): it and its parents stay
                break
        raise


def _make_dir(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the directory ({exc.strerror})") from None
    return path


def ensure_writable_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` if needed and check, by writing a file, that results can be written into it."""
    path = _make_dir(path)
    try:
        check_writable(path)
    except OSError as exc:
        raise ConfigError(f"{path}: not writable ({exc.strerror})") from None
    return path


def run_disk_bytes(n_params: int) -> int:
    """Disk a run needs at most: model.pt, and checkpoint.pt (weights and Adam's two moments) twice over while
    its replacement is written, plus the JSON files and some slack."""
    return 4 * n_params * (1 + 2 * 3) + 2_000_000


def check_room(path: str | os.PathLike[str], need: int, what: str) -> None:
    """Refuse to start work whose results would not fit on the disk holding ``path``."""
    existing = Path(path).absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = free_bytes(existing)
    if free < need:
        raise ConfigError(f"{path}: {format_bytes(free)} free on its disk, {what} needs about "
                          f"{format_bytes(need)}; free some space or choose another output directory")


# -- one writer per directory ------------------------------------------------------------------------------------
class DirectoryLock:
    """This process's hold on a directory (see :func:`lock_directory`); a context manager, released on leaving the
    ``with`` block however it is left (normally, by an exception, by Ctrl-C)."""

    def __init__(self, directory: Path, path: Path, fd: int, key: str) -> None:
        self.directory, self.path = directory, path
        self._fd: int | None = fd
        self._key = key
        self._pid = os.getpid()
        self._depth = 1

    def __enter__(self) -> DirectoryLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @property
    def held(self) -> bool:
        return self._fd is not None and self._pid == os.getpid()

    def release(self) -> None:
        if not self.held:  # released already, or a forked child's copy: not its to release
            return
        self._depth -= 1
        if self._depth:
            return
        _HELD.pop(self._key, None)
        fd, self._fd = self._fd, None
        assert fd is not None
        try:
            # Unlinked while still locked: whoever opened the file meanwhile sees, once it has the lock, that the
            # name no longer leads to its file, and starts again (lock_directory). A clean exit leaves no lock file.
            with contextlib.suppress(OSError):
                if _same_file(fd, self.path):
                    os.unlink(self.path)
        finally:
            os.close(fd)


_HELD: dict[str, DirectoryLock] = {}  # this process's locks, by the lock file's real path


def lock_directory(directory: str | os.PathLike[str], name: str = LOCK_FILE) -> DirectoryLock:
    """Hold ``directory`` (created if need be) for this process, or refuse in one line
    (:class:`~visualstreams.errors.DirectoryInUse`) while another process holds it.

    An OS lock, ``fcntl.flock`` on the file ``name`` in it: the kernel holds it exactly while the process lives,
    so the lock of a process killed in any way (``kill -9`` included) is free at once, without guessing from pids.
    The file records the holder's pid, host and start for the refusal to name; a record left by a process that
    died holding the lock is taken over with a warning saying so. Re-entrant within one process (compare holds
    its directory and its similarity step takes it again); other processes, Ray workers among them, are others.
    """
    directory = _make_dir(directory)
    path = directory / name
    key = os.path.realpath(path)
    mine = _HELD.get(key)
    if mine is not None and mine.held:
        mine._depth += 1
        return mine
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # not inherited by child processes (PEP 446)
        except OSError as exc:
            raise ConfigError(f"{directory}: not writable ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise DirectoryInUse(f"{directory}: in use by {_describe(holder)}; one process writes into a directory "
                                 "at a time (wait for it to end, or stop it)") from None
        except OSError as exc:  # a file system without locks (ENOLCK)
            os.close(fd)
            raise ConfigError(f"{directory}: cannot be locked ({exc.strerror})") from None
        if _same_file(fd, path):
            break
        os.close(fd)  # its holder released it (and removed the file) between our open and flock: again
    previous = _read_holder(fd)  # a clean release removes the file: a record left here is a dead holder's
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
    lock = _HELD[key] = DirectoryLock(directory, path, fd, key)
    if previous:
        warnings.warn(f"{directory}: taking over the lock of dead {_describe(previous)}", RuntimeWarning,
                      stacklevel=3)
    return lock


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _read_holder(fd: int) -> dict[str, Any]:
    """The record in a lock file: empty when there is none (a holder that has not written it yet, or a torn one)."""
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _describe(holder: dict[str, Any]) -> str:
    if "pid" not in holder:
        return "another process"
    where = f" on {holder['host']}" if holder.get("host") and holder["host"] != socket.gethostname() else ""
    since = f" (since {holder['started']})" if holder.get("started") else ""
    return f"process {holder['pid']}{where}{since}"
