"""The command lines of the inference side.

::

    python -m lobes.separate MIX.wav [MORE.wav ...] --model DIR --out OUT_DIR
    python -m lobes.export SOURCE OUT_DIR

`separate_main` separates each input with a `Separator` (``--mode``, or
``--stream`` block by block) into ``OUT_DIR/<input name>_s<k>.wav``, one
per speaker, at the input's sample rate (`lobes.inference.batch`);
`export_main` writes a pretrained folder (`lobes.inference.export.export`).

Nothing is lost and every bad input gets one line: the file, the problem,
what to do (exit status 2 for a command line that cannot work, 1 for a
failure; the traceback only with ``--debug`` or ``LOBES_DEBUG=1``). The
flags are checked by the parser; torch and SpeechBrain are imported only
after it, so ``--help`` is immediate.

Authors
 * sepformer-lobes contributors 2026
"""

import argparse
import logging
import math
from collections.abc import Callable
from pathlib import Path

from lobes.errors import (
    FAILURE,
    USAGE,
    CommandError,
    debug_wanted,
    report_errors,
)
from lobes.files import folder_problem
from lobes.inference.batch import (
    load_separator,
    output_paths,
    separate_files,
)
from lobes.inference.defaults import (
    BLOCK_SECONDS,
    MAX_PASS_SECONDS,
    MODES,
    OVERLAP_SECONDS,
    PRECISIONS,
    RUNTIMES,
    WINDOW_SECONDS,
)

__all__ = ["export_main", "output_paths", "separate_main", "setup_logging"]

SEPARATE = "python -m lobes.separate"
EXPORT = "python -m lobes.export"


def number(kind: type, low: float = 0, allow_low: bool = False) -> Callable:
    """An argparse ``type`` for a finite number above ``low`` (or at least
    ``low`` with ``allow_low``).

    Arguments
    ---------
    kind : type
        ``int`` or ``float``.
    low : float
        The bound.
    allow_low : bool
        Accept ``low`` itself.

    Returns
    -------
    callable
        Text -> number; `argparse.ArgumentTypeError` otherwise.

    Example
    -------
    >>> number(int)("4")
    4
    >>> number(float)("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be more than 0 seconds, got 0
    """
    if kind is int:
        unit, need = "", f"at least {low if allow_low else low + 1:g}"
    else:
        unit = " seconds"
        need = f"at least {low:g}" if allow_low else f"more than {low:g}"

    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            value = math.nan
        above = value > low or (allow_low and value == low)
        if not (math.isfinite(value) and above):
            raise argparse.ArgumentTypeError(
                f"must be {need}{unit}, got {text}"
            )
        return value

    return parse


def separate_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m lobes.separate`` (imports nothing).

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog=SEPARATE,
        description="Separate recordings of any length with a pretrained "
        "model: one OUT_DIR/<name>_s<k>.wav per speaker, at the input's "
        "sample rate. Each output appears only when complete; an input is "
        "never written over, and existing outputs only with --overwrite. "
        "Exit status: 0 all separated, 1 some failed, 2 a command line that "
        "cannot work.",
    )
    parser.add_argument("inputs", nargs="+", help="mixtures to separate")
    parser.add_argument(
        "--model", required=True, help="pretrained folder (lobes.export)"
    )
    parser.add_argument(
        "--out",
        required=True,
        help="output folder (created with the first output)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing outputs (never an input)",
    )
    parser.add_argument(
        "--savedir", help="where SpeechBrain links the model files"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1")
    parser.add_argument(
        "--threads", type=number(int), help="torch CPU threads (1 or more)"
    )
    parser.add_argument(
        "--downmix",
        action="store_true",
        help="average the channels of multi-channel files (else refused)",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="auto",
        help="whole: one pass; windowed: overlapping windows; auto: whole "
        "for linear-time masknets, else windowed",
    )
    parser.add_argument(
        "--window",
        type=number(float),
        default=WINDOW_SECONDS,
        help="window length in seconds (default %(default)s)",
    )
    parser.add_argument(
        "--overlap",
        type=number(float),
        default=OVERLAP_SECONDS,
        help="least overlap of windows in seconds, at most half of --window "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--max-pass",
        type=number(float, allow_low=True),
        default=MAX_PASS_SECONDS,
        help="longest one pass, seconds (0: no limit); longer files go "
        "through aligned windows of this length (bounded memory; default "
        "%(default)s)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="SpeechBrain's precision: bf16/fp16 run the model under "
        "torch.autocast, outputs stay float32; bf16 pays on CPUs with "
        "AVX-512 BF16 or AMX and on GPUs (default %(default)s)",
    )
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="torch",
        help="onnx: ONNX Runtime on the folder's model.onnx (and, with "
        "--stream, stream.onnx; lobes.export ... --onnx; pip install "
        "'sepformer-lobes[onnx]'), fp32 on the CPU (default %(default)s)",
    )
    parser.add_argument(
        "--normalize",
        action="store_true",
        help="scale each output to a peak of 1, as SpeechBrain's "
        "separate_file does (default: off, the model's own scale)",
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="feed each file block by block to a causal model",
    )
    parser.add_argument(
        "--block",
        type=number(float),
        default=BLOCK_SECONDS,
        help="--stream block in seconds (default %(default)s)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bars"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show tracebacks (also LOBES_DEBUG=1)",
    )
    return parser


