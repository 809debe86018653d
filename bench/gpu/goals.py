"""The issue's goals for the GPU (set for bf16 on the H200), each PASS,
MISS or n/a, per dtype (fp32 is reported against the same targets).

Read from the rows of the inference and training sections (`evaluate`):

- RESepFormer at least 7x faster than upstream SepFormer-Light at 256 s
  (the RE-SepFormer paper's Fig. 3, on an A100);
- RESepFormer at least 3x faster than upstream RE-SepFormer (the same
  model and weights in SpeechBrain's code) at 256 s;
- each of our three lobes separates an hour (3600 s) in one pass within
  16 GB of peak GPU memory;
- RESepFormer's training throughput (steps per second) at least twice
  upstream RE-SepFormer's, at each batch (equal batch, equal crop).

n/a: a point the goal needs did not run (skipped, out of memory, failed),
with the reason. In a smoke run, 256 s and 3600 s stand for the run's
longest lengths (`bench.gpu.inference.SMOKE`).
"""

from collections.abc import Callable

OURS = "resepformer"
HOUR_GB = 16.0
SPEEDUP_VS_LIGHT = 7.0
SPEEDUP_VS_UPSTREAM = 3.0
TRAINING_SPEEDUP = 2.0


def find(rows: list[dict], **keys) -> dict | None:
    """The first row whose columns equal keys (None: none).

    Example
    -------
    >>> find([{"a": 1, "b": 2}, {"a": 1, "b": 3}], a=1, b=3)
    {'a': 1, 'b': 3}
    """
    for row in rows:
        if all(row.get(k) == v for k, v in keys.items()):
            return row
    return None


def missing(row: dict | None, what: str) -> str | None:
    """Why ``row`` gives no number (None: it does)."""
    if row is None:
        return f"{what}: not run"
    if row["status"] != "ok":
        reason = row.get("reason", "").split(":")[0][:60]
        return f"{what}: {row['status']} ({reason})"
    return None


def speedup_goal(
    rows: list[dict], seconds: float, dtype: str, ref: str, factor: float
) -> tuple[str, str]:
    """Value and verdict of how many times faster than ``ref`` RESepFormer
    separates, at one length and dtype (PASS from ``factor`` on); the peak
    memory ratio is given beside it."""
    ours = find(rows, model=OURS, seconds=seconds, dtype=dtype)
    theirs = find(rows, model=ref, seconds=seconds, dtype=dtype)
    why = missing(ours, "RESepFormer") or missing(theirs, ref)
    if why:
        return why, "n/a"
    speedup = theirs["time_s"] / ours["time_s"]
    memory = ours["peak_mem_gb"] / theirs["peak_mem_gb"]
    value = f"{speedup:.2f}x faster, {memory:.2f}x the memory"
    return value, "PASS" if speedup >= factor else "MISS"


def hour_goal(
    rows: list[dict], seconds: float, dtype: str, models: dict[str, str]
) -> tuple[str, str]:
    """Value and verdict of the hour-in-16-GB goal (all three lobes)."""
    parts, verdicts = [], []
    for name, label in models.items():
        row = find(rows, model=name, seconds=seconds, dtype=dtype)
        why = missing(row, label)
        if why:
            parts.append(why)
            oom = row is not None and row["status"] == "oom"
            verdicts.append("MISS" if oom else "n/a")
            continue
        parts.append(f"{label} {row['peak_mem_gb']:.2f} GB")
        verdicts.append("PASS" if row["peak_mem_gb"] <= HOUR_GB else "MISS")
    return "; ".join(parts), combine(verdicts)


def training_goal(rows: list[dict], dtype: str) -> tuple[str, str]:
    """Value and verdict of RESepFormer's training throughput against
    upstream RE-SepFormer's, at each batch."""
    batches = sorted({r["batch"] for r in rows if r.get("dtype") == dtype})
    parts, verdicts = [], []
    for batch in batches:
        ours = find(rows, model=OURS, batch=batch, dtype=dtype)
        theirs = find(rows, model="sb-resepformer", batch=batch, dtype=dtype)
        why = missing(ours, "RESepFormer") or missing(theirs, "RE-SepFormer")
        if why:
            parts.append(f"batch {batch}: {why}")
            verdicts.append("n/a")
            continue
        ratio = ours["steps_per_s"] / theirs["steps_per_s"]
        parts.append(f"batch {batch}: {ratio:.2f}x")
        verdicts.append("PASS" if ratio >= TRAINING_SPEEDUP else "MISS")
    return "; ".join(parts) or "not run", combine(verdicts)


def combine(verdicts: list[str]) -> str:
    """One verdict of several: MISS if any misses, PASS if all pass,
    else n/a.

    Example
    -------
    >>> combine(["PASS", "n/a"]), combine(["PASS", "MISS"]), combine([])
    ('n/a', 'MISS', 'n/a')
    """
    if "MISS" in verdicts:
        return "MISS"
    return "PASS" if verdicts and set(verdicts) == {"PASS"} else "n/a"


def evaluate(
    inference: list[dict],
    training: list[dict],
    long: float,
    hour: float,
    labels: dict[str, str],
) -> list[dict]:
    """Every goal, per dtype.

    Arguments
    ---------
    inference : list of dict
        The inference section's rows (`bench.suite.plan.make_row`).
    training : list of dict
        The training section's rows.
    long : float
        The length of the ratio goals (256 s).
    hour : float
        The length of the memory goal (3600 s).
    labels : dict
        {our lobes' names: their labels}.

    Returns
    -------
    list of dict
        ``goal``, ``dtype``, ``value``, ``target``, ``verdict``.
    """
    goals: list[tuple[str, str, Callable[[str], tuple[str, str]]]] = [
        (
            f"RESepFormer vs SepFormer-Light at {long:g} s",
            f">= {SPEEDUP_VS_LIGHT:g}x faster",
            lambda d: speedup_goal(
                inference, long, d, "sepformer-light", SPEEDUP_VS_LIGHT
            ),
        ),
        (
            f"RESepFormer vs upstream RE-SepFormer at {long:g} s",
            f">= {SPEEDUP_VS_UPSTREAM:g}x faster",
            lambda d: speedup_goal(
                inference, long, d, "sb-resepformer", SPEEDUP_VS_UPSTREAM
            ),
        ),
        (
            f"peak memory of each lobe at {hour:g} s",
            f"<= {HOUR_GB:g} GB",
            lambda d: hour_goal(inference, hour, d, labels),
        ),
        (
            "training steps/s, RESepFormer / upstream RE-SepFormer",
            f">= {TRAINING_SPEEDUP:g}x at each batch",
            lambda d: training_goal(training, d),
        ),
    ]
    result = []
    for goal, target, measure in goals:
        for dtype in ("bf16", "fp32"):
            value, verdict = measure(dtype)
            result.append(
                dict(
                    goal=goal,
                    dtype=dtype,
                    value=value,
                    target=target,
                    verdict=verdict,
                )
            )
    return result
