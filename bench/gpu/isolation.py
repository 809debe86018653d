"""The GPU machine's setup, tried here first: ``make gpu-check``.

A wheel missing from `bench.gpu.wheels.WHEELS` would cost a GPU session
its few minutes. ``python -m bench.gpu.isolation`` builds the same wheels
(the same pins) for this machine's Python, unpacks them with
`bench.gpu.install`, and runs the report in an interpreter that sees
nothing else but torch, numpy, torchaudio, triton and what they require
(`requirements_closure`, linked into one folder, `link_farm`, put on the
path of a fresh venv without pip): the GPU machine's situation.
In it, it checks that

1. the imports of the report load SpeechBrain and the wheels from the
   unpacked folder (not from this project's .venv);
2. ``python -m bench.gpu`` without a GPU stops with its one line;
3. ``python -m bench.gpu --smoke`` runs end to end (no matplotlib there,
   so no figures: that path too);

and that ``.whl/``, when present, holds the same distributions. Needs PyPI
(the download) and a CPU only.
"""

import argparse
import importlib.metadata as metadata
import os
import subprocess
import sys
import tempfile
import venv
from collections.abc import Sequence
from pathlib import Path

from packaging.requirements import Requirement

from bench.gpu.install import install
from bench.gpu.wheels import WHEEL_DIR, build, canonical, read_manifest

ROOT = Path(__file__).resolve().parents[2]
ROOTS = ("torch", "numpy", "torchaudio", "triton")  # on the GPU machine
IMPORTS = (
    "import speechbrain, torch, hparams, lobes.inference, bench.gpu.cli, "
    "bench.gpu.correctness, bench.gpu.kernels, bench.gpu.training, "
    "bench.gpu.inference, bench.gpu.report; "
    "print(speechbrain.__file__); print(torch.__file__)"
)


def requirements_closure(roots: Sequence[str]) -> list[metadata.Distribution]:
    """The installed distributions of roots and all they require (extras
    left out, markers evaluated here)."""
    found: dict[str, metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if canonical(name) in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found[canonical(name)] = dist
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return list(found.values())


def link_farm(dists: Sequence[metadata.Distribution], folder: Path) -> Path:
    """One folder with a link to each top-level file of each distribution
    (its packages, modules, metadata)."""
    folder.mkdir(parents=True, exist_ok=True)
    for dist in dists:
        for top in {f.parts[0] for f in dist.files or []}:
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue
            source, link = Path(dist.locate_file(top)), folder / top
            if source.exists() and not link.exists():
                link.symlink_to(source)
    return folder


def bare_python(folder: Path, site: Path) -> Path:
    """A fresh venv (no pip) whose only packages are those of site."""
    venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(folder)
    python = folder / "bin" / "python"
    purelib = subprocess.run(
        [
            python,
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "gpu_machine.pth").write_text(f"{site}\n")
    return python


def run(
    python: Path, args: Sequence[str], site: Path
) -> subprocess.CompletedProcess:
    """python with args from the checkout root, PYTHONPATH=.:site, as
    ``make gpu-report`` runs it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "OUT")
    }
    env["PYTHONPATH"] = f"{ROOT}:{site}"
    return subprocess.run(
        [python, *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def check(folder: Path) -> list[str]:
    """Runs the checks of the module docstring in folder.

    Returns
    -------
    list of str
        The problems found (empty: all good).
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    build(folder / "whl", python_version=version)
    install(folder / "whl", folder / "site")
    base = link_farm(requirements_closure(ROOTS), folder / "torch")
    python = bare_python(folder / "venv", base)
    site = folder / "site"
    problems = []
    imports = run(python, ["-c", IMPORTS], site)
    print(imports.stdout + imports.stderr[-2000:])
    paths = imports.stdout.split()
    if imports.returncode or not paths[0].startswith(str(site)):
        problems.append(f"imports: {imports.stderr.strip()[-500:] or paths}")
    no_gpu = run(python, ["-m", "bench.gpu"], site)
    lines = no_gpu.stderr.strip().splitlines()
    if no_gpu.returncode == 0 or len(lines) != 1 or "no CUDA" not in lines[0]:
        problems.append(f"without a GPU: {no_gpu.stderr.strip()[-500:]}")
    else:
        print(f"without a GPU: {lines[0]}")
    smoke = run(
        python,
        [
            "-m",
            "bench.gpu",
            "--smoke",
            "--device",
            "cpu",
            "--out",
            str(folder / "smoke"),
        ],
        site,
    )
    print(smoke.stdout[-4000:])
    if smoke.returncode:
        problems.append(f"smoke run: {smoke.stderr.strip()[-1500:]}")
    if (WHEEL_DIR / "wheels.txt").is_file():
        here = {n.split("-")[0] for n in read_manifest(folder / "whl")[1]}
        there = {n.split("-")[0] for n in read_manifest(WHEEL_DIR)[1]}
        if here != there:
            problems.append(f"{WHEEL_DIR} holds {there}, checked {here}")
    return problems


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m bench.gpu.isolation [--keep DIR]``."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.gpu.isolation",
        description=__doc__.split("\n")[0],
    )
    parser.add_argument(
        "--keep", type=Path, help="work in DIR and keep it (default: a temp)"
    )
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        problems = check(args.keep.resolve())
    else:
        with tempfile.TemporaryDirectory() as tmp:
            problems = check(Path(tmp))
    for problem in problems:
        print(f"gpu-check: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print("gpu-check: the wheels and the report run with torch alone.")


if __name__ == "__main__":
    main()
