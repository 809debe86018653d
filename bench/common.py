"""Shared benchmark helpers: timing, peak memory in fresh processes, the
machine description, Markdown/CSV output.

A benchmark script measures each point in a fresh Python process (so that
the peak memory of one point is not the high-water mark of an earlier one):
the parent calls `run_point(script, spec)`, which runs
``python script --point '<json spec>'``; the child does the work, then calls
`report(result)`, which prints the result as the last stdout line, with
its peak RSS added. A child that dies (killed by the kernel's OOM killer,
for instance) or runs past its time limit comes back as a row with a
``status`` and a ``reason`` when the parent passes ``check=False``.

Example (a script)::

    from common import report, run_point, set_threads

    if "--point" in sys.argv:
        spec = json.loads(sys.argv[sys.argv.index("--point") + 1])
        set_threads(spec["threads"])
        report({"seconds": median(time_calls(lambda: work(spec)))})
    else:
        rows = [run_point(__file__, {"n": n}) for n in (1, 2)]
        print(markdown_table(rows))

`bench/suite.py`, the benchmark suite, is built on these helpers.
"""

import csv
import datetime
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
GB = 1e9


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


def time_calls_cuda(
    fn: Callable[[], object], repeats: int = 3, warmup: int = 1
) -> list[float]:
    """GPU seconds of ``repeats`` calls of fn after ``warmup`` calls.

    Each call is timed with a pair of CUDA events recorded on the current
    stream around it, so the time is the GPU's, not the host's launch time.

    Arguments
    ---------
    fn : callable
        Launches the work on the current CUDA device.
    repeats : int
        Timed calls.
    warmup : int
        Untimed calls first.

    Returns
    -------
    list of float
        Seconds of each timed call.
    """
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)  # ms -> s
    return times


def median(values: Sequence[float]) -> float:
    """Median of values."""
    return statistics.median(values)


def _status_kib(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status in bytes (None off Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_rss() -> int:
    """Peak resident set size of this process so far, in bytes.

    Reads VmHWM (Linux), the high-water mark of this process's own memory
    map: ``ru_maxrss`` survives exec, so a child spawned by a big parent
    would report the parent's peak. Falls back to ``ru_maxrss`` elsewhere.
    """
    value = _status_kib("VmHWM")
    if value is not None:
        return value
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss() -> int:
    """Resident set size of this process now, in bytes (VmRSS; 0 if
    unknown)."""
    return _status_kib("VmRSS") or 0


def available_memory() -> int:
    """Memory the kernel can give a new process now, in bytes.

    Reads ``MemAvailable`` of /proc/meminfo (Linux); elsewhere the total
    physical memory, or 0 if even that is unknown.
    """
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def machine_info() -> dict[str, str]:
    """What the numbers were measured on (the host; a GPU is described by
    the process that uses it, so that this one holds no CUDA context).

    Returns
    -------
    dict
        CPU model, logical and usable cores, RAM, OS, Python, torch and
        speechbrain versions, date (UTC).
    """
    import speechbrain
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln for ln in f if ln.startswith("model name")]
        if names:
            cpu = names[0].split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 0
    usable = (
        len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count()
    )
    return {
        "cpu": cpu,
        "cores": f"{os.cpu_count()} logical, {usable} usable",
        "ram": f"{total / GB:.1f} GB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "speechbrain": speechbrain.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
    }


def report(result: dict) -> None:
    """Prints a point's result, with its peak RSS, as the last stdout line."""
    print(json.dumps({**result, "peak_rss": peak_rss()}), flush=True)


def failure_reason(returncode: int, stderr: str) -> tuple[str, str]:
    """Status and reason of a child process that exited with an error.

    Arguments
    ---------
    returncode : int
        The child's exit status (negative: killed by that signal).
    stderr : str
        What the child wrote to stderr.

    Returns
    -------
    status : str
        ``oom`` when the child was SIGKILLed (the kernel's OOM killer's
        signal) or reported a failed allocation, ``failed`` otherwise.
    reason : str
        One line for a table.

    Example
    -------
    >>> failure_reason(-9, "")
    ('oom', 'killed by SIGKILL (out of memory)')
    >>> failure_reason(1, "Traceback ...\\nValueError: bad shape\\n")
    ('failed', 'exit status 1: ValueError: bad shape')
    """
    if returncode == -signal.SIGKILL:
        return "oom", "killed by SIGKILL (out of memory)"
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else "no error message"
    lowered = last.lower()
    if "out of memory" in lowered or "can't allocate memory" in lowered:
        return "oom", f"out of memory: {last[:200]}"
    if returncode < 0:
        return "failed", f"killed by signal {-returncode}"
    return "failed", f"exit status {returncode}: {last[:200]}"


def run_point(
    script: str | Path,
    spec: dict,
    threads: int = 2,
    timeout: float | None = None,
    check: bool = True,
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
    check : bool
        Raise when the child fails. With False, a failed child gives
        spec with ``status`` (``oom``, ``timeout`` or ``failed``, see
        `failure_reason`), ``reason`` and ``stderr`` (its last 3000
        characters) instead.

    Returns
    -------
    dict
        spec updated with what the child reported.
    """
    spec = {**spec, "threads": threads}
    try:
        proc = subprocess.run(
            [sys.executable, str(script), "--point", json.dumps(spec)],
            capture_output=True,
            text=True,
            env=thread_env(threads),
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        if check:
            raise
        reason = f"ran past the {timeout:g} s limit"
        return {**spec, "status": "timeout", "reason": reason}
    if proc.returncode != 0:
        if check:
            raise RuntimeError(
                f"benchmark point {spec} failed:\n{proc.stderr[-3000:]}"
            )
        status, reason = failure_reason(proc.returncode, proc.stderr)
        return {
            **spec,
            "status": status,
            "reason": reason,
            "stderr": proc.stderr[-3000:],
        }
    return {**spec, **json.loads(proc.stdout.strip().splitlines()[-1])}


def format_value(value: object) -> str:
    """Compact text for a table cell."""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return "" if value is None else str(value)


def markdown_table(
    rows: list[dict], columns: Sequence[str] | None = None
) -> str:
    """A Markdown table of rows (dicts) over columns (default: all keys).

    Columns of numbers are right-aligned, the others left-aligned.
    """
    columns = list(columns or dict.fromkeys(k for r in rows for k in r))
    cells = [[format_value(row.get(c)) for c in columns] for row in rows]

    def numeric(text: str) -> bool:
        try:
            float(text)
        except ValueError:
            return text == ""
        return True

    align = [
        "---:" if all(numeric(line[i]) for line in cells) else ":---"
        for i in range(len(columns))
    ]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(line) + " |" for line in cells]
    return "\n".join(lines)


def write_csv(
    rows: list[dict], path: str | Path, columns: Sequence[str] | None = None
) -> Path:
    """Writes rows (dicts) to a CSV file, creating its folder.

    Arguments
    ---------
    rows : list of dict
        One dict per line; missing keys give empty cells.
    path : str or Path
        The file.
    columns : sequence of str, optional
        Columns in order (default: every key, in order of appearance).

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(columns or dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path
