"""FlashFormer against RE-SepFormer on the CPU: time per MAC and growth.

Issue 17's targets for FlashFormer's inference (what
`lobes.model.EncoderMaskerDecoder.separate` runs: the grouped path):
t(64 s) / t(16 s) and t(256 s) / t(64 s) at most 4.4, and at most 1.5 times
RE-SepFormer's time per multiply-accumulate. Each point (a model at a
length) runs in a fresh process (`bench.points`), length after length and,
within a length, model after model, so that the models see the same
machine. Besides the wall-clock seconds each point reports its process's
CPU seconds: on a machine shared with other work, a one-thread run's CPU
time is what the model costs, its wall time also what it waited (compare
with ``--threads 1`` there; with more threads, waiting threads spin).
MACs are counted on the meta device (`bench.suite.measure.info_point`).

Usage, from the checkout root::

    python -m bench.flashformer_cpu                 # 4 16 64 256 s, 2 threads
    python -m bench.flashformer_cpu --lengths 4 16 --threads 1 --csv out.csv

Prints a Markdown table: per length and model the best wall and CPU
seconds, the CPU milliseconds per GMAC, the growth of the CPU time from the
previous length, and the CPU time per MAC against the first model's
(RE-SepFormer's by default).
"""

import argparse
import json
import sys
import time

from bench.machine import set_threads
from bench.points import report, run_point
from bench.tables import markdown_table, write_csv
from bench.timing import time_calls

MODELS = ("resepformer", "fsmn_flash")  # the first: the reference


def point(spec: dict) -> dict:
    """One model at one length: wall and CPU seconds of each timed call
    of ``separate`` after one warm-up call, and GMACs per second of audio.
    """
    import torch

    from bench.suite.measure import info_point
    from bench.suite.models import MODELS as BUILDERS
    from bench.suite.models import samples

    set_threads(spec["threads"])
    torch.manual_seed(0)
    model = BUILDERS[spec["model"]].build(spec["tiny"]).eval()
    mix = torch.randn(1, samples(spec["seconds"]))
    cpu = []

    def call() -> None:
        start = time.process_time()
        model.separate(mix)
        cpu.append(time.process_time() - start)

    wall = time_calls(call, spec["repeats"], warmup=1)
    info = info_point({**spec, "macs_seconds": [spec["seconds"]]})
    gmacs = info["gmacs_per_s"][f"{spec['seconds']:g}"]
    return {"wall_s": wall, "cpu_s": cpu[1:], "gmacs_per_s": gmacs}


def summarize(points: list[dict]) -> list[dict]:
    """Table rows from the points, in order (the first model of each length
    is the reference of ``per_mac_vs_first``).

    Example
    -------
    >>> def p(seconds, model, cpu, gmacs):
    ...     return dict(seconds=seconds, model=model, wall_s=[cpu],
    ...                 cpu_s=[cpu], gmacs_per_s=gmacs)
    >>> rows = summarize([p(4, "a", 1.0, 6), p(4, "b", 1.0, 3),
    ...                   p(16, "a", 4.2, 6)])
    >>> [(r["model"], r["growth"], r["per_mac_vs_first"]) for r in rows]
    [('a', None, 1.0), ('b', None, 2.0), ('a', 4.2, 1.0)]
    """
    rows, previous, first = [], {}, {}
    for p in points:
        cpu = min(p["cpu_s"])
        per_gmac = cpu / (p["gmacs_per_s"] * p["seconds"])
        first.setdefault(p["seconds"], per_gmac)
        before = previous.get(p["model"])
        rows.append(
            {
                "seconds": p["seconds"],
                "model": p["model"],
                "wall_s": min(p["wall_s"]),
                "cpu_s": cpu,
                "gmacs_per_s": p["gmacs_per_s"],
                "cpu_ms_per_gmac": 1e3 * per_gmac,
                "growth": None if before is None else round(cpu / before, 2),
                "per_mac_vs_first": round(per_gmac / first[p["seconds"]], 2),
            }
        )
        previous[p["model"]] = cpu
    return rows


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.flashformer_cpu",
        description=__doc__.split("\n")[0],
    )
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument(
        "--lengths", nargs="+", type=float, default=[4, 16, 64, 256]
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="smoke test")
    parser.add_argument("--csv", help="also write the rows to this CSV file")
    args = parser.parse_args(argv)
    points = []
    for seconds in args.lengths:
        for model in args.models:
            spec = dict(
                model=model,
                seconds=seconds,
                repeats=args.repeats,
                tiny=args.tiny,
                device="cpu",
            )
            points.append(
                run_point("bench.flashformer_cpu", spec, args.threads)
            )
    rows = summarize(points)
    print(markdown_table(rows))
    if args.csv:
        write_csv(rows, args.csv)


if __name__ == "__main__":
    if "--point" in sys.argv:
        report(point(json.loads(sys.argv[sys.argv.index("--point") + 1])))
    else:
        main()
