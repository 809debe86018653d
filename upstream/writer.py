"""Writes the pull-request folder (see the package docstring), atomically:
everything goes to a temporary folder beside the output, which then takes
the output's place (`lobes.files.write_folder`).

The lobe modules and their test files are copied with our module paths
rewritten (`upstream.rename`); then their imports are sorted the way
SpeechBrain's ruff settings want them (``speechbrain`` is first-party
there, and the new module names sort differently from ours), by the
project's ruff with ``speechbrain/ruff.toml`` and import sorting only:
nothing else is reformatted, so SpeechBrain's ``ruff check`` and ``ruff
format --check`` pass on the written files only if they pass on ours.
"""

import subprocess
import sys
from pathlib import Path

from lobes.files import write_folder
from upstream.pull_request import pull_request_text
from upstream.recipes import FOLDER, recipe_files
from upstream.rename import (
    MODULES,
    TESTED,
    module_file,
    project_references,
    rewrite,
    unit_test_file,
)

ROOT = Path(__file__).resolve().parents[1]
RUFF_CONFIG = FOLDER / "ruff.toml"  # SpeechBrain's settings
PULL_REQUEST = "PULL_REQUEST.md"


def lobe_files() -> dict[str, str]:
    """The lobe modules and their unit tests, our paths rewritten.

    Returns
    -------
    dict
        Path in a SpeechBrain checkout -> text.

    Example
    -------
    >>> text = lobe_files()[module_file("resepformer")]
    >>> "from lobes" in text, "from speechbrain.lobes.models.fused_att" in text
    (False, True)
    """
    sources = {module_file(m): ROOT / "lobes" / f"{m}.py" for m in MODULES}
    sources |= {
        unit_test_file(m): ROOT / "tests" / f"test_{m}.py" for m in TESTED
    }
    return {
        path: rewrite(source.read_text(encoding="utf-8"))
        for path, source in sources.items()
    }


def sort_imports(folder: Path) -> None:
    """Sorts the imports of the Python files under ``folder`` as SpeechBrain's
    ruff settings do (rule I001 only, fixed in place).

    Arguments
    ---------
    folder : Path
        The folder being written.
    """
    command = [sys.executable, "-m", "ruff", "check", "--fix", "--quiet"]
    command += ["--no-cache", "--select", "I", "--config", str(RUFF_CONFIG)]
    result = subprocess.run(
        [*command, "."], cwd=folder, capture_output=True, text=True
    )
    if result.returncode:
        raise RuntimeError(f"sorting imports failed:\n{result.stdout}")


def read_files(folder: Path) -> dict[str, str]:
    """Every file under ``folder``, by its path relative to it (sorted).

    Arguments
    ---------
    folder : Path
        A folder of text files.

    Returns
    -------
    dict
        Path (POSIX, relative to ``folder``) -> text.
    """
    return {
        path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def write(out: Path) -> dict[str, str]:
    """Writes the pull-request folder to ``out``, replacing it.

    Arguments
    ---------
    out : Path
        The folder (its parent is created if missing).

    Returns
    -------
    dict
        The files of the pull request (path -> text), ``PULL_REQUEST.md``
        aside.

    Raises
    ------
    RuntimeError
        When a written file still refers to this project (see
        `upstream.rename.project_references`), or imports cannot be sorted.
    """
    files = {}

    def fill(new: Path) -> None:
        for path, text in (lobe_files() | recipe_files()).items():
            (new / path).parent.mkdir(parents=True, exist_ok=True)
            (new / path).write_text(text, encoding="utf-8")
        sort_imports(new)
        files.update(read_files(new))
        left = {p: project_references(t) for p, t in files.items()}
        left = {p: lines for p, lines in left.items() if lines}
        if left:
            raise RuntimeError(f"references to this project left: {left}")
        (new / PULL_REQUEST).write_text(
            pull_request_text(files), encoding="utf-8"
        )

    write_folder(Path(out).resolve(), fill)
    return files


def line_count(files: dict[str, str]) -> int:
    """Lines of ``files`` together.

    Arguments
    ---------
    files : dict
        Path -> text.

    Returns
    -------
    int

    Example
    -------
    >>> line_count({"a.py": "x = 1\\n", "b.yaml": "a: 1\\nb: 2\\n"})
    3
    """
    return sum(text.count("\n") for text in files.values())
