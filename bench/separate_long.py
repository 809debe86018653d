"""Time and peak memory of separating one long recording, per lobe.

What ``python -m lobes.separate LONG.wav --model DIR --out OUT`` does, on a
synthetic 10-minute 16 kHz mono file (two alternating and overlapping
"talkers" plus noise): load the pretrained folder, read, resample to the
model's 8 kHz, separate (one pass for the linear-time lobes, windows for
SepFormer), resample back, write one file per speaker. Each model runs in a
fresh process (`bench.points`: peak RSS is the process's high-water mark,
so one point cannot inherit another's); the models are the registry's
(`hparams.MODELS`) at the default sizes of ``hparams/<model>.yaml``, with
random weights (speed and memory do not depend on the weights).

Usage, from the checkout root::

    python -m bench.separate_long                       # 3 lobes, 10 min
    python -m bench.separate_long --models resepformer --seconds 60
    python -m bench.separate_long --models sepformer --seconds 120
    python -m bench.separate_long --models resepformer-stream  # causal,
                                                     # streamed at 8 kHz

Prints a Markdown table and writes bench/results/separate_long.csv.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.machine import GB, peak_rss, set_threads
from bench.points import report, run_point
from bench.tables import RESULTS, markdown_table, write_csv
from hparams import MODELS

MODEL_RATE = 8000
# name: (registry model, overrides, streamed)
VARIANTS = {
    **{name: (name, {}, False) for name in MODELS},
    "resepformer-stream": ("resepformer", {"causal": True}, True),
    "fsmn_flash-stream": ("fsmn_flash", {"causal": True}, True),
}
LOBES = [name for name, model in MODELS.items() if not model.upstream]


def long_mixture(path: Path, seconds: float, rate: int) -> Path:
    """Writes a mono test recording: two harmonic talkers taking turns of
    a few seconds, overlapping part of the time, plus low noise.

    Arguments
    ---------
    path : Path
        The WAV file to write.
    seconds : float
        Its length.
    rate : int
        Its sample rate.

    Returns
    -------
    Path
        ``path``.
    """
    rng = np.random.default_rng(0)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    mix = 0.01 * rng.standard_normal(n)
    for f0, phase in ((130.0, 0.0), (210.0, 2.5)):
        tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3))
        turns = 0.5 + 0.5 * np.sin(2 * np.pi * t / 7.0 + phase)
        mix += 0.15 * turns * tone
    sf.write(path, mix.astype(np.float32), rate, subtype="PCM_16")
    return path


def pretrained_folder(folder: Path, variant: str) -> Path:
    """A pretrained folder (`lobes.inference.pretrained` format) of a
    registry model, with random weights.

    Arguments
    ---------
    folder : Path
        Where to write it.
    variant : str
        A key of `VARIANTS`.

    Returns
    -------
    Path
        ``folder``.
    """
    import torch
    from hyperpyyaml import load_hyperpyyaml, resolve_references

    from lobes.inference.pretrained import hyperparams_text, round_trip_yaml

    name, overrides, _ = VARIANTS[variant]
    with open(MODELS[name].path, encoding="utf-8") as f:
        resolved = resolve_references(f, overrides).getvalue()
    nodes = round_trip_yaml().load(resolved)
    text = hyperparams_text(
        f"{variant}, random weights (benchmark)",
        MODEL_RATE,
        nodes["num_spks"],
        nodes["Encoder"],
        nodes["MaskNet"],
        nodes["Decoder"],
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hyperparams.yaml").write_text(text)
    modules = load_hyperpyyaml(text)["modules"]
    for key, module in modules.items():
        torch.save(module.state_dict(), folder / f"{key}.ckpt")
    return folder


def point(spec: dict) -> dict:
    """One model in this (fresh) process: load, separate, write.

    Arguments
    ---------
    spec : dict
        ``model_dir``, ``input``, ``out_dir``, ``stream``, ``seconds`` and
        ``threads``.

    Returns
    -------
    dict
        ``mode``, ``load_s``, ``separate_s``, ``x_realtime`` and
        ``rss_loaded_gb``.
    """
    set_threads(spec["threads"])
    import torch

    from lobes.inference.cli import output_paths
    from lobes.inference.separator import Separator
    from lobes.inference.streaming import stream_file

    start = time.perf_counter()
    separator = Separator.from_pretrained(spec["model_dir"])
    load_s = time.perf_counter() - start
    rss_loaded = peak_rss()
    out = Path(spec["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    outputs = output_paths(out, spec["input"], separator.num_spks)
    start = time.perf_counter()
    if spec["stream"]:
        stream_file(separator, spec["input"], outputs)
    else:
        with torch.inference_mode():
            est, rate = separator.separate_file(spec["input"])
        for k, path in enumerate(outputs):
            sf.write(path, est[:, k].numpy(), rate, subtype="FLOAT")
    seconds = time.perf_counter() - start
    return {
        "mode": "stream" if spec["stream"] else separator.mode,
        "load_s": round(load_s, 2),
        "separate_s": round(seconds, 1),
        "x_realtime": round(spec["seconds"] / seconds, 2),
        "rss_loaded_gb": round(rss_loaded / GB, 2),
    }


def main(argv: list[str] | None = None) -> None:
    """Runs every requested model in its own process; prints the table
    (with ``--point``: one model, in this child process).

    Arguments
    ---------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(
        prog="python -m bench.separate_long",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=LOBES,
        choices=list(VARIANTS),
        metavar="NAME",
        help="models (default: the lobes): " + ", ".join(VARIANTS),
    )
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--rate", type=int, default=16000, help="input Hz")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--csv", default=str(RESULTS / "separate_long.csv"))
    parser.add_argument("--point", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.point:  # child process: one model
        report(point(json.loads(args.point)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs = {}
        for model in args.models:
            streamed = VARIANTS[model][2]
            rate = MODEL_RATE if streamed else args.rate  # streams: as is
            if rate not in inputs:
                inputs[rate] = long_mixture(
                    tmp / f"long_{rate}.wav", args.seconds, rate
                )
            spec = {
                "model": model,
                "seconds": args.seconds,
                "input_rate": rate,
                "stream": streamed,
                "input": str(inputs[rate]),
                "model_dir": str(pretrained_folder(tmp / model, model)),
                "out_dir": str(tmp / f"out_{model}"),
            }
            row = run_point("bench.separate_long", spec, threads=args.threads)
            for key in ("input", "model_dir", "out_dir"):
                row.pop(key)
            row["peak_rss_gb"] = round(row.pop("peak_rss") / GB, 2)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(markdown_table(rows))
    print(f"wrote {write_csv(rows, args.csv)}")


if __name__ == "__main__":
    main()
