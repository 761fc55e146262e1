"""I/O helpers shared by the storage backends: durable folders and error translation.

Vendor and OS errors are translated here, at the storage boundary: a missing
object becomes :class:`~modelyard.exceptions.NotFoundError`, any other I/O failure
:class:`~modelyard.exceptions.StoreError`, each naming the key and the storage.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from modelyard.exceptions import NotFoundError, StoreError

__all__ = ["atomic_file", "fsync_dir", "make_dirs", "source_errors", "storage_errors"]


@contextlib.contextmanager
def atomic_file(final: Path, suffix: str = ".tmp") -> Iterator[BinaryIO]:
    """Yield a temporary file next to ``final``; rename it there only on success.

    On a clean exit the file is flushed, fsync'ed, renamed over ``final`` with
    :func:`os.replace` and the folder fsync'ed. On any error the temporary file is
    removed, so nothing partial is ever left under ``final`` (nor beside it).
    """
    fd, temp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=suffix, dir=final.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    fsync_dir(final.parent)


def make_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents, fsync'ing each new entry's parent."""
    missing: list[Path] = []
    current = folder
    while not current.is_dir():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another writer was faster
            path.mkdir()
        fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename or new entry in ``folder`` durable (POSIX; a no-op on Windows)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def source_errors(source: Path) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError as exc:
        raise NotFoundError(f"no local file {str(source)!r} to store", path=str(source)) from exc
    except OSError as exc:
        raise StoreError(
            f"cannot read the local file {str(source)!r}: {exc.strerror or exc}",
            path=str(source),
        ) from exc


@contextlib.contextmanager
def storage_errors(url: str, key: str, action: str) -> Iterator[None]:
    """Translate OS/vendor errors met while doing ``action`` on ``key``."""
    try:
        yield
    except FileNotFoundError as exc:
        if action != "write":  # a folder vanishing mid-write is an I/O failure
            raise NotFoundError(
                f"no object {key!r} in the artifact storage at {url}", key=key, storage=url
            ) from exc
        raise _io_error(url, key, action, exc) from exc
    except OSError as exc:
        raise _io_error(url, key, action, exc) from exc


def _io_error(url: str, key: str, action: str, exc: OSError) -> StoreError:
    return StoreError(
        f"cannot {action} {key!r} in the artifact storage at {url}: {exc.strerror or exc}; "
        "check that it exists, is reachable and writable, and has free space",
        key=key,
        storage=url,
        action=action,
    )
