"""Which points of the suite are not run: those that would not fit.

Before each point, the model's memory growth between its last two
measured lengths (peak minus the memory held before the first call:
weights, input, libraries) is extrapolated to the new length (exponent
clamped to [1, 2]; 1 from a single point) and compared with the memory
available (CPU: MemAvailable now; CUDA: free memory reported by the last
point). A point after a shorter one of its model that did not complete
(out of memory, failed, past ``--timeout``) is not run either.
"""

import math
from collections.abc import Sequence

MEMORY_SAFETY = 0.9  # skip a point predicted above this share of free memory


def predict_peak(done: Sequence[dict], seconds: float) -> float | None:
    """Extrapolated peak memory (GB) of a model at ``seconds``.

    Arguments
    ---------
    done : sequence of dict
        The model's rows so far (``seconds``, ``status``, ``peak_mem_gb``,
        ``base_mem_gb``).
    seconds : float
        The length to predict.

    Returns
    -------
    float or None
        base + growth * (seconds / last) ** p, with the growth (peak
        minus base) of the longest ok point and p fitted on the last two
        (clamped to [1, 2]; 1 with a single point, whose growth is
        mostly fixed overhead); None without an ok point.

    Example
    -------
    >>> rows = [
    ...     dict(seconds=s, status="ok", base_mem_gb=1.0, peak_mem_gb=1 + g)
    ...     for s, g in ((1, 0.1), (4, 0.4))
    ... ]
    >>> round(predict_peak(rows, 16), 6)  # linear growth: 1 + 1.6
    2.6
    """
    ok = sorted(
        (r for r in done if r["status"] == "ok" and r["seconds"] < seconds),
        key=lambda r: r["seconds"],
    )
    if not ok:
        return None

    def growth(row: dict) -> float:
        return max(row["peak_mem_gb"] - row["base_mem_gb"], 1e-3)

    last, exponent = ok[-1], 1.0
    if len(ok) > 1:
        prev = ok[-2]
        exponent = math.log(growth(last) / growth(prev)) / math.log(
            last["seconds"] / prev["seconds"]
        )
        exponent = min(max(exponent, 1.0), 2.0)
    scale = (seconds / last["seconds"]) ** exponent
    return last["base_mem_gb"] + growth(last) * scale


def skip_reason(
    done: Sequence[dict], seconds: float, available_gb: float
) -> str | None:
    """Why a model's point at ``seconds`` is not run (None: run it).

    Arguments
    ---------
    done : sequence of dict
        The model's rows so far.
    seconds : float
        The length about to be measured.
    available_gb : float
        Memory the point may use (GB; 0: unknown, no memory check).

    Returns
    -------
    str or None
        A shorter point that did not complete, or a predicted peak
        (`predict_peak`) above `MEMORY_SAFETY` of the available memory.
    """
    for row in done:
        if row["status"] != "ok" and row["seconds"] < seconds:
            return f"the {row['seconds']:g} s point ended in {row['status']}"
    predicted = predict_peak(done, seconds)
    if predicted is not None and available_gb > 0:
        if predicted > MEMORY_SAFETY * available_gb:
            return (
                f"would not fit: predicted peak {predicted:.1f} GB > "
                f"{MEMORY_SAFETY:.0%} of {available_gb:.1f} GB free"
            )
    return None
