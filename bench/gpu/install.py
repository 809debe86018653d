"""Unpacks the wheels of ``.whl/`` into ``.gpu-site`` (the GPU machine).

``python3 -m bench.gpu.install [WHEELS] [TARGET]`` (default ``.whl``
``.gpu-site``) does what ``pip install --no-deps --no-index --target``
does for these wheels, without pip (a bare machine may have none): it
unpacks each wheel of the manifest (`bench.gpu.wheels`) into a temporary
folder, moves the contents of ``*.data/purelib`` and ``*.data/platlib`` to
its top, and renames it to TARGET once complete
(`lobes.files.write_folder`). A TARGET made from the same manifest is kept
as it is. It fails with one line when the wheels are missing or built for
another Python. Standard library only (and `lobes.files`, which is too):
it runs before the wheels are in place.
"""

import argparse
import shutil
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from bench.gpu.wheels import MANIFEST, read_manifest
from lobes.files import write_folder

STAMP = ".installed"


class InstallError(Exception):
    """The wheels cannot be installed here (one line, said as it is)."""


def check_wheels(wheels: Path) -> list[Path]:
    """The wheel files of a ``.whl/`` folder, checked for this Python.

    Arguments
    ---------
    wheels : Path
        The folder ``make gpu-wheels`` wrote.

    Returns
    -------
    list of Path
        The wheels its manifest lists.
    """
    if not (wheels / MANIFEST).is_file():
        raise InstallError(
            f"no wheels in {wheels}/: run `make gpu-wheels` on a machine "
            "with PyPI first, and carry .whl to this one "
            '(the device tool\'s carry=[".whl"]).'
        )
    version, files = read_manifest(wheels)
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if version != here:
        raise InstallError(
            f"the wheels in {wheels}/ are for Python {version}, this is "
            f"Python {here}: `python -m bench.gpu.wheels --python-version "
            f"{here}` builds them for it."
        )
    paths = [wheels / name for name in files]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise InstallError(f"{wheels}/ lacks {missing}: run make gpu-wheels.")
    return paths


def unpack(wheel: Path, target: Path) -> None:
    """Unpacks one wheel into target, as pip's ``--target`` lays it out."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    for data in target.glob("*.data"):
        for scheme in ("purelib", "platlib"):
            if (data / scheme).is_dir():
                for item in (data / scheme).iterdir():
                    shutil.move(str(item), target / item.name)
        shutil.rmtree(data)


def install(wheels: Path, target: Path) -> bool:
    """Unpacks every wheel of wheels into target, unless done already.

    Arguments
    ---------
    wheels : Path
        The wheel folder (``.whl``).
    target : Path
        The folder to put on PYTHONPATH (``.gpu-site``).

    Returns
    -------
    bool
        Whether anything was unpacked (False: target was up to date).
    """
    paths = check_wheels(wheels)
    manifest = (wheels / MANIFEST).read_text()
    stamp = target / STAMP
    if stamp.is_file() and stamp.read_text() == manifest:
        return False

    def fill(tmp: Path) -> None:
        for path in paths:
            unpack(path, tmp)
        (tmp / STAMP).write_text(manifest)

    write_folder(target, fill)
    return True


def main(argv: Sequence[str] | None = None) -> None:
    """``python3 -m bench.gpu.install [WHEELS] [TARGET]``."""
    parser = argparse.ArgumentParser(
        prog="python3 -m bench.gpu.install",
        description=__doc__.split("\n")[0],
    )
    parser.add_argument("wheels", type=Path, nargs="?", default=Path(".whl"))
    parser.add_argument(
        "target", type=Path, nargs="?", default=Path(".gpu-site")
    )
    args = parser.parse_args(argv)
    try:
        done = install(args.wheels, args.target)
    except InstallError as error:
        sys.exit(f"bench.gpu.install: {error}")
    state = "unpacked into" if done else "already in"
    print(f"bench.gpu.install: {args.wheels}/ {state} {args.target}/")


if __name__ == "__main__":
    main()
