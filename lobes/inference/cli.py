"""The command lines of the inference side.

::

    python -m lobes.separate MIX.wav [MORE.wav ...] --model DIR --out OUT_DIR
    python -m lobes.export SOURCE OUT_DIR

`separate_main` separates each input with a `Separator` (``--mode``, or
``--stream`` block by block) into ``OUT_DIR/<input name>_s<k>.wav``, one
per speaker, at the input's sample rate; a file that cannot be separated
(`AudioInputError`, out of memory) is reported and the others go on.
`export_main` writes a pretrained folder (`lobes.inference.export.export`).

Authors
 * sepformer-lobes contributors 2026
"""

import argparse
import logging
import time
from pathlib import Path

import soundfile as sf
import torch
from speechbrain.utils.logger import TqdmCompatibleStreamHandler, get_logger

from lobes.inference.audio import (
    OUTPUT_SUBTYPE,
    AudioInputError,
    check_audio_file,
)
from lobes.inference.export import export
from lobes.inference.separator import (
    MAX_PASS_SECONDS,
    MODES,
    OVERLAP_SECONDS,
    WINDOW_SECONDS,
    Separator,
)
from lobes.inference.streaming import BLOCK_SECONDS, stream_file
from lobes.model import check_streamable

logger = get_logger(__name__)


def output_paths(out_dir: Path, path: str | Path, num_spks: int) -> list[Path]:
    """Where the CLI writes the speakers of one input.

    Arguments
    ---------
    out_dir : Path
        The output folder.
    path : str or Path
        The input file.
    num_spks : int
        Speakers.

    Returns
    -------
    list of Path
        ``out_dir/<input stem>_s<k>.wav`` for k = 1..num_spks.

    Example
    -------
    >>> [p.name for p in output_paths(Path("out"), "a/mix.flac", 2)]
    ['mix_s1.wav', 'mix_s2.wav']
    """
    stem = Path(path).stem
    return [out_dir / f"{stem}_s{k + 1}.wav" for k in range(num_spks)]


def setup_logging() -> None:
    """Logs this package's INFO messages to stderr, around tqdm bars."""
    handler = TqdmCompatibleStreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    package = logging.getLogger("lobes")
    if not package.handlers:
        package.addHandler(handler)
        package.propagate = False


def separate_main(argv: list[str] | None = None) -> int:
    """``python -m lobes.separate MIX.wav [MORE.wav ...] --model DIR --out
    OUT_DIR``.

    Arguments
    ---------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 when every file was separated, 1 otherwise.
    """
    parser = argparse.ArgumentParser(
        prog="python -m lobes.separate",
        description="Separate recordings of any length with a pretrained "
        "model: one OUT_DIR/<name>_s<k>.wav per speaker, at the input's "
        "sample rate.",
    )
    parser.add_argument("inputs", nargs="+", help="mixtures to separate")
    parser.add_argument(
        "--model", required=True, help="pretrained folder (lobes.export)"
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--savedir", help="where SpeechBrain links the model files"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
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
        "--window", type=float, default=WINDOW_SECONDS, help="seconds"
    )
    parser.add_argument(
        "--overlap", type=float, default=OVERLAP_SECONDS, help="seconds"
    )
    parser.add_argument(
        "--max-pass",
        type=float,
        default=MAX_PASS_SECONDS,
        help="longest one pass, seconds (0: no limit); longer files go "
        "through aligned windows of this length (bounded memory)",
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="feed each file block by block to a causal model",
    )
    parser.add_argument(
        "--block", type=float, default=BLOCK_SECONDS, help="--stream block, s"
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bars"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    progress = not args.no_progress
    try:
        separator = Separator.from_pretrained(
            args.model,
            savedir=args.savedir,
            device=args.device,
            window_seconds=args.window,
            overlap_seconds=args.overlap,
            max_pass_seconds=args.max_pass or None,
        )
        if args.stream:
            check_streamable(separator.masknet)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    num_spks = separator.num_spks
    mode = separator.mode if args.mode == "auto" else args.mode
    done, failed, claimed = [], {}, {}
    for path in args.inputs:
        start = time.perf_counter()
        outputs = output_paths(out_dir, path, num_spks)
        if outputs[0] in claimed:
            failed[path] = (
                f"{path} would overwrite the outputs of {claimed[outputs[0]]}"
                " (same file name): rename it or separate it separately."
            )
            logger.error(failed[path])
            continue
        claimed[outputs[0]] = path
        try:
            info = check_audio_file(path, args.downmix)
            logger.info(
                f"Separating {path} ({info.frames / info.samplerate:.1f} s "
                f"at {info.samplerate} Hz, "
                f"{'stream' if args.stream else mode})"
            )
            if args.stream:
                stream_file(
                    separator, path, outputs, args.downmix, args.block, progress
                )
            else:
                est, rate = separator.separate_file(
                    path, args.downmix, args.mode, progress
                )
                for k, p in enumerate(outputs):
                    sf.write(p, est[:, k].numpy(), rate, subtype=OUTPUT_SUBTYPE)
        except AudioInputError as error:
            failed[path] = str(error)
            logger.error(str(error))
            continue
        except (MemoryError, torch.OutOfMemoryError) as error:
            failed[path] = (
                f"{path}: out of memory ({type(error).__name__}). Lower "
                "--max-pass (one pass at most this many seconds), or use "
                "--mode windowed with a shorter --window."
            )
            logger.error(failed[path])
            continue
        seconds = time.perf_counter() - start
        done.append(path)
        logger.info(
            f"{path} -> {', '.join(str(p) for p in outputs)} ({seconds:.1f} s)"
        )
    summary = (
        f"Separated {len(done)} of {len(args.inputs)} file(s) into {out_dir}"
    )
    if failed:
        summary += f"; {len(failed)} failed:\n" + "\n".join(
            f"  {message}" for message in failed.values()
        )
    print(summary)
    return 1 if failed else 0


def export_main(argv: list[str] | None = None) -> int:
    """``python -m lobes.export SOURCE OUT_DIR``.

    Arguments
    ---------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m lobes.export",
        description="Write a pretrained folder that speechbrain.inference "
        "loads, from a recipe run (its output folder or one save/CKPT+... "
        "folder) or from an upstream SpeechBrain RE-SepFormer folder.",
    )
    parser.add_argument("source", help="run, checkpoint or upstream folder")
    parser.add_argument("out_dir", help="pretrained folder to write")
    args = parser.parse_args(argv)
    try:
        out = export(args.source, args.out_dir)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    print(f"Wrote {out} ({', '.join(sorted(p.name for p in out.iterdir()))})")
    return 0
