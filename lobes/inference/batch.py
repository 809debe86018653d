"""Separating a list of recordings into a folder, with nothing lost: what
``python -m lobes.separate`` runs once its command line is parsed.

- `load_separator`: the device, the model folder and the flags checked,
  every fault in one line (a training run given as a model, a truncated
  ``.ckpt``, weights of another size, a broken ``hyperparams.yaml``, a GPU
  that is not there);
- `plan_outputs`: ``OUT_DIR/<input name>_s<k>.wav`` per input, refusing
  before anything is written to write over an input, or (without
  ``overwrite``) over existing files;
- `separate_files`: each file separated and its outputs written under
  temporary names, renamed into place once complete
  (`lobes.files.replacing_all`); a file that fails is named with
  its problem and the others go on; the summary is always printed;
  ``OUT_DIR`` is created with the first output.

Torch and SpeechBrain are imported when these run, not with the module.

Authors
 * sepformer-lobes contributors 2026
"""

import argparse
import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lobes.errors import (
    FAILURE,
    INTERRUPTED,
    CommandError,
    brief,
    is_out_of_memory,
)
from lobes.files import (
    make_folders,
    remove_empty,
    remove_partials,
    replacing_all,
)

if TYPE_CHECKING:
    from lobes.inference.separator import (
        BaseSeparator,
        Separator,
        WindowError,
    )

logger = logging.getLogger(__name__)


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


def plan_outputs(
    inputs: list[str], out_dir: Path, num_spks: int, overwrite: bool = False
) -> list[tuple[str, list[Path] | str]]:
    """The outputs of each input, checked before anything is written.

    Arguments
    ---------
    inputs : list of str
        The input files.
    out_dir : Path
        The output folder.
    num_spks : int
        Speakers.
    overwrite : bool
        Replace existing outputs (never an input).

    Returns
    -------
    list of (str, list of Path or str)
        Each input with its output paths, or the message why it is skipped
        (its name is taken by an earlier input).

    Example
    -------
    >>> plan = plan_outputs(["a/mix.wav", "b/mix.wav"], Path("out"), 1)
    >>> plan[0]
    ('a/mix.wav', [PosixPath('out/mix_s1.wav')])
    >>> plan[1][1]  # doctest: +ELLIPSIS
    'b/mix.wav would overwrite the outputs of a/mix.wav (same file name)...'
    >>> plan_outputs(["d/a.wav", "d/a_s1.wav"], Path("d"), 1)
    Traceback (most recent call last):
    ...
    lobes.errors.CommandError: d/a_s1.wav (an output of d/a.wav)...
    """
    by_path = {Path(p).resolve(): p for p in inputs}
    plan, claimed = [], {}
    for path in inputs:
        outputs = output_paths(out_dir, path, num_spks)
        for output in outputs:
            if output.resolve() in by_path:
                raise CommandError(
                    f"{output} (an output of {path}) would be written over "
                    f"the input {by_path[output.resolve()]}: choose another "
                    "--out."
                )
        if outputs[0] in claimed:
            message = (
                f"{path} would overwrite the outputs of "
                f"{claimed[outputs[0]]} (same file name): rename it or "
                "separate it separately."
            )
            plan.append((path, message))
            continue
        claimed[outputs[0]] = path
        plan.append((path, outputs))
    existing = [p for _, outs in plan if isinstance(outs, list) for p in outs]
    existing = [p for p in existing if p.exists()]
    for path in existing:
        if path.is_dir():
            raise CommandError(
                f"{path} is a folder, where an output file would go: move "
                "it, or choose another --out."
            )
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise CommandError(
            f"{existing[0]}{more} already exists: pass --overwrite to "
            "replace the outputs, or choose another --out."
        )
    return plan


def _check_device(name: str) -> None:
    """One line for a device that is not there."""
    import torch

    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise CommandError(
            f"--device {name}: not a device ({brief(error)}). Use cpu, cuda "
            "or cuda:N."
        ) from error
    if device.type == "cpu":
        return
    if device.type != "cuda":
        raise CommandError(
            f"--device {name}: this package runs on cpu or cuda (cuda:N), "
            f"not {device.type}."
        )
    if not torch.cuda.is_available():
        raise CommandError(
            f"--device {name}: no CUDA GPU is available here "
            "(torch.cuda.is_available() is False). Use --device cpu."
        )
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise CommandError(
            f"--device {name}: there are {count} CUDA device(s), cuda:0 to "
            f"cuda:{count - 1}."
        )


