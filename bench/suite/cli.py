"""The suite's command line, ``python -m bench.suite`` (see the `bench.suite`
docstring): the parent runs the suite and writes its outputs; with
``--point`` (a child process of the parent), it measures one point; with
``--combine``, it tabulates several runs (`bench.suite.combine`)."""

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

import bench.suite
from bench.machine import machine_info
from bench.points import report
from bench.suite.combine import COMBINED_NAME, write_combined
from bench.suite.figures import figures_from_csv
from bench.suite.measure import point
from bench.suite.models import MODELS
from bench.suite.plan import (
    LENGTHS,
    MACS_SECONDS,
    QUICK_LENGTHS,
    SuiteConfig,
    run_suite,
)
from bench.suite.report import write_outputs
from bench.tables import RESULTS
from lobes.errors import CommandError
from lobes.inference.defaults import PRECISIONS, RUNTIMES
from lobes.inference.precision import check_precision

PROG = "python -m bench.suite"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the `bench.suite` docstring).

    Arguments
    ---------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    argparse.Namespace
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=bench.suite.__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Models: " + ", ".join(MODELS),
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 and 4 s only (suite_quick.*)"
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="SpeechBrain's precision: fp32, or bf16/fp16 autocast "
        "(default: fp32 on CPU, bf16 on CUDA)",
    )
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="torch",
        help="onnx: our lobes exported once per run and measured under "
        "ONNX Runtime, upstream's in torch (fp32, CPU; names end in _onnx)",
    )
    parser.add_argument(
        "--lengths",
        type=float,
        nargs="+",
        metavar="S",
        help="input lengths in seconds (default: 1 4 16 64 256)",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=tuple(MODELS),
        metavar="M",
        help="models (default: all, listed below)",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed calls per point"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="torch/OpenMP threads"
    )
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        metavar="S",
        help="length of the warm-up call (default: the point's)",
    )
    parser.add_argument(
        "--timeout", type=float, metavar="S", help="per point (default: none)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="torch.profiler table of each point into OUT/raw/",
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="tiny configurations of every model (smoke test)",
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="results folder"
    )
    parser.add_argument(
        "--name",
        help="file stem (default: suite, suite_quick, suite_custom or "
        "suite_tiny, plus _cuda on the GPU)",
    )
    parser.add_argument(
        "--figures",
        type=Path,
        metavar="CSV",
        help="only draw the figures of a suite CSV beside it (of a run "
        "made without matplotlib)",
    )
    parser.add_argument(
        "--combine",
        type=Path,
        nargs="+",
        metavar="CSV",
        help="only tabulate suite CSVs of one machine (fp32, bf16, ONNX) "
        f"into OUT/NAME.{{md,csv}} (NAME default: {COMBINED_NAME})",
    )
    parser.add_argument("--point", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.threads < 1:
        parser.error("--repeats and --threads must be at least 1")
    if args.runtime == "onnx" and not args.point:
        if args.device != "cpu" or args.precision not in (None, "fp32"):
            parser.error(
                "--runtime onnx measures fp32 models on the CPU: drop "
                "--precision and --device (or use --runtime torch)."
            )
        from lobes.inference.onnx_export import require_onnx

        try:
            require_onnx()
        except ImportError as error:
            parser.error(str(error))
    if args.precision and not args.point:
        try:
            check_precision(args.precision, args.device)
        except ValueError as error:
            parser.error(str(error))
    if args.device == "cuda" and not args.point:
        if not torch.cuda.is_available():
            parser.error(
                "--device cuda needs a CUDA GPU visible to torch, and "
                "torch.cuda.is_available() is False here (torch "
                f"{torch.__version__}, CUDA build "
                f"{torch.version.cuda or 'none'}). Run on a GPU machine, "
                "or use --device cpu."
            )
    return args


def config_from_args(
    args: argparse.Namespace, command: str = ""
) -> SuiteConfig:
    """The `SuiteConfig` of parsed command-line arguments.

    Arguments
    ---------
    args : argparse.Namespace
        From `parse_args`.
    command : str
        The command line, for the report.

    Returns
    -------
    SuiteConfig
        Named after the run's kind (``suite``, ``suite_quick``,
        ``suite_custom``, ``suite_tiny``; ``_cuda`` on the GPU; then
        ``_PRECISION`` when not the device's default, fp32 on the CPU and
        bf16 on CUDA, and ``_onnx`` under ONNX Runtime), so that no run
        overwrites another kind's files.
    """
    custom = args.lengths is not None or args.models is not None
    name = args.name or "suite" + (
        "_tiny"
        if args.tiny
        else "_quick"
        if args.quick
        else "_custom"
        if custom
        else ""
    )
    default = "bf16" if args.device == "cuda" else "fp32"
    precision = args.precision or default
    if not args.name:
        name += "_cuda" if args.device == "cuda" else ""
        name += "" if precision == default else f"_{precision}"
        name += "_onnx" if args.runtime == "onnx" else ""
    lengths = args.lengths or (QUICK_LENGTHS if args.quick else LENGTHS)
    return SuiteConfig(
        models=list(args.models or MODELS),
        lengths=sorted(set(lengths)),
        device=args.device,
        dtype=precision,
        runtime=args.runtime,
        threads=args.threads,
        repeats=args.repeats,
        warmup_seconds=args.warmup_seconds,
        macs_seconds=(min(lengths),) if args.tiny else MACS_SECONDS,
        tiny=args.tiny,
        quick=args.quick,
        profile=args.profile,
        timeout=args.timeout,
        out=args.out,
        name=name,
        command=command,
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Path] | None:
    """Runs the suite (or, with ``--point``, one point of it).

    Arguments
    ---------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    dict or None
        The files written (None for a point; with ``--figures``, the
        figures only; with ``--combine``, the combined table).
    """
    args = parse_args(argv)
    if args.point:  # child process: one measurement
        report(point(json.loads(args.point)))
        return None
    if args.figures or args.combine:
        try:
            if args.figures:
                paths = figures_from_csv(args.figures)
            else:
                name = args.name or COMBINED_NAME
                paths = write_combined(args.combine, args.out, name)
        except CommandError as error:
            print(f"{PROG}: error: {error}", file=sys.stderr)
            raise SystemExit(error.status) from None
        for kind, path in paths.items():
            print(f"wrote {kind}: {path}", file=sys.stderr)
        return paths
    argv = sys.argv[1:] if argv is None else list(argv)
    command = " ".join(["python -m bench.suite", *argv])
    config = config_from_args(args, command)
    config.machine = machine_info()
    config.machine.update(
        load=f"{os.getloadavg()[0]:.2f}",
        omp_wait_policy=os.environ.get("OMP_WAIT_POLICY", "unset"),
    )
    start = time.perf_counter()
    infos, rows = run_suite(config)
    config.machine["wall"] = f"{(time.perf_counter() - start) / 60:.1f} min"
    paths = write_outputs(infos, rows, config)
    print(paths["md"].read_text())
    for kind, path in paths.items():
        print(f"wrote {kind}: {path}", file=sys.stderr)
    return paths
