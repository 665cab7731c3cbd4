"""One way to write a file so that a crash never leaves it half written (every notebook
that saves a checkpoint, every sweep that appends to a results CSV, notebook 08's DDP run).

``atomic_write(path, data)`` writes ``data`` to a temporary file in the same folder,
flushes it to disk, gives it the mode a plain ``open(path, "w")`` would (0644 under the
usual umask 022; ``mkstemp`` alone makes 0600), then renames it over ``path`` with
``os.replace``, which is atomic on POSIX and Windows. A reader sees the old file or the
new one, never a mixture. If anything fails, or the writer is interrupted
(``KeyboardInterrupt``), the temporary file is removed and ``path`` is left as it was.
A process killed outright (SIGKILL) cannot clean up: ``temp_files(path)`` lists what such
a kill left, and ``remove_stale_temp_files(path)`` removes those whose writer (its PID is
in the name) is no longer running, so the next save cleans up after a killed one.

``folder_lock(folder)`` serialises writers of one folder (the sweeps of ``course_lib.experiments.sweep``)
with ``flock``; a lock held longer than ``LOCK_WAIT_S`` raises ``FolderLocked``, naming the
holder's PID, command and age, instead of waiting forever.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from course_lib.config import _

try:  # POSIX; on Windows sweeps run unlocked (one sweep per CSV at a time)
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

TEMP_SUFFIX = ".tmp"
STALE_AFTER_S = 60  # a temp file without a writer's PID is stale once this old
LOCK_WAIT_S = 120.0  # the longest wait for another writer's lock on a folder


def _temp_prefix(path: Path) -> str:
    return path.name + "."


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or a platform that cannot tell: keep its file
    return True


def _umask() -> int:
    mask = os.umask(0o022)  # the only portable way to read it is to set it
    os.umask(mask)
    return mask


def atomic_write(
    path: str | os.PathLike, data: str | bytes | Callable[[str], object], mode: int = 0o644
) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path`` as a Path.

    ``data``: text (written as UTF-8), bytes, or a function called with the temporary
    file's name that writes it (e.g. ``lambda tmp: torch.save(obj, tmp)``).
    ``mode``: permission bits before the umask is applied. The folder must exist.
    """
    path = Path(path)
    if not isinstance(data, str | bytes) and not callable(data):
        raise TypeError(
            _(
                "data={kind} is not allowed: pass str, bytes or a function of the "
                "temporary file's name"
            ).format(kind=type(data).__name__)
        )
    prefix = f"{_temp_prefix(path)}{os.getpid()}."  # the writer's PID: see remove_stale_temp_files
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=TEMP_SUFFIX)
    try:
        if callable(data):
            os.close(fd)
            data(tmp)
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
        with open(tmp, "rb+") as f:  # on disk before the rename, so a power cut keeps one
            os.fsync(f.fileno())
        os.chmod(tmp, mode & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def temp_files(path: str | os.PathLike) -> list[Path]:
    """Temporary files ``atomic_write(path, ...)`` left behind when its process was killed."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    pattern = _temp_prefix(path) + "*" + TEMP_SUFFIX
    return sorted(p for p in path.parent.glob(pattern) if p.is_file())


def remove_stale_temp_files(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of ``atomic_write(path, ...)`` whose writer was killed: the
    PID in the name runs no more (or, for a name without one, older than STALE_AFTER_S).
    A concurrent writer's file is left alone. Returns the files removed."""
    path = Path(path)
    removed = []
    for tmp in temp_files(path):
        pid = tmp.name[len(_temp_prefix(path)) :].split(".", 1)[0]
        if pid.isdigit() and len(tmp.name.split(".")) > len(path.name.split(".")) + 2:
            stale = not _alive(int(pid))
        else:
            try:
                stale = time.time() - tmp.stat().st_mtime > STALE_AFTER_S
            except OSError:
                continue
        if stale:
            try:
                tmp.unlink()
            except FileNotFoundError:
                continue
            removed.append(tmp)
    return removed


class FolderLocked(TimeoutError):
    """Another live process held a sweep folder's lock for longer than LOCK_WAIT_S."""


def lock_holder(folder: Path) -> str:
    """Who holds the ``flock`` on ``folder``: PID, command and how long it has run, read
    from /proc (Linux); "another process" where that cannot be read."""
    try:
        inode, dev = os.stat(folder).st_ino, os.stat(folder).st_dev
        for line in Path("/proc/locks").read_text().splitlines():
            parts = line.split()
            if len(parts) > 5 and parts[1] == "FLOCK" and parts[5].count(":") == 2:
                major, minor, ino = parts[5].split(":")
                if int(ino) == inode and os.makedev(int(major, 16), int(minor, 16)) == dev:
                    return _describe(int(parts[4]))
    except (OSError, ValueError):
        pass
    return "another process"


def _describe(pid: int) -> str:
    proc = Path(f"/proc/{pid}")
    try:
        command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()[:80]
        ticks = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        age = uptime - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return _("process {pid}").format(pid=pid)
    return _("process {pid} ({command}, running for {age:.0f} s)").format(
        pid=pid, command=repr(command), age=age
    )


@contextlib.contextmanager
def folder_lock(folder: Path, wait_s: float | None = None):
    """An exclusive ``flock`` on ``folder`` while the block runs (released by a kill too).

    Waits at most ``wait_s`` (``LOCK_WAIT_S``) for another writer: a sweep holds the lock
    for one append, so a longer hold is a process stuck or stopped; ``FolderLocked``
    then names its PID and how long it has run."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    wait_s = LOCK_WAIT_S if wait_s is None else wait_s
    fd = os.open(folder, os.O_RDONLY)
    try:
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - start
                if waited >= wait_s:
                    raise FolderLocked(
                        _(
                            "results folder {folder} is locked by {holder}, held for "
                            "over {waited:.0f} s: another sweep (or a stopped one) is writing "
                            "there; wait for it to end, or stop that process, then rerun"
                        ).format(folder=folder, holder=lock_holder(folder), waited=waited)
                    ) from None
                time.sleep(min(0.05 * 2 ** min(waited, 5), 1.0))
        yield
    finally:
        os.close(fd)


def check_output_path(
    path: str | os.PathLike, field: str, needs_bytes: int = 0, probe_bytes: int = 0
) -> Path:
    """``path`` as a Path once a file can be written there; a ValueError naming ``field``
    otherwise. Makes the missing folders, and probes with a temporary file (removed) into
    which ``probe_bytes`` bytes are written and synced, so that a full disk shows now.
    ``~`` is expanded (a folder literally named ``~`` is never made)."""
    path = Path(path).expanduser()
    try:
        if path.is_dir():
            raise ValueError(
                _("{field}={path} is not allowed: it is a folder, not a file").format(
                    field=field, path=repr(str(path))
                )
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        try:
            if probe_bytes:
                os.write(fd, b"\0" * probe_bytes)
                os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as err:
        why = {
            errno.ENAMETOOLONG: _("the name is too long for the file system"),
            errno.ENOTDIR: _("a file stands where a folder should be"),
            errno.EEXIST: _("a file stands where a folder should be"),
            errno.EACCES: _("no permission to write there"),
            errno.EPERM: _("no permission to write there"),
            errno.EROFS: _("the file system is read-only"),
            errno.ENOSPC: _("the disk is full"),
        }.get(err.errno)
        why = f"{why}: {err.strerror}" if why else err.strerror  # ours, then the OS's words
        raise ValueError(
            _("{field}={path} is not allowed: it cannot be written ({why})").format(
                field=field, path=repr(str(path)), why=why
            )
        ) from None
    free = shutil.disk_usage(path.parent).free
    if needs_bytes > free:
        raise ValueError(
            _(
                "{field}={path} is not allowed: it needs about {needs:.1f} MiB "
                "and only {free:.1f} MiB are free there"
            ).format(
                field=field, path=repr(str(path)), needs=needs_bytes / 2**20, free=free / 2**20
            )
        )
    return path