def check_flags(args: argparse.Namespace) -> None:
    """The flags that the parser cannot check alone, and ``--out``.

    Arguments
    ---------
    args : argparse.Namespace
        The parsed command line of ``python -m lobes.separate``.

    Example
    -------
    >>> args = separate_parser().parse_args(
    ...     ["a.wav", "--model", "m", "--out", "o", "--window", "3"])
    >>> check_flags(args)
    Traceback (most recent call last):
    ...
    lobes.errors.CommandError: --overlap 2.0 must be at most half...
    """
    if args.overlap > args.window / 2:
        raise CommandError(
            f"--overlap {args.overlap} must be at most half of --window "
            f"{args.window} ({args.window / 2:g} s): pass a longer --window "
            "or a shorter --overlap."
        )
    if args.max_pass and args.max_pass < 2 * args.overlap:
        raise CommandError(
            f"--max-pass {args.max_pass} must be at least twice --overlap "
            f"{args.overlap} (or 0: no limit)."
        )
    if args.runtime == "onnx" and (
        args.precision != "fp32" or args.device != "cpu"
    ):
        raise CommandError(
            "--runtime onnx runs the fp32 ONNX model on the CPU: drop "
            "--precision and --device, or use --runtime torch."
        )
    if args.stream and args.normalize:
        raise CommandError(
            "--normalize scales each output by its peak over the whole "
            "file, which a stream does not have: drop --stream or "
            "--normalize."
        )
    for flag, folder in (("--out", args.out), ("--savedir", args.savedir)):
        problem = folder and folder_problem(Path(folder))
        if problem:
            raise CommandError(f"{flag} {problem}. Choose another folder.")


def setup_logging() -> None:
    """Logs this package's INFO messages to stderr, around tqdm bars."""
    from speechbrain.utils.logger import TqdmCompatibleStreamHandler

    handler = TqdmCompatibleStreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    package = logging.getLogger("lobes")
    if not package.handlers:
        package.addHandler(handler)
        package.propagate = False
        if package.level == logging.NOTSET:
            package.setLevel(logging.INFO)


def separate_main(argv: list[str] | None = None, log: bool = False) -> int:
    """``python -m lobes.separate MIX.wav [MORE.wav ...] --model DIR --out
    OUT_DIR``.

    Arguments
    ---------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.
    log : bool
        Log progress to stderr (`setup_logging`), as the program does.

    Returns
    -------
    int
        0 when every file was separated, 1 when some failed, 2 for a
        command line that cannot work.
    """
    args = separate_parser().parse_args(argv)
    debug = debug_wanted(args.debug)

    def command() -> int:
        check_flags(args)
        if log:
            setup_logging()
        return separate_files(load_separator(args), args, debug)

    return report_errors(SEPARATE, command, lambda error: None, debug)


def export_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m lobes.export`` (imports nothing).

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog=EXPORT,
        description="Write a pretrained folder that speechbrain.inference "
        "loads, from a recipe run (its output folder or one save/CKPT+... "
        "folder) or from an upstream SpeechBrain RE-SepFormer folder. The "
        "folder is written beside OUT_DIR, loaded to check it, and only "
        "then put in place: a failed export leaves OUT_DIR as it was. An "
        "OUT_DIR that lobes.export wrote is replaced; one holding other "
        "files is refused unless --overwrite.",
    )
    parser.add_argument("source", help="run, checkpoint or upstream folder")
    parser.add_argument("out_dir", help="pretrained folder to write")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into an OUT_DIR that holds other files: the model's "
        "files (hyperparams.yaml, *.ckpt, README.md) replace their "
        "namesakes, the other files are kept",
    )
    parser.add_argument(
        "--onnx",
        action="store_true",
        help="also write OUT_DIR/model.onnx (encoder, masknet, decoder; "
        "dynamic length; checked against torch) for lobes.separate "
        "--runtime onnx, and for a causal model OUT_DIR/stream.onnx (one "
        "streaming step, for --runtime onnx --stream); needs pip install "
        "'sepformer-lobes[onnx]'",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show tracebacks (also LOBES_DEBUG=1)",
    )
    return parser


def _export_error(error: Exception, out: str) -> tuple[int, str] | None:
    """The exit status and line of an export error (None: unexpected)."""
    from lobes.inference.loading import PretrainedError

    if isinstance(error, PretrainedError):
        return FAILURE, str(error)
    if isinstance(
        error, FileNotFoundError | FileExistsError | NotADirectoryError
    ):
        return USAGE, str(error)
    if isinstance(error, OSError):  # writing: a full disk, permissions
        return FAILURE, f"{error}. Nothing was written; {out} is as it was."
    if isinstance(error, ValueError):
        return USAGE, str(error)
    return None


def export_main(argv: list[str] | None = None, log: bool = False) -> int:
    """``python -m lobes.export SOURCE OUT_DIR``.

    Arguments
    ---------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.
    log : bool
        Log progress to stderr (`setup_logging`), as the program does.

    Returns
    -------
    int
        The exit status: 0 written, 1 failed, 2 a command line that cannot
        work.
    """
    args = export_parser().parse_args(argv)
    debug = debug_wanted(args.debug)

    def command() -> int:
        if log:
            setup_logging()
        from lobes.inference.export import export

        if args.onnx:
            from lobes.inference.onnx_export import require_onnx

            try:
                require_onnx()
            except ImportError as error:
                raise CommandError(str(error)) from error
        out = export(args.source, args.out_dir, args.overwrite, args.onnx)
        files = ", ".join(sorted(p.name for p in out.iterdir()))
        print(f"Wrote {out} ({files})")
        return 0

    return report_errors(
        EXPORT, command, lambda error: _export_error(error, args.out_dir), debug
    )
