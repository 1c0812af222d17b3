"""Writing a file that only its owner may read, whole or not at all.

Every file reviewflow writes for a person (an export, a report, a timeline, a diagram, a checkpoint) goes
through `write_private`: the bytes go to a new temporary file beside the target, made with mode 0600 whatever
the umask, then flushed, synced to disk and renamed over the target, and the folder is synced so the rename
survives a crash. A reader never sees half a file; when anything fails (a full disk, a folder that is not
writable, an error while the content is produced) the temporary file is removed and a previous file of that
name is left exactly as it was.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from reviewflow.engine.core.errors import InvalidValue

PRIVATE_MODE = 0o600
"""Read and write for the owner, nothing for anyone else."""
PRIVATE_FOLDER_MODE = 0o700

Content = bytes | str | Callable[[BinaryIO], None]
"""What to write: bytes, text (written as UTF-8), or a function that writes to the open binary file."""


def _temporary(path: Path) -> tuple[Path, int]:
    """A new file beside `path`, open for writing, mode 0600 (never an existing file: O_EXCL)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            handle = os.open(temporary, flags, PRIVATE_MODE)
        except FileExistsError:
            continue
        try:
            os.fchmod(handle, PRIVATE_MODE)  # os.open's mode is narrowed by the umask; this is exact
        except BaseException:
            os.close(handle)
            temporary.unlink(missing_ok=True)
            raise
        return temporary, handle


def sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (where the system can open a folder to sync it)."""
    try:
        handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def _write(path: Path, content: Content) -> None:
    temporary, handle = _temporary(path)
    try:
        with os.fdopen(handle, "wb") as out:
            if callable(content):
                content(out)
            else:
                out.write(content.encode("utf-8") if isinstance(content, str) else content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def write_private(path: Path, content: Content, field: str = "out", what: str | None = None) -> None:
    """Write `content` to `path` readable by its owner only (0600), atomically: all of it or, on any error,
    nothing (the temporary file is removed and a previous `path` is kept as it was).

    An operating-system error becomes a one-line `InvalidValue` about `field` ('cannot write WHAT: why', WHAT
    being `what` or the path); any other exception (one raised by a writing function) is raised as it is, after
    the cleaning up."""
    path = Path(path)
    try:
        _write(path, content)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InvalidValue(f"cannot write {what or path}: {reason}: check that the folder exists, that you may "
                           "write to it and that the disk has room; nothing was written", field=field,
                           value=str(path)) from None


def private_folder(folder: Path) -> Path:
    """Make `folder` (and any missing parents) if it does not exist, itself readable by its owner only; an
    existing folder keeps the mode it has."""
    folder = Path(folder)
    folder.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
    return folder
