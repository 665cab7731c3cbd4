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
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TEMP_SUFFIX = ".tmp"
STALE_AFTER_S = 60  # a temp file without a writer's PID is stale once this old


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
            f"data={type(data).__name__} is not allowed: pass str, bytes or a function of the "
            "temporary file's name"
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
