"""The wheels the GPU machine needs beside its own torch, in ``.whl/``.

The GPU machine has CPython 3.12 with torch, torchaudio, triton, numpy and
torch's own dependencies, and no network. What else the GPU report imports
travels with the working tree in ``.whl/`` (git-ignored; the device tool's
``carry=[".whl"]``), written here by ``python -m bench.gpu.wheels`` (``make
gpu-wheels``): the wheels of `WHEELS` at the pins of constraints.txt, for
CPython 3.12 on manylinux x86_64, with a manifest, ``wheels.txt``, that
`bench.gpu.install` checks.

`WHEELS` is what ``import speechbrain, hparams, lobes.inference,
bench.gpu...`` and the report's run import, found by removing one wheel at
a time from an interpreter that sees torch and its dependencies only
(`bench.gpu.isolation`, ``make gpu-check``). Not imported on that path,
so left out: huggingface_hub (and its httpx2, hf-xet, click), joblib,
sentencepiece, requests (SpeechBrain imports them in the modules that
fetch, tokenize or integrate only), fast_bss_eval (`lobes.training`
only), ruamel.yaml.clib (ruamel.yaml falls back to pure Python), pycparser
(soundfile's cffi runs in ABI mode, no C parsing), and matplotlib (the
report draws no figures without it: ``python -m bench.suite --figures``
draws them later). filelock, fsspec, typing_extensions, jinja2, sympy and
networkx come with torch.
"""

import argparse
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from lobes.files import write_folder

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "constraints.txt"
WHEEL_DIR = ROOT / ".whl"
MANIFEST = "wheels.txt"
WHEELS = (
    "speechbrain",
    "HyperPyYAML",
    "ruamel.yaml",
    "PyYAML",
    "scipy",
    "soundfile",
    "cffi",
    "packaging",
    "tqdm",
)
PYTHON_VERSION = "3.12"  # the GPU machine's
PLATFORMS = (
    "manylinux2014_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux_2_28_x86_64",
)
LIMIT_MIB = 48.0  # the device tool carries 64 MiB, the tree included


def canonical(name: str) -> str:
    """A distribution's name as PEP 503 compares it.

    Example
    -------
    >>> canonical("ruamel.yaml"), canonical("HyperPyYAML")
    ('ruamel-yaml', 'hyperpyyaml')
    """
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path = CONSTRAINTS) -> dict[str, tuple[str, str]]:
    """The ``name==version`` pins of a constraints file.

    Arguments
    ---------
    path : Path
        The file (comments and blank lines are passed over).

    Returns
    -------
    dict
        {canonical name: (name as written, version)}.
    """
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = (part.strip() for part in line.split("==", 1))
            pins[canonical(name)] = (name, version)
    return pins


def requirements(
    names: Sequence[str] = WHEELS, constraints: Path = CONSTRAINTS
) -> list[str]:
    """``name==version`` for each of names, at the constraints' pins.

    Raises a ValueError naming a distribution the file does not pin.

    Example
    -------
    >>> requirements(["tqdm"])  # doctest: +ELLIPSIS
    ['tqdm==...']
    """
    pins = read_pins(constraints)
    missing = [n for n in names if canonical(n) not in pins]
    if missing:
        raise ValueError(f"{constraints} pins no version of {missing}.")
    return ["{}=={}".format(*pins[canonical(n)]) for n in names]


def download_command(
    reqs: Sequence[str], dest: Path, python_version: str = PYTHON_VERSION
) -> list[str]:
    """The ``pip download`` of the binary wheels of reqs, no dependencies,
    for CPython ``python_version`` on manylinux x86_64, into dest."""
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    return [
        *(sys.executable, "-m", "pip", "download", "--quiet"),
        *("--only-binary=:all:", "--no-deps", "--dest", str(dest)),
        *("--python-version", python_version, *platforms, *reqs),
    ]


def wheel_of(req: str, folder: Path) -> Path:
    """The one wheel of ``name==version`` in folder (a ValueError when
    there is none, or more than one)."""
    name, version = req.split("==")
    found = [
        path
        for path in folder.glob("*.whl")
        if canonical(path.name.split("-")[0]) == canonical(name)
        and path.name.split("-")[1] == version
    ]
    if len(found) != 1:
        raise ValueError(f"{folder} has {len(found)} wheels of {req}.")
    return found[0]


def manifest_header(reqs: Sequence[str], python_version: str) -> str:
    """The manifest's first line: what the folder is for."""
    return f"# python {python_version}: " + " ".join(reqs)


def read_manifest(folder: Path) -> tuple[str, list[str]]:
    """A wheel folder's Python version and wheel files, from its manifest.

    Returns
    -------
    python_version : str
        The ``X.Y`` the wheels are for.
    files : list of str
        The wheel files, one per requirement.
    """
    header, *files = (folder / MANIFEST).read_text().splitlines()
    return header.split()[2].rstrip(":"), files


def up_to_date(folder: Path, reqs: Sequence[str], python_version: str) -> bool:
    """Whether folder holds exactly these wheels, for this Python."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return False
    header, *files = manifest.read_text().splitlines()
    present = all((folder / name).is_file() for name in files)
    return header == manifest_header(reqs, python_version) and present


def build(
    dest: Path = WHEEL_DIR,
    python_version: str = PYTHON_VERSION,
    names: Sequence[str] = WHEELS,
) -> list[Path]:
    """Downloads the wheels into dest, unless it holds them already.

    The download goes to a temporary folder beside dest, which replaces
    dest only once complete (`lobes.files.write_folder`: an interrupted
    run leaves dest as it was).

    Arguments
    ---------
    dest : Path
        The wheel folder (``.whl/``).
    python_version : str
        ``X.Y`` of the CPython the wheels are for.
    names : sequence of str
        The distributions (pinned by constraints.txt).

    Returns
    -------
    list of Path
        The wheels, in the order of names.
    """
    reqs = requirements(names)

    def fill(tmp: Path) -> None:
        subprocess.run(download_command(reqs, tmp, python_version), check=True)
        files = [wheel_of(req, tmp).name for req in reqs]
        lines = [manifest_header(reqs, python_version), *files]
        (tmp / MANIFEST).write_text("\n".join(lines) + "\n")

    if not up_to_date(dest, reqs, python_version):
        write_folder(dest, fill)
    return [dest / name for name in read_manifest(dest)[1]]


def main(argv: Sequence[str] | None = None) -> list[Path]:
    """``python -m bench.gpu.wheels``: writes ``.whl/`` and lists it."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.gpu.wheels",
        description=__doc__.split("\n")[0],
    )
    parser.add_argument("--dest", type=Path, default=WHEEL_DIR)
    parser.add_argument(
        "--python-version",
        default=PYTHON_VERSION,
        help=f"X.Y of the target CPython (default {PYTHON_VERSION})",
    )
    args = parser.parse_args(argv)
    wheels = build(args.dest, args.python_version)
    total = sum(w.stat().st_size for w in wheels) / 2**20
    for wheel in wheels:
        print(f"{wheel.stat().st_size / 2**20:8.2f} MiB  {wheel.name}")
    print(f"{total:8.2f} MiB  in {len(wheels)} wheels, {args.dest}")
    if total > LIMIT_MIB:
        sys.exit(f"{args.dest} holds {total:.1f} MiB, over {LIMIT_MIB} MiB.")
    return wheels


if __name__ == "__main__":
    main()
