"""Files and folders that appear only when complete.

Every output is written under a temporary name beside its final path (same
folder, so the rename is atomic) and renamed into place once complete; a
failure removes the temporary files and leaves what existed as it was
(`write_files`, `write_folder`). `folder_problem` says, before any work,
why files cannot be written in a folder; `make_folders` and
`remove_empty` create an output folder only when the first output is
written and take back the ones that stayed empty. Imports only the standard
library.

Authors
 * sepformer-lobes contributors 2026
"""

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path


def folder_problem(folder: Path) -> str | None:
    """Why files cannot be written in ``folder`` (created if missing), or
    None.

    Arguments
    ---------
    folder : Path
        The output folder.

    Returns
    -------
    str or None
        e.g. ``out is a file, not a folder``.

    Example
    -------
    >>> tmp = getfixture("tmp_path")
    >>> _ = (tmp / "f").write_text("x")
    >>> folder_problem(tmp / "f" / "out")  # doctest: +ELLIPSIS
    '...f/out cannot be created: ...f is a file'
    >>> folder_problem(tmp / "new" / "out") is None
    True
    """
    if folder.exists() and not folder.is_dir():
        return f"{folder} is a file, not a folder"
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{folder} cannot be created: {existing} is a file"
    if not os.access(existing, os.W_OK | os.X_OK):
        return (
            f"{folder}: cannot write in {existing} (permission denied or a "
            "read-only file system)"
        )
    return None


def make_folders(folder: Path) -> list[Path]:
    """Creates ``folder`` and its missing parents.

    Arguments
    ---------
    folder : Path
        The folder.

    Returns
    -------
    list of Path
        The folders created, outermost first (for `remove_empty`).

    Example
    -------
    >>> tmp = getfixture("tmp_path")
    >>> [p.name for p in make_folders(tmp / "a" / "b")]
    ['a', 'b']
    """
    created = []
    missing = folder
    while not missing.exists() and missing != missing.parent:
        created.append(missing)
        missing = missing.parent
    folder.mkdir(parents=True, exist_ok=True)
    return created[::-1]


def remove_empty(folders: Sequence[Path]) -> None:
    """Removes the folders of `make_folders` that stayed empty, innermost
    first.

    Arguments
    ---------
    folders : sequence of Path
        Outermost first.
    """
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:  # not empty (or gone): the outer ones are kept too
            return


def temp_path(target: Path) -> Path:
    """A new hidden file beside ``target``, with its suffix (so that writers
    that pick the format from the name still do).

    Arguments
    ---------
    target : Path
        The final path.

    Returns
    -------
    Path
        ``.<stem>.<random>.partial<suffix>``, created empty.

    Example
    -------
    >>> path = temp_path(getfixture("tmp_path") / "mix_s1.wav")
    >>> path.name.startswith(".mix_s1.") and path.name.endswith(".wav")
    True
    """
    fd, name = tempfile.mkstemp(
        dir=target.parent,
        prefix=f".{target.stem}.",
        suffix=f".partial{target.suffix}",
    )
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())  # as a plain new file (mkstemp: 0600)
    return Path(name)


def _umask() -> int:
    """The process's umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_files(targets: Sequence[Path], write: Callable[[list], None]):
    """Writes files under temporary names, then renames them into place: a
    failure (a full disk, an interrupt) leaves no partial file and the
    targets as they were.

    Arguments
    ---------
    targets : sequence of Path
        The final paths, in existing folders.
    write : callable
        Writes the files, given their temporary paths (in order).

    Example
    -------
    >>> tmp = getfixture("tmp_path")
    >>> def fails(paths):
    ...     paths[0].write_text("half")
    ...     raise OSError(28, "No space left on device")
    >>> write_files([tmp / "a.txt"], fails)
    Traceback (most recent call last):
    OSError: [Errno 28] No space left on device
    >>> list(tmp.iterdir())
    []
    """
    temps = []
    try:
        for target in targets:
            temps.append(temp_path(target))
        write(temps)
        for temp, target in zip(temps, targets, strict=True):
            os.replace(temp, target)
    except BaseException:
        for temp in temps:
            temp.unlink(missing_ok=True)
        raise


def write_folder(
    folder: Path, fill: Callable[[Path], None], merge: bool = False
) -> None:
    """Writes a folder under a temporary name beside it, then puts it in
    place: a failure leaves an existing ``folder`` as it was.

    Arguments
    ---------
    folder : Path
        The final folder. Absent, empty or (without ``merge``) replaced as
        a whole.
    fill : callable
        Writes the files into the temporary folder it is given (and
        checks them); raising stops everything.
    merge : bool
        Move the new files into the existing ``folder`` one by one,
        replacing their namesakes and keeping its other files.

    Example
    -------
    >>> out = getfixture("tmp_path") / "model"
    >>> write_folder(out, lambda tmp: (tmp / "a.txt").write_text("new"))
    >>> def fails(tmp):
    ...     raise ValueError("bad checkpoint")
    >>> write_folder(out, fails)
    Traceback (most recent call last):
    ValueError: bad checkpoint
    >>> [p.name for p in out.parent.iterdir()], (out / "a.txt").read_text()
    (['model'], 'new')
    """
    created = make_folders(folder.parent)
    temp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    os.chmod(temp, 0o777 & ~_umask())  # as a plain new folder (mkdtemp: 0700)
    try:
        fill(temp)
        if merge and folder.is_dir():
            for path in sorted(temp.iterdir()):
                os.replace(path, folder / path.name)
            temp.rmdir()
        else:
            _replace_folder(temp, folder)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        remove_empty(created)
        raise


def _replace_folder(new: Path, folder: Path) -> None:
    """Renames ``new`` to ``folder``; an existing ``folder`` is moved aside
    first (back on failure), then deleted."""
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    if not folder.exists():
        os.rename(new, folder)
        return
    old = folder.with_name(f".{folder.name}.old-{uuid.uuid4().hex[:8]}")
    os.rename(folder, old)
    try:
        os.rename(new, folder)
    except BaseException:
        os.rename(old, folder)
        raise
    shutil.rmtree(old, ignore_errors=True)
