"""Shared benchmark helpers: timing, peak memory in fresh processes, MACs,
Markdown/CSV output.

A benchmark script measures each point in a fresh Python process (so that
the peak RSS of one point is not the high-water mark of an earlier one):
the parent calls `run_point(script, spec)`, which runs
``python script --point '<json spec>'``; the child does the work, then calls
`report(result)`, which prints the result as the last stdout line, with
its peak RSS added.

Example (a script)::

    from common import report, run_point, set_threads

    if "--point" in sys.argv:
        spec = json.loads(sys.argv[sys.argv.index("--point") + 1])
        set_threads(spec["threads"])
        report({"seconds": median(time_calls(lambda: work(spec)))})
    else:
        rows = [run_point(__file__, {"n": n}) for n in (1, 2)]
        print(markdown_table(rows))
"""

import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def set_threads(threads: int) -> None:
    """Pins torch's intra-op pool (call first thing in a point process)."""
    import torch

    torch.set_num_threads(threads)


def thread_env(threads: int) -> dict[str, str]:
    """Environment for a child process limited to ``threads`` threads."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    return env


def time_calls(
    fn: Callable[[], object], repeats: int = 3, warmup: int = 1
) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of fn after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median(values: Sequence[float]) -> float:
    """Median of values."""
    return statistics.median(values)


def peak_rss() -> int:
    """Peak resident set size of this process so far, in bytes.

    Reads VmHWM (Linux), the high-water mark of this process's own memory
    map: ``ru_maxrss`` survives exec, so a child spawned by a big parent
    would report the parent's peak. Falls back to ``ru_maxrss`` elsewhere.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def report(result: dict) -> None:
    """Prints a point's result, with its peak RSS, as the last stdout line."""
    print(json.dumps({**result, "peak_rss": peak_rss()}), flush=True)


def run_point(
    script: str | Path,
    spec: dict,
    threads: int = 2,
    timeout: float | None = None,
) -> dict:
    """Runs ``python script --point <spec>`` in a fresh process.

    The child gets ``threads`` as ``spec["threads"]`` (to pass to
    `set_threads`) and as OMP/MKL_NUM_THREADS.

    Arguments
    ---------
    script : str or Path
        A script that handles ``--point`` by calling `report`.
    spec : dict
        JSON-serialisable description of the point.
    threads : int
        OMP/MKL thread limit of the child.
    timeout : float, optional
        Seconds before the child is killed.

    Returns
    -------
    dict
        spec updated with what the child reported.
    """
    spec = {**spec, "threads": threads}
    proc = subprocess.run(
        [sys.executable, str(script), "--point", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=thread_env(threads),
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"benchmark point {spec} failed:\n{proc.stderr[-3000:]}"
        )
    return {**spec, **json.loads(proc.stdout.strip().splitlines()[-1])}


def format_value(value: object) -> str:
    """Compact text for a table cell."""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return "" if value is None else str(value)


def markdown_table(
    rows: list[dict], columns: Sequence[str] | None = None
) -> str:
    """A Markdown table of rows (dicts) over columns (default: all keys)."""
    columns = list(columns or dict.fromkeys(k for r in rows for k in r))
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---:" for _ in columns) + "|",
    ]
    for row in rows:
        cells = (format_value(row.get(c)) for c in columns)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_csv(rows: list[dict], path: str | Path) -> Path:
    """Writes rows (dicts) to a CSV file, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path