def _onnx_separator(model: Path, args: argparse.Namespace) -> "BaseSeparator":
    """The `lobes.inference.onnx_runtime.OnnxSeparator` of ``--model``'s
    ``model.onnx`` (``--runtime onnx``); every fault one `CommandError`."""
    from lobes.inference.onnx_runtime import OnnxSeparator
    from lobes.inference.separator import WindowError

    try:
        return OnnxSeparator.from_pretrained(
            model,
            window_seconds=args.window,
            overlap_seconds=args.overlap,
            max_pass_seconds=args.max_pass or None,
            threads=args.threads,
        )
    except WindowError as error:
        raise CommandError(window_flag_line(error)) from error
    except (FileNotFoundError, ImportError) as error:
        raise CommandError(str(error)) from error
    except ValueError as error:  # stale: exported from other weights
        raise CommandError(str(error), FAILURE) from error
    except Exception as error:  # a damaged model.onnx
        raise CommandError(
            f"{model / 'model.onnx'} cannot be loaded ({brief(error, 60)}): "
            "truncated or corrupt? Export it again (python -m lobes.export "
            "SOURCE OUT_DIR --onnx).",
            FAILURE,
        ) from error


def window_flag_line(error: "WindowError") -> str:
    """A window length the separator refused, as the flag that set it.

    Arguments
    ---------
    error : WindowError
        What the separator raised.

    Returns
    -------
    str

    Example
    -------
    >>> from lobes.inference.separator import WindowError
    >>> window_flag_line(WindowError("max_pass", 0.001, "is too short"))
    '--max-pass 0.001 is too short: pass another value.'
    """
    flag = "--" + error.name.replace("_", "-")
    return f"{flag} {error.seconds:g} {error.problem}: pass another value."


def load_separator(args: argparse.Namespace) -> "BaseSeparator":
    """The `lobes.inference.separator.Separator` of ``--model``, on
    ``--device``, with the CLI's flags (``--runtime onnx``: the
    `lobes.inference.onnx_runtime.OnnxSeparator`); with ``--stream``, one
    that streams; every fault one `CommandError`.

    Arguments
    ---------
    args : argparse.Namespace
        The parsed command line of ``python -m lobes.separate``.

    Returns
    -------
    BaseSeparator
    """
    from lobes.inference.pretrained import folder_kind_problem

    model = Path(args.model)
    problem = folder_kind_problem(model)
    if problem:
        raise CommandError(f"--model {problem}")
    _check_device(args.device)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.runtime == "onnx":
        separator = _onnx_separator(model, args)
    else:
        separator = _torch_separator(model, args)
    if args.stream:
        _check_stream(separator, args)
    return separator


def _torch_separator(model: Path, args: argparse.Namespace) -> "Separator":
    """The `lobes.inference.separator.Separator` of ``--model``
    (``--runtime torch``); every fault one `CommandError`."""
    from lobes.inference.loading import PretrainedError
    from lobes.inference.precision import check_precision
    from lobes.inference.separator import Separator, WindowError

    try:
        check_precision(args.precision, args.device)
    except ValueError as error:
        raise CommandError(f"--precision: {error}") from error
    try:
        separator = Separator.from_pretrained(
            model,
            savedir=args.savedir,
            device=args.device,
            window_seconds=args.window,
            overlap_seconds=args.overlap,
            max_pass_seconds=args.max_pass or None,
            precision=args.precision,
        )
    except WindowError as error:
        raise CommandError(window_flag_line(error)) from error
    except PretrainedError as error:  # which file, and what is wrong with it
        raise CommandError(str(error), FAILURE) from error
    except Exception as error:
        raise CommandError(
            f"{model} cannot be loaded ({brief(error)}); rerun with --debug "
            "for the traceback.",
            FAILURE,
        ) from error
    return separator


def _check_stream(separator: "BaseSeparator", args: argparse.Namespace) -> None:
    """``--stream``: the model streams (a trial stream), ``--block`` is at
    least one sample; a `CommandError` otherwise."""
    try:
        separator.stream()
    except (ValueError, FileNotFoundError) as error:  # not causal, no graph
        raise CommandError(str(error)) from error
    except Exception as error:  # a damaged stream.onnx
        raise CommandError(
            f"{Path(args.model) / 'stream.onnx'} cannot be loaded "
            f"({brief(error, 60)}): truncated or corrupt? Export it again "
            "(python -m lobes.export SOURCE OUT_DIR --onnx).",
            FAILURE,
        ) from error
    rate = separator.sample_rate
    if round(args.block * rate) < 1:
        raise CommandError(
            f"--block {args.block} is shorter than one sample at the "
            f"model's {rate} Hz: pass at least {1 / rate:.6f} (seconds)."
        )


def pass_mode(
    separator: "BaseSeparator", frames: int, rate: int, mode: str
) -> str:
    """How the separator takes a file, for the log
    (`BaseSeparator.pass_window`).

    Arguments
    ---------
    separator : BaseSeparator
        The separator.
    frames : int
        The file's length in samples.
    rate : int
        Its sample rate.
    mode : str
        ``--mode``.

    Returns
    -------
    str
        ``whole`` (one pass) or ``windowed, <s> s windows``.
    """
    length = math.ceil(frames * separator.sample_rate / rate)
    window = separator.pass_window(length, mode)
    if window is None:
        return "whole"
    return f"windowed, {window / separator.sample_rate:g} s windows"


