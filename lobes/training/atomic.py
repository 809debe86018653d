"""Files that appear only when complete: written under a temporary name in
the same folder, flushed to disk, then renamed over the target; a failed
write leaves what was there before, and no partial file.

Authors
 * sepformer-lobes contributors 2026
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL = ".partial"  # suffix of what is being written


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path next to ``path`` to write; on success it is
    synced and renamed to ``path``, on failure removed.

    Arguments
    ---------
    path : path
        The file to write.

    Yields
    ------
    Path
        Where to write it.

    Example
    -------
    >>> target = getfixture("tmp_path") / "a.txt"
    >>> with replacing(target) as partial:
    ...     _ = partial.write_text("complete")
    >>> target.read_text(), partial.exists()
    ('complete', False)
    >>> with replacing(target) as partial:  # doctest: +ELLIPSIS
    ...     _ = partial.write_text("half")
    ...     raise OSError(28, "No space left on device")
    Traceback (most recent call last):
    OSError: [Errno 28] No space left on device
    >>> target.read_text(), partial.exists()
    ('complete', False)
    """
    path = Path(path)
    partial = path.with_name(f".{path.name}{PARTIAL}")
    try:
        yield partial
        sync(partial)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    sync(path.parent)


def sync(path: str | os.PathLike) -> None:
    """Flushes a file, or a folder's entries, to disk.

    Arguments
    ---------
    path : path
        A file or folder.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
