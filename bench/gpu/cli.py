"""``python -m bench.gpu``: the GPU report's command line (see `bench.gpu`).

    python3 -m bench.gpu                      # on the GPU: bench/results/
    python3 -m bench.gpu --budget 300         # a shorter run
    python -m bench.gpu --smoke --out DIR     # tiny, a few seconds, any device

It runs the four sections in turn, each within its share of the budget,
writes the report after every point (into ``--out`` and into ``$OUT``
when that is set) and prints the summary table last. Without a CUDA GPU
it stops at once with one line, unless ``--smoke``.
"""

import argparse
import os
import shutil
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from bench.tables import RESULTS

BUDGET = 420.0  # seconds: an 8-minute command, less install and margin
SMOKE_BUDGET = 120.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring).

    Example
    -------
    >>> args = parse_args(["--smoke", "--out", "/tmp/x"])
    >>> args.smoke, args.budget, str(args.out)
    (True, 120.0, '/tmp/x')
    """
    parser = argparse.ArgumentParser(
        prog="python3 -m bench.gpu",
        description="The GPU report: correctness, attention kernels, "
        "training and inference of every lobe, within a time budget.",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny models, short inputs, any device (a few seconds); "
        "needs --out",
    )
    parser.add_argument(
        "--out", type=Path, help="results folder (default: bench/results)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        metavar="SECONDS",
        help=f"time for the whole run (default {BUDGET:g}; smoke "
        f"{SMOKE_BUDGET:g})",
    )
    parser.add_argument(
        "--device",
        choices=("cuda", "cpu"),
        help="default: cuda; cpu only with --smoke",
    )
    args = parser.parse_args(argv)
    if args.budget is None:
        args.budget = SMOKE_BUDGET if args.smoke else BUDGET
    if args.smoke and args.out is None:
        parser.error("--smoke writes into --out DIR only, never bench/results")
    if args.smoke and args.out.resolve() == RESULTS:
        parser.error("--smoke never writes into bench/results: pick --out")
    if not args.smoke and args.device == "cpu":
        parser.error("--device cpu is for --smoke runs only")
    args.out = args.out or RESULTS
    return args


def choose_device(args: argparse.Namespace):
    """The run's torch.device; exits with one line when CUDA is needed and
    missing."""
    try:
        import torch
    except ImportError:
        sys.exit(
            f"bench.gpu: no torch for {sys.executable}: run it where "
            "torch is installed (the GPU machine's python3)."
        )

    if args.device == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if args.smoke and args.device is None:
        return torch.device("cpu")
    sys.exit(
        f"bench.gpu: no CUDA GPU visible to torch {torch.__version__} (CUDA "
        f"build {torch.version.cuda or 'none'}): run it on the GPU machine, "
        "or use --smoke."
    )


def describe_machine(cuda: bool) -> dict:
    """`bench.machine.machine_info`, the load, and the GPU (name, memory,
    driver, CUDA, cuDNN)."""
    from bench.machine import gpu_info, machine_info

    machine = machine_info()
    machine["load"] = f"{os.getloadavg()[0]:.2f}"
    if cuda:
        machine["gpu"] = gpu_info()
    return machine


def mirror(out: Path, extra: Path | None, device: str) -> None:
    """Copies the suite's files of this run from out into extra."""
    if extra is None:
        return
    extra.mkdir(parents=True, exist_ok=True)
    for pattern in (f"suite_{device}*", f"fig3_*_{device}*.png"):
        for path in out.glob(pattern):
            shutil.copy2(path, extra / path.name)


def main(argv: Sequence[str] | None = None) -> dict:
    """Runs the report (see the module docstring); returns the run."""
    start = time.monotonic()
    args = parse_args(argv)
    device = choose_device(args)
    try:
        import torch

        from bench.gpu import correctness, inference, kernels, training
        from bench.gpu.budget import Budget
        from bench.gpu.report import identity, summary, write_report
        from bench.gpu.runner import Settings
    except ImportError as error:
        if (error.name or "").split(".")[0] in ("bench", "lobes", "hparams"):
            raise
        why = (str(error).splitlines() or [""])[0][:160]
        sys.exit(
            f"bench.gpu: cannot import {error.name or 'a module'} ({why}): "
            "the wheels of .whl lack it or do not fit this machine's "
            "packages (bench.gpu.wheels; make gpu-check tries them)."
        )
    argv = sys.argv[1:] if argv is None else list(argv)
    extra = Path(os.environ["OUT"]) if os.environ.get("OUT") else None
    folders = [args.out] + ([extra] if extra and extra != args.out else [])
    smoke = inference.SMOKE
    run = {
        "command": " ".join(["python3 -m bench.gpu", *argv]),
        "smoke": args.smoke,
        "device": str(device),
        "budget": args.budget,
        "elapsed": 0.0,
        "tf32": f"{torch.backends.cuda.matmul.allow_tf32} / "
        f"{torch.backends.cudnn.allow_tf32}",
        "machine": describe_machine(device.type == "cuda"),
        "long": max(smoke["lengths"] if args.smoke else inference.LENGTHS),
        "hour": smoke["hour"] if args.smoke else inference.HOUR,
        "sections": {},
    }
    budget = Budget(args.budget, start=start)

    def write() -> None:
        run["elapsed"] = budget.elapsed()
        write_report(run, folders)

    sections = {
        "correctness": correctness.run,
        "kernels": kernels.run,
        "training": training.run,
        "inference": inference.run,
    }
    for name, section in sections.items():
        state = run["sections"][name] = {"status": "running", "rows": []}

        def on_row(row: dict, section: str = name, rows=state["rows"]) -> None:
            rows.append(row)
            print(
                f"[{budget.elapsed():5.0f} s] {section}: {identity(row)}: "
                f"{row['status']}",
                file=sys.stderr,
                flush=True,
            )
            write()

        settings = Settings(
            device,
            args.smoke,
            budget,
            out=args.out,
            machine=run["machine"],
            command=run["command"],
            on_row=on_row,
        )
        try:
            state["rows"] = section(settings)
            state["status"] = "done"
        except Exception as error:  # the other sections still run
            traceback.print_exc()
            state["status"] = f"failed: {type(error).__name__}: {error}"[:200]
        write()
    mirror(args.out, extra, device.type)
    for folder in folders:
        print(f"wrote {folder}/gpu_report.md and its CSVs", file=sys.stderr)
    sys.stderr.flush()
    print(f"\nGPU report ({run['device']}, {run['elapsed']:.0f} s):\n")
    print(summary(run), flush=True)
    return run