def _separate_one(
    separator: "BaseSeparator",
    path: str,
    outputs: list[Path],
    args: argparse.Namespace,
    created: list[Path],
) -> None:
    """Separates one file into ``outputs`` (complete, or not at all),
    creating their folder (adding what it created to ``created``)."""
    import soundfile as sf

    from lobes.inference.audio import (
        OUTPUT_SUBTYPE,
        check_audio_file,
        peak_normalize,
    )
    from lobes.inference.streaming import stream_file

    info = check_audio_file(path, args.downmix)
    progress = not args.no_progress
    if args.stream:
        how = f"streamed in {args.block:g} s blocks"
    else:
        how = pass_mode(separator, info.frames, info.samplerate, args.mode)
    logger.info(
        f"Separating {path} ({info.frames / info.samplerate:.1f} s at "
        f"{info.samplerate} Hz, {how})"
    )
    if args.stream:

        def write(temps: list[Path]) -> None:
            stream_file(
                separator, path, temps, args.downmix, args.block, progress
            )

    else:
        est, rate = separator.separate_file(
            path, args.downmix, args.mode, progress
        )
        if args.normalize:
            est = peak_normalize(est)

        def write(temps: list[Path]) -> None:
            for k, temp in enumerate(temps):
                sf.write(temp, est[:, k].numpy(), rate, subtype=OUTPUT_SUBTYPE)

    out_dir = outputs[0].parent
    created += make_folders(out_dir)
    for output in outputs:  # what a killed run left
        for left in remove_partials(output):
            logger.info(f"Removed {left}, left by an interrupted run")
    try:
        with replacing_all(outputs) as temps:
            write(temps)
    except (OSError, sf.SoundFileError) as error:
        raise CommandError(
            f"{path}: its outputs cannot be written in {out_dir} "
            f"({brief(error)}); nothing was written for it. Check the free "
            f"space and the permissions of {out_dir}.",
            FAILURE,
        ) from error


def failure_line(path: str, error: Exception) -> str:
    """The line that says why a file was not separated.

    Arguments
    ---------
    path : str
        The input file.
    error : Exception
        What its separation raised.

    Returns
    -------
    str

    Example
    -------
    >>> print(failure_line("a.wav", RuntimeError("DefaultCPUAllocator: "
    ...     "can't allocate memory")))  # doctest: +ELLIPSIS
    a.wav: out of memory (RuntimeError: ...). Lower --max-pass ...
    >>> print(failure_line("a.wav", KeyError("x")))  # doctest: +ELLIPSIS
    a.wav: separation failed (KeyError: 'x'); rerun with --debug...
    """
    from lobes.inference.audio import AudioInputError

    if isinstance(error, AudioInputError | CommandError):
        return str(error)
    if is_out_of_memory(error):
        return (
            f"{path}: out of memory ({brief(error, 60)}). Lower --max-pass "
            "(one pass at most this many seconds), or use --mode windowed "
            "with a shorter --window."
        )
    return (
        f"{path}: separation failed ({brief(error)}); rerun with --debug "
        "for the traceback."
    )


def separate_files(
    separator: "BaseSeparator", args: argparse.Namespace, debug: bool = False
) -> int:
    """Separates ``args.inputs`` into ``args.out`` and prints the summary.

    Arguments
    ---------
    separator : BaseSeparator
        From `load_separator`.
    args : argparse.Namespace
        The parsed command line of ``python -m lobes.separate``.
    debug : bool
        Log the traceback of each failure.

    Returns
    -------
    int
        0 when every file was separated, 1 otherwise (130: interrupted).
    """
    out_dir = Path(args.out)
    plan = plan_outputs(
        args.inputs, out_dir, separator.num_spks, args.overwrite
    )
    done, failed, created, status = [], [], [], 0
    for path, outputs in plan:
        if isinstance(outputs, str):
            failed.append(outputs)
            logger.error(outputs)
            continue
        start = time.perf_counter()
        try:
            _separate_one(separator, path, outputs, args, created)
        except KeyboardInterrupt:
            failed.append(f"{path}: interrupted; nothing was written for it.")
            status = INTERRUPTED
            break
        except Exception as error:
            problem = failure_line(path, error)
            failed.append(problem)
            logger.error(problem, exc_info=error if debug else None)
            continue
        done.append(path)
        logger.info(
            f"{path} -> {', '.join(str(p) for p in outputs)} "
            f"({time.perf_counter() - start:.1f} s)"
        )
    if not done:
        remove_empty(created)  # no empty output folder left behind
    summary = (
        f"Separated {len(done)} of {len(args.inputs)} file(s) into {out_dir}"
    )
    if failed:
        summary += f"; {len(failed)} failed:\n" + "\n".join(
            f"  {message}" for message in failed
        )
    print(summary)
    return status or (1 if failed else 0)
