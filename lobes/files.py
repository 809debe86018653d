"""Files and folders that appear only when complete, for everything the
package writes (checkpoints, CSVs, results, exports, separated files, the
corpus's packages; the benchmarks' and the demo's files too).

A file or folder is written under a hidden temporary name beside its final
path (same folder, so the rename is atomic; the name holds `PARTIAL`) and
renamed into place once complete; a failure removes what was written and
leaves what existed as it was: `replacing` (a file), `replacing_all`
(several files, all or none), `write_text`, `write_folder` (a folder,
filled by a function) and `replace_folder`; `remove_folder` renames a
folder away (its name then holds `OLD`) before deleting it, so that it is
never seen half deleted. `remove_partials` removes what a killed writer left
(nothing could run then), and `missing_bytes` tells a WAV file cut short
(a write or copy of it interrupted); `folder_problem` says, before any
work, why files cannot be written in a folder; `make_folders` and
`remove_empty` create an output folder only when the first output is
written and take back the ones that stayed empty. Imports only the
standard library.

Authors
 * sepformer-lobes contributors 2026
"""

import errno
import glob
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from lobes.errors import brief

PARTIAL = ".partial"  # in the name of what is being written
OLD = ".old"  # in the name of a folder being removed


def folder_problem(folder: str | os.PathLike) -> str | None:
    """Why files cannot be written in ``folder`` (created if missing), or
    None; nothing is created.

    Arguments
    ---------
    folder : path
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
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        return f"{folder} is a file, not a folder"
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{folder} cannot be created: {existing} is a file"
    cannot = f"{folder}: cannot write in {existing}"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{cannot} (permission denied or a read-only file system)"
    try:  # what os.access cannot tell (root in a file system like /sys)
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        return f"{cannot} ({brief(error)})"
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


def _umask() -> int:
    """The process's umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def missing_bytes(path: str | os.PathLike) -> int:
    """How many bytes a RIFF (WAV) file lacks of the size its header
    declares: a copy or a write cut short. 0 for a complete file, for one
    that is not RIFF, and for a size left unknown (0 or 0xFFFFFFFF, as
    streaming writers leave it); a missing pad byte does not count.

    Arguments
    ---------
    path : path
        The file.

    Returns
    -------
    int

    Example
    -------
    >>> path = getfixture("tmp_path") / "a.wav"
    >>> _ = path.write_bytes(b"RIFF" + (1036).to_bytes(4, "little") + bytes(36))
    >>> missing_bytes(path)  # 1044 declared, 44 there
    1000
    """
    with open(path, "rb") as f:
        riff, size = f.read(4), int.from_bytes(f.read(4), "little")
    if riff != b"RIFF" or not 0 < size < 0xFFFFFFFF:
        return 0
    missing = size + 8 - os.path.getsize(path)
    return missing if missing > 1 else 0


