"""Files that are never half-written: atomic replacement, durable appends, and cleaning up after a crash.

Everything digitlib writes (the MNIST cache, models and their cards, saved runs, benchmark figures) goes through
`write_atomic`: the content goes to a temporary file in the same folder, is flushed to disk, and only then renamed
over the target, so a crash or a full disk leaves either the old file or the new one, never a mix. User data that
grows (personal drawings) goes through `append_line`, so a crash can lose at most the line being written.

Temporary files are named ``.NAME.PID.RANDOM.digitlib-tmp[.SUFFIX]``: a later run finds the ones whose process
is gone (killed mid-write) and removes them with `remove_leftovers`, while a write in progress elsewhere is left
alone.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

TEMP_MARK = "digitlib-tmp"
_TEMP_NAME = re.compile(rf"\.(?P<pid>\d+)\.[^.]+\.{TEMP_MARK}(\.[^.]*)?$")


def default_mode() -> int:
    """The mode a new file gets from the process umask (0644 under the usual umask 022)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def temp_file(path: str | os.PathLike, keep_suffix: bool = False) -> Path:
    """A new empty temporary file beside ``path``, named so `remove_leftovers` finds it if this process dies
    (ending in ``path``'s suffix with ``keep_suffix``: Keras checks it). The caller commits or removes it."""
    path = Path(path)
    suffix = path.suffix if keep_suffix else ""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=f".{TEMP_MARK}{suffix}")
    os.close(fd)
    os.chmod(name, default_mode())  # mkstemp creates 0600; these are ordinary files
    return Path(name)


def commit(tmp: Path, path: str | os.PathLike) -> Path:
    """Make a written temporary file durable and rename it over ``path`` (the moment the write takes effect)."""
    path = Path(path)
    with open(tmp, "rb+") as f:  # whatever wrote it, its bytes are on disk before the rename
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_folder(path.parent)
    return path


def write_atomic(path: str | os.PathLike, content: bytes | Callable[[Path], None], keep_suffix: bool = False) -> Path:
    """Replace ``path`` with ``content`` atomically; return the path.

    ``content`` is the bytes to write, or a function that writes the file at the path it is given (for writers
    that insist on a file name, like ``model.save``). With ``keep_suffix`` the temporary file ends in the target's
    suffix (Keras checks it). The folder is created if needed; on any error, including Ctrl-C, the temporary file
    is removed and the old ``path`` is untouched (an `OSError` names ``path``).
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_file(path, keep_suffix)
        if callable(content):
            content(tmp)
        else:
            tmp.write_bytes(content)
        commit(tmp, path)
    except OSError as err:  # name the user's file, not the temporary one
        raise OSError(err.errno, f"cannot write {path} ({err.strerror or err}); it is unchanged") from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return path


def replace_folder(folder: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Replace ``folder`` with what ``write`` creates at the path it is given, all at once: the new folder is
    written beside it and renamed into place, the old one moved aside first and put back on any error."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = temp_folder(folder.parent, folder.name)
    old = None
    try:
        write(work / "new")
        if folder.exists():  # move the old one aside first: a folder cannot be renamed over a non-empty one
            old = work / "old"
            os.replace(folder, old)
        os.replace(work / "new", folder)
        _fsync_folder(folder.parent)
    except BaseException:
        if old is not None and not folder.exists():
            os.replace(old, folder)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def append_line(path: str | os.PathLike, line: str) -> None:
    """Append one line of text to ``path`` and make it durable (flush + fsync) before returning."""
    if "\n" in line:
        raise ValueError("append_line writes one line: the text must not contain a newline")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, default_mode())
    try:
        data = (line + "\n").encode("utf-8")
        while data:  # a write to a regular file may be short on a full disk or a signal
            written = os.write(fd, data)
            data = data[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (not possible on every platform or file system: then skipped)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except OSError:
        return True
    return True


def remove_leftovers(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files (and folders) that killed digitlib processes left in ``folder``.

    Only leftovers whose process is gone are removed, so a write that another process is doing right now is kept.
    Returns what was removed; a folder that does not exist or cannot be listed has none.
    """
    folder = Path(folder)
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.search(entry.name)
        if match is None or _process_alive(int(match["pid"])):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError:
            continue
        removed.append(entry)
    return removed


def temp_folder(parent: str | os.PathLike | None = None, name: str = "work") -> Path:
    """A new temporary folder named so that `remove_leftovers` on ``parent`` finds it if this process dies.

    The caller removes it (``shutil.rmtree``) when done. ``parent`` defaults to the system's temporary folder.
    """
    parent = Path(tempfile.gettempdir() if parent is None else parent)
    return Path(tempfile.mkdtemp(dir=parent, prefix=f".{name}.{os.getpid()}.", suffix=f".{TEMP_MARK}"))
