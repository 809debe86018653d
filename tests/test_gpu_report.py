"""Tests of the GPU report (`bench.gpu`), without a GPU or the network: the
smoke run writes the report with every section and row; the time budget
skips what would not fit; the wheel list is constraints.txt's pins; the
wheels unpack as pip would; ``make gpu-report`` runs the command README.md
gives; without a GPU (or without the wheels) it stops with one line."""

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from bench.gpu import cli, correctness, inference, kernels, training, wheels
from bench.gpu.budget import Budget
from bench.gpu.install import InstallError, install
from bench.gpu.runner import Point, run_points
from bench.suite.models import MODELS
from bench.tables import RESULTS

ROOT = Path(__file__).resolve().parents[1]
SMOKE = inference.SMOKE


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_smoke_run_writes_the_report(tmp_path, monkeypatch, capsys):
    """``python -m bench.gpu --smoke`` on the CPU: every section runs all
    its points, the report and CSVs have their sections and rows, the
    same files land in $OUT, bench/results is left alone, and the summary
    table is printed last."""
    extra = tmp_path / "OUT"
    monkeypatch.setenv("OUT", str(extra))
    before = {p.name: p.stat().st_mtime for p in RESULTS.iterdir()}
    out = tmp_path / "smoke"
    # a budget that a loaded machine cannot spend (the budget's skips are
    # tested below): every point runs, however busy the cores
    argv = ["--smoke", "--device", "cpu", "--budget", "3600"]
    run = cli.main([*argv, "--out", str(out)])

    assert {p.name: p.stat().st_mtime for p in RESULTS.iterdir()} == before
    sections = run["sections"]
    assert {name: s["status"] for name, s in sections.items()} == dict.fromkeys(
        ("correctness", "kernels", "training", "inference"), "done"
    )
    for name, section in sections.items():
        statuses = {r["status"] for r in section["rows"]}
        assert statuses == {"ok"}, (name, section["rows"])

    lobes, lengths = correctness.LOBES, correctness.SMOKE_LENGTHS
    checks = read_csv(out / "gpu_correctness.csv")
    streams = len(correctness.STREAMING) * len(correctness.SMOKE_STREAM_LENGTHS)
    assert len(checks) == len(lobes) * len(lengths) + streams
    assert {r["verdict"] for r in checks} == {"PASS"}
    assert all(float(r["rel_err"]) < 1e-5 for r in checks)

    probes = read_csv(out / "gpu_kernels.csv")
    assert {r["dtype"] for r in probes} == {"bf16", "fp32"}
    assert all(
        r["math"] == "yes" and r["cudnn"].startswith("no") for r in probes
    )
    assert {r["auto_kernels"] for r in probes} == {"skipped: no CUDA"}
    assert any("RESepFormer" in r["lobes"] for r in probes)

    steps = read_csv(out / "gpu_training.csv")
    assert len(steps) == len(training.MODELS_TRAINED) * 2 * 2
    assert all(float(r["steps_per_s"]) > 0 for r in steps)

    suite = read_csv(out / "suite_cpu.csv") + read_csv(
        out / "suite_cpu_fp32.csv"
    )
    points = len(MODELS) * len(SMOKE["lengths"]) + len(inference.OURS)
    assert len(suite) == 2 * points
    hour = [r for r in suite if float(r["seconds"]) == SMOKE["hour"]]
    assert {r["model"] for r in hour} == set(inference.OURS)

    report = (out / "gpu_report.md").read_text()
    for heading in (
        "# GPU report (smoke run)",
        "## Summary",
        "## Correctness",
        "## Attention kernels",
        "## Training step",
        "## Inference",
        "### bf16",
        "### fp32",
    ):
        assert heading in report, heading
    assert "RESepFormer vs upstream RE-SepFormer at 0.5 s, bf16" in report
    assert "peak memory of each lobe at 1 s" in report
    assert report.count("| PASS |") + report.count("| MISS |") >= 12
    assert json.loads((out / "gpu_report.json").read_text())["smoke"]

    names = {p.name for p in out.iterdir()}
    assert names <= {p.name for p in extra.iterdir()}
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1].startswith("| training steps/s, RESepFormer")


def test_budget_skips_what_would_not_fit():
    """Fake timings on a fake clock: a group's longer points are
    estimated from its shorter ones and skipped when they would end past
    their section's deadline; time a section leaves passes to the next;
    an out-of-memory point is recorded and skips its group's larger
    ones; a failure is recorded, never raised."""
    now = [0.0]
    budget = Budget(100.0, {"a": 0.3, "b": 0.7}, clock=lambda: now[0])

    def taking(seconds: float, error: Exception | None = None):
        def run() -> dict:
            now[0] += seconds
            if error is not None:
                raise error
            return {"took": seconds}

        return run

    points = [
        Point("a", "m", 1, {"n": 1}, taking(2.0)),
        Point("a", "m", 4, {"n": 4}, taking(8.0)),
        Point("a", "m", 16, {"n": 16}, taking(32.0)),  # est. 48 s > 20 s
        Point("a", "q", 1, {"n": 1}, taking(1.0)),  # first of its group
        Point("a", "x", 1, {"n": 1}, taking(0.5, RuntimeError("boom"))),
    ]
    rows = run_points(points, budget)
    assert [r["status"] for r in rows] == [
        "ok",
        "ok",
        "skipped",
        "ok",
        "failed",
    ]
    assert "would not fit the time budget" in rows[2]["reason"]
    assert "estimated 48.0 s" in rows[2]["reason"]
    assert rows[4]["reason"] == "RuntimeError: boom"
    assert now[0] == pytest.approx(11.5)  # the skipped point never ran

    # b ends at 100 s: a's unused time is b's; an OOM skips the larger
    oom = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate")
    points = [
        Point("b", "m", 16, {"n": 16}, taking(32.0)),  # 48 s <= 88.5 s
        Point("b", "o", 1, {"n": 1}, taking(0.1, oom)),
        Point("b", "o", 4, {"n": 4}, taking(0.1)),
    ]
    rows = run_points(points, budget)
    assert [r["status"] for r in rows] == ["ok", "oom", "skipped"]
    assert "ended in oom" in rows[2]["reason"]
    now[0] = 200.0
    rows = run_points([Point("b", "z", 1, {}, taking(1.0))], budget)
    assert rows[0]["reason"] == "the time budget of b is spent"