def _short(name: str, limit: int = 128) -> str:
    """``name`` cut to ``limit`` bytes of UTF-8 (whole characters), so that
    a hidden name made of it stays under the file systems' 255 bytes."""
    return name.encode()[:limit].decode(errors="ignore")


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
        ``.<stem>.<random>.partial<suffix>`` (the stem cut to 128 bytes),
        created empty.

    Example
    -------
    >>> path = temp_path(getfixture("tmp_path") / "mix_s1.wav")
    >>> path.name.startswith(".mix_s1.") and path.name.endswith(".wav")
    True
    """
    fd, name = tempfile.mkstemp(
        dir=target.parent,
        prefix=f".{_short(target.stem)}.",
        suffix=f"{PARTIAL}{target.suffix}",
    )
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())  # as a plain new file (mkstemp: 0600)
    return Path(name)


def remove_partials(target: Path) -> list[Path]:
    """Removes what `temp_path` made for ``target`` and a killed process
    left (SIGKILL, a power cut: nothing ran to remove it).

    Arguments
    ---------
    target : Path
        A final path.

    Returns
    -------
    list of Path
        The files removed.

    Example
    -------
    >>> target = getfixture("tmp_path") / "mix_s1.wav"
    >>> left = temp_path(target)  # as a killed writer leaves it
    >>> remove_partials(target) == [left], left.exists()
    (True, False)
    >>> other = temp_path(target.with_name("take1_s1.wav"))
    >>> remove_partials(target.with_name("take[1]_s1.wav")), other.exists()
    ([], True)
    """
    stem = glob.escape(_short(target.stem))  # [, *, ? are not patterns
    pattern = f".{stem}.*{PARTIAL}{target.suffix}"
    found = sorted(target.parent.glob(pattern))
    for path in found:
        path.unlink(missing_ok=True)
    return found


@contextmanager
def replacing_all(targets: Sequence[str | os.PathLike]) -> Iterator[list]:
    """Yields temporary paths beside ``targets`` to write; on success they
    are flushed to disk and renamed to the targets, on failure (a full
    disk, an interrupt, a rename that fails) removed, leaving the targets
    as they were: all are replaced, or none. A target that is a folder is
    refused (IsADirectoryError) before anything is written.

    Arguments
    ---------
    targets : sequence of path
        The final paths, in existing folders.

    Yields
    ------
    list of Path
        Where to write them (in order; each with its target's suffix).

    Example
    -------
    >>> tmp = getfixture("tmp_path")
    >>> with replacing_all([tmp / "a.txt", tmp / "b.txt"]) as temps:
    ...     _ = temps[0].write_text("half")
    ...     raise OSError(28, "No space left on device")
    Traceback (most recent call last):
    OSError: [Errno 28] No space left on device
    >>> list(tmp.iterdir())
    []
    """
    targets = [Path(t) for t in targets]
    for target in targets:
        if target.is_dir():
            raise IsADirectoryError(
                errno.EISDIR, "a folder has the name of this file", str(target)
            )
    temps = []
    try:
        for target in targets:
            temps.append(temp_path(target))
        yield temps
        for temp in temps:
            sync(temp)
        _rename_all(temps, targets)
    except BaseException:
        for temp in temps:
            temp.unlink(missing_ok=True)
        raise
    for folder in dict.fromkeys(t.parent for t in targets):
        sync(folder)


def _rename_all(temps: list[Path], targets: list[Path]) -> None:
    """Renames each temp to its target; if one rename fails, the targets
    renamed so far get their old files back (set aside under hidden
    names meanwhile) or are removed (new ones)."""
    done: list[tuple[Path, Path | None]] = []  # (target, its old file)
    try:
        for temp, target in zip(temps, targets, strict=True):
            old = None
            if target.exists():
                old = _aside(target)
                os.rename(target, old)
            done.append((target, old))
            os.replace(temp, target)
    except BaseException:
        for target, old in reversed(done):
            with suppress(OSError):  # put back what can be
                if old is None:
                    target.unlink(missing_ok=True)
                else:
                    os.replace(old, target)
        raise
    for _, old in done:
        if old is not None:
            old.unlink()


@contextmanager
def replacing(target: str | os.PathLike) -> Iterator[Path]:
    """`replacing_all` for one file.

    Arguments
    ---------
    target : path
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
    """
    with replacing_all([target]) as (temp,):
        yield temp


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Writes a text file (UTF-8, line ends as given) whole or not at all
    (`replacing`), creating its folder.

    Arguments
    ---------
    path : path
        The file.
    text : str
        Its content.

    Returns
    -------
    Path
        The file written.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> write_text(folder / "a" / "x.md", "# x").read_text()
    '# x'
    >>> sorted(p.name for p in (folder / "a").iterdir())
    ['x.md']
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as partial:
        partial.write_text(text, encoding="utf-8", newline="")
    return path


def temp_folder(folder: Path) -> Path:
    """A new hidden folder beside ``folder``: ``.<name>.<random>.partial``.

    Arguments
    ---------
    folder : Path
        The final folder (its parent exists).

    Returns
    -------
    Path
    """
    temp = tempfile.mkdtemp(
        dir=folder.parent, prefix=f".{folder.name}.", suffix=PARTIAL
    )
    os.chmod(temp, 0o777 & ~_umask())  # as a plain new folder (mkdtemp: 0700)
    return Path(temp)


def write_folder(
    folder: str | os.PathLike,
    fill: Callable[[Path], None],
    merge: bool = False,
) -> None:
    """Writes a folder under a temporary name beside it (`temp_folder`),
    then puts it in place: a failure leaves an existing ``folder`` as it
    was (and no parent folder it created).

    Arguments
    ---------
    folder : path
        The final folder. Absent, empty or (without ``merge``) replaced as
        a whole (`replace_folder`).
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
    folder = Path(folder)
    created = make_folders(folder.parent)
    temp = temp_folder(folder)
    try:
        fill(temp)
        if merge and folder.is_dir():
            for path in sorted(temp.iterdir()):
                os.replace(path, folder / path.name)
            temp.rmdir()
        else:
            replace_folder(temp, folder)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        remove_empty(created)
        raise


def _aside(path: Path) -> Path:
    """Where a folder goes while it is removed, or a file while its
    replacement is renamed into place: ``.<name>.<random>.old`` (the name
    cut to 128 bytes)."""
    return path.with_name(f".{_short(path.name)}.{uuid.uuid4().hex[:8]}{OLD}")


def replace_folder(new: Path, folder: Path) -> None:
    """Renames ``new`` to ``folder``; an existing ``folder`` is renamed
    aside first (back on failure), then deleted, so that ``folder`` is
    always the old one or the whole new one.

    Arguments
    ---------
    new : Path
        The folder written, beside ``folder``.
    folder : Path
        Where it goes.
    """
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    if not folder.exists():
        os.rename(new, folder)
        return
    old = _aside(folder)
    os.rename(folder, old)
    try:
        os.rename(new, folder)
    except BaseException:
        os.rename(old, folder)
        raise
    shutil.rmtree(old, ignore_errors=True)


def remove_folder(folder: Path) -> None:
    """Renames ``folder`` aside (atomic: it is whole or gone), then deletes
    it.

    Arguments
    ---------
    folder : Path
        The folder.

    Example
    -------
    >>> folder = getfixture("tmp_path") / "CKPT+1"
    >>> _ = make_folders(folder)
    >>> remove_folder(folder)
    >>> list(folder.parent.iterdir())
    []
    """
    old = _aside(folder)
    os.rename(folder, old)
    shutil.rmtree(old)
