"""The corpus folder: made empty and writable, and only our own corpus
replaced (``synthmix.json`` marks it and lists what it wrote).

Authors
 * sepformer-lobes contributors 2026
"""

import json
import shutil
from pathlib import Path

from speechbrain.utils.logger import get_logger

from lobes.files import folder_problem

logger = get_logger(__name__)

METADATA = "synthmix.json"
GENERATOR = "lobes.synthmix"  # marks corpora on disk; keep it unchanged


def prepare_output(out: Path, overwrite: bool) -> None:
    """Makes ``out`` an empty writable folder; removes only our own output.

    Arguments
    ---------
    out : pathlib.Path
        The corpus folder.
    overwrite : bool
        Remove a corpus written before in ``out`` (only the names its
        ``synthmix.json`` lists as ``outputs``).

    Raises
    ------
    FileExistsError
        ``out`` holds files and ``overwrite`` is False, or it is not a
        corpus of ours.
    OSError
        ``out`` cannot be written.
    """
    if out.is_dir() and any(out.iterdir()):
        marker = out / METADATA
        if not overwrite:
            raise FileExistsError(
                f"output folder {out} is not empty; choose another folder or "
                "pass --overwrite to replace a corpus made by lobes.synthmix"
            )
        try:
            outputs = json.loads(marker.read_text())["outputs"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise FileExistsError(
                f"refusing to overwrite {out}: it has no {METADATA} written "
                "by lobes.synthmix, so it may hold someone else's files"
            ) from err
        logger.info("Removing the lobes.synthmix corpus in %s", out)
        for name in outputs:
            path = out / Path(name).name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    problem = folder_problem(out)
    if problem is not None:
        raise OSError(
            f"cannot write the corpus to {out} ({problem}); choose a "
            "writable OUT_DIR"
        )
    out.mkdir(parents=True, exist_ok=True)
