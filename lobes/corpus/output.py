"""The corpus folder: checked before any work, and only our own corpus
replaced (``synthmix.json`` marks it and lists what it wrote). The corpus
is built in a hidden folder beside it and put in place when complete
(`lobes.files.write_folder`); what an interrupted build left there is
removed by the next one.

Authors
 * sepformer-lobes contributors 2026
"""

import glob
import json
from pathlib import Path

from speechbrain.utils.logger import get_logger

from lobes.files import OLD, PARTIAL, folder_problem, remove_folder

logger = get_logger(__name__)

METADATA = "synthmix.json"
GENERATOR = "lobes.synthmix"  # marks corpora on disk; keep it unchanged


def corpus_metadata(folder: Path) -> dict | None:
    """The ``synthmix.json`` of a corpus of ours in ``folder``, or None.

    Arguments
    ---------
    folder : pathlib.Path
        A corpus folder.

    Returns
    -------
    dict or None
        None when ``folder`` has no readable ``synthmix.json`` that
        lobes.synthmix wrote.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> corpus_metadata(folder) is None
    True
    >>> _ = (folder / METADATA).write_text('{"generator": "lobes.synthmix"}')
    >>> corpus_metadata(folder)
    {'generator': 'lobes.synthmix'}
    """
    try:
        meta = json.loads((folder / METADATA).read_text())
    except (OSError, ValueError):
        return None
    ours = isinstance(meta, dict) and meta.get("generator") == GENERATOR
    return meta if ours else None


def prepare_output(out: Path, overwrite: bool) -> None:
    """Checks, before any work, that the corpus can be written to ``out``:
    missing, empty or (with ``overwrite``) a corpus of ours and nothing
    else, in a folder where the new corpus can be built beside it.
    Nothing is changed.

    Arguments
    ---------
    out : pathlib.Path
        The corpus folder.
    overwrite : bool
        Whether a corpus written before in ``out`` may be replaced.

    Raises
    ------
    FileExistsError
        ``out`` holds files and ``overwrite`` is False, or they are not
        all of a corpus of ours.
    OSError
        ``out`` cannot be written.

    Example
    -------
    >>> out = getfixture("tmp_path") / "corpus"
    >>> (out / "clean").mkdir(parents=True)
    >>> prepare_output(out, overwrite=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    FileExistsError: refusing to overwrite .../corpus: it has no synthmix...
    """
    if out.is_dir() and any(out.iterdir()):
        meta = corpus_metadata(out)
        if not overwrite:
            what = "is not empty"
            if meta is not None and not meta.get("complete"):
                what = "holds an incomplete lobes.synthmix corpus (its build "
                what += "was interrupted)"
            raise FileExistsError(
                f"output folder {out} {what}; choose another folder or pass "
                "--overwrite to replace a corpus made by lobes.synthmix"
            )
        if meta is None:
            raise FileExistsError(
                f"refusing to overwrite {out}: it has no {METADATA} written "
                "by lobes.synthmix, so it may hold someone else's files"
            )
        others = sorted(
            p.name
            for p in out.iterdir()
            if p.name not in meta.get("outputs", [])
        )
        if others:
            raise FileExistsError(
                f"refusing to overwrite {out}: besides the corpus it holds "
                f"{', '.join(others[:3])}{' ...' if others[3:] else ''}, "
                "which lobes.synthmix did not write; move them out or "
                "choose another folder"
            )
    problem = folder_problem(out) or folder_problem(out.parent)
    if problem is not None:
        raise OSError(
            f"cannot write the corpus to {out} ({problem}); choose a "
            "writable OUT_DIR"
        )


def remove_interrupted(out: Path) -> None:
    """Removes what an interrupted build of ``out`` left beside it: the
    hidden folder it was building (``.<name>.<random>.partial``) or an
    old corpus it was deleting (``.<name>.<random>.old``), one log line
    each.

    Arguments
    ---------
    out : pathlib.Path
        The corpus folder.

    Example
    -------
    >>> out = getfixture("tmp_path") / "corpus"
    >>> left = out.with_name(".corpus.x1y2z3.partial")
    >>> (left / "clean").mkdir(parents=True)
    >>> remove_interrupted(out)
    >>> list(out.parent.iterdir())
    []
    """
    for suffix in (PARTIAL, OLD):
        pattern = f".{glob.escape(out.name)}.*{suffix}"
        for left in sorted(out.parent.glob(pattern)):
            if left.is_dir() and not left.is_symlink():
                logger.warning(
                    "Removing %s, left by an interrupted build", left
                )
                remove_folder(left)