def test_point_costs_extrapolate_by_their_kind():
    """Inference points grow at least linearly with the length, a batch
    at least as its square root, a kernel probe not at all."""
    budget = Budget(1000.0, {"s": 1.0}, clock=lambda: 0.0, safety=1.0)
    budget.record("len", 16, 2.0, work=1, unit=1.0)  # 1 s fixed
    assert budget.estimate("len", 64) == pytest.approx(1 + 4)
    budget.record("batch", 1, 1.0)
    exponents = training.BATCH_EXPONENTS
    assert budget.estimate("batch", 4, exponents=exponents) == 2.0
    budget.record("probe", 100, 0.01)
    estimate = budget.estimate("probe", 1e6, exponents=kernels.PROBE_EXPONENTS)
    assert estimate == pytest.approx(0.01)


def test_wheels_are_the_pins_of_constraints(tmp_path):
    """The wheel list resolves to constraints.txt's pins, for CPython 3.12
    manylinux binaries without dependencies; torch and its own stay off
    it; an unpinned name is an error. No download."""
    pins = wheels.read_pins(ROOT / "constraints.txt")
    reqs = wheels.requirements()
    assert len(reqs) == len(wheels.WHEELS)
    for name, req in zip(wheels.WHEELS, reqs, strict=True):
        assert req == "{}=={}".format(*pins[wheels.canonical(name)])
    assert pins["speechbrain"] == ("speechbrain", "1.1.2")
    on_the_gpu = {"torch", "torchaudio", "numpy", "triton", "typing-extensions"}
    assert not on_the_gpu & {wheels.canonical(n) for n in wheels.WHEELS}
    command = wheels.download_command(reqs, tmp_path)
    for flag in ("--only-binary=:all:", "--no-deps", "manylinux_2_28_x86_64"):
        assert flag in command
    assert command[command.index("--python-version") + 1] == "3.12"
    assert command[-len(reqs) :] == reqs
    (tmp_path / "c.txt").write_text("tqdm==1.0\n")
    with pytest.raises(ValueError, match="scipy"):
        wheels.requirements(["tqdm", "scipy"], tmp_path / "c.txt")


def fake_wheels(folder: Path, version: str) -> Path:
    """A wheel folder as make gpu-wheels writes it, of one wheel with a
    package and a .data/purelib module."""
    folder.mkdir()
    name = "demo_pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(folder / name, "w") as archive:
        archive.writestr("demo_pkg/__init__.py", "X = 1\n")
        archive.writestr("demo_pkg-1.0.data/purelib/demo_extra.py", "Y = 2\n")
        archive.writestr("demo_pkg-1.0.dist-info/METADATA", "Name: demo-pkg\n")
    header = wheels.manifest_header(["demo-pkg==1.0"], version)
    (folder / wheels.MANIFEST).write_text(f"{header}\n{name}\n")
    return folder


def test_install_unpacks_the_wheels_as_pip_would(tmp_path):
    """Packages at the top, .data/purelib moved up, once only; a missing
    folder or another Python's wheels stop with one line."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    folder = fake_wheels(tmp_path / "whl", here)
    site = tmp_path / "site"
    assert install(folder, site)
    assert (site / "demo_pkg" / "__init__.py").is_file()
    assert (site / "demo_extra.py").is_file()
    assert not list(site.glob("*.data"))
    assert not install(folder, site)  # up to date
    with pytest.raises(InstallError, match="make gpu-wheels"):
        install(tmp_path / "none", site)
    other = fake_wheels(tmp_path / "whl312", "2.7")
    with pytest.raises(InstallError, match="for Python 2.7, this is Python"):
        install(other, tmp_path / "site2")


def test_make_gpu_report_is_the_readme_command():
    """What ``make gpu-report`` runs is the command line README.md gives
    (the one a machine without make runs as it is), with the steps."""
    env = {  # not the flags of a make that runs the tests
        k: v
        for k, v in os.environ.items()
        if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    }
    made = subprocess.run(
        ["make", "-n", "--no-print-directory", "gpu-report"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert made.startswith("python3 -m bench.gpu.install .whl .gpu-site &&")
    assert ".venv" not in made
    readme = (ROOT / "README.md").read_text()
    lines = [line.strip() for line in readme.splitlines()]
    assert made in lines
    for step in ("make gpu-wheels", 'carry=[".whl"]', "--figures"):
        assert step in readme, step
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "/.whl/" in ignored and "/.gpu-site/" in ignored


def test_without_a_gpu_it_stops_with_one_line(monkeypatch, capsys):
    """No CUDA, no --smoke: one line, nothing run; --smoke needs --out
    and never writes into bench/results."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as stop:
        cli.main([])
    assert "no CUDA GPU" in str(stop.value)
    assert "\n" not in str(stop.value)
    for argv in (["--smoke"], ["--smoke", "--out", str(RESULTS)]):
        with pytest.raises(SystemExit):
            cli.parse_args(argv)
        assert "bench/results" in capsys.readouterr().err
