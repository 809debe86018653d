"""The fresh-process protocol: each measurement (a point) in its own
Python process, so that the peak memory of one point is not the high-water
mark of an earlier one.

The parent calls `run_point(module, spec)`, which runs ``python -m module
--point '<json spec>'`` from the checkout root; the child does the work,
then calls `report(result)`, which prints the result as the last stdout
line, with its peak RSS added. A child that dies (killed by the kernel's
OOM killer, for instance) or runs past its time limit comes back as a row
with a ``status`` and a ``reason`` (`failure_reason`) when the parent
passes ``check=False``.

Example (a module ``bench/example.py``, run as ``python -m
bench.example``)::

    from bench.machine import set_threads
    from bench.points import report, run_point
    from bench.tables import markdown_table
    from bench.timing import median, time_calls

    if "--point" in sys.argv:
        spec = json.loads(sys.argv[sys.argv.index("--point") + 1])
        set_threads(spec["threads"])
        report({"seconds": median(time_calls(lambda: work(spec)))})
    else:
        rows = [run_point("bench.example", {"n": n}) for n in (1, 2)]
        print(markdown_table(rows))

`bench.suite` and `bench.separate_long` measure this way.
"""

import json
import signal
import subprocess
import sys
from pathlib import Path

from bench.machine import peak_rss, thread_env

ROOT = Path(__file__).resolve().parents[1]  # the checkout: bench's parent


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
    module: str,
    spec: dict,
    threads: int = 2,
    timeout: float | None = None,
    check: bool = True,
) -> dict:
    """Runs ``python -m module --point <spec>`` in a fresh process, from
    the checkout root (the parent of ``bench/``).

    The child gets ``threads`` as ``spec["threads"]`` (to pass to
    `bench.machine.set_threads`) and as OMP/MKL_NUM_THREADS.

    Arguments
    ---------
    module : str
        A module that handles ``--point`` by calling `report`, e.g.
        ``bench.suite``.
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
            [sys.executable, "-m", module, "--point", json.dumps(spec)],
            capture_output=True,
            text=True,
            cwd=ROOT,
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
