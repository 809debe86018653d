"""The time budget of a GPU report: section deadlines and point estimates.

A run gets ``--budget`` seconds, split between its sections by shares
(`SHARES`, in the order they run). Section i must end by start + budget x
(the shares of sections 1..i), so time that a section leaves flows to the
ones after it, and the last gets all that is left.

Within a section the points run cheapest first. Before each, its time is
estimated from the points done of its group (one model in one dtype, say):
a fixed part (building the model, the first call) plus its units of work
(calls, steps) times the cost of one unit, extrapolated in the point's
size (input seconds, batch) by `extrapolate`, all times `SAFETY`. The
point is skipped, with the reason, when it would end past its section's
deadline. A group's first point has no estimate: it runs while the
section has time left.
"""

import math
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

SHARES = {
    "correctness": 0.12,
    "kernels": 0.06,
    "training": 0.27,
    "inference": 0.55,
}
SAFETY = 1.5  # an estimate's margin: a point's cost is not a clean power
# exponents of a cost's growth with the size: time grows at least linearly
# with the input length (and at most as its square)
LENGTH_EXPONENTS = (1.0, 2.0)


def extrapolate(
    done: Sequence[tuple[float, float]],
    size: float,
    exponents: tuple[float, float] = LENGTH_EXPONENTS,
) -> float:
    """A cost at ``size`` from costs measured at other sizes.

    Arguments
    ---------
    done : sequence of (size, cost)
        Measured points (at least one).
    size : float
        The size to estimate.
    exponents : (float, float)
        The least and the most the cost may grow with, as a power of the
        size.

    Returns
    -------
    float
        cost(last) * (size / last) ** p, where last is the largest size
        measured up to ``size`` and p the exponent between it and the
        one before, clamped to ``exponents`` (the least from a single
        point). Below every measured size: the smallest's cost, scaled
        by the least exponent.

    Example
    -------
    >>> extrapolate([(1, 0.1), (4, 0.4)], 16)  # linear
    1.6
    >>> extrapolate([(16, 1.0), (64, 16.0)], 256)  # quadratic
    256.0
    >>> extrapolate([(1, 1.0)], 4, exponents=(0.5, 1.0))  # a batch of 4
    2.0
    >>> extrapolate([(4, 2.0)], 1)
    0.5
    """
    low, high = exponents
    ordered = sorted(done)
    below = [point for point in ordered if point[0] <= size]
    if not below:
        first_size, first_cost = ordered[0]
        return first_cost * (size / first_size) ** low
    last_size, last_cost = below[-1]
    exponent = low
    if len(below) > 1 and below[-2][0] < last_size:
        prev_size, prev_cost = below[-2]
        ratio = max(last_cost, 1e-9) / max(prev_cost, 1e-9)
        exponent = math.log(ratio) / math.log(last_size / prev_size)
        exponent = min(max(exponent, low), high)
    return last_cost * (size / last_size) ** exponent


@dataclass
class Budget:
    """The time a run may take, and what its points cost so far.

    Arguments
    ---------
    seconds : float
        The whole run's budget.
    shares : dict
        {section: share of the budget}, in the order the sections run.
    clock : callable
        Seconds now (``time.monotonic``; tests pass a fake clock).
    safety : float
        Estimates are multiplied by it.
    start : float, optional
        When the run started, on ``clock`` (default: now).

    Example
    -------
    >>> now = [0.0]
    >>> budget = Budget(100, {"a": 0.5, "b": 0.5}, clock=lambda: now[0])
    >>> budget.record(("m",), 1, 3.0, work=4, unit=0.5)  # 1 s fixed
    >>> budget.estimate(("m",), 4, work=4)  # (1 + 4 x 4 x 0.5) x 1.5
    13.5
    >>> now[0] = 45.0  # a has 5 s left
    >>> budget.skip_reason("a", 13.5)  # doctest: +ELLIPSIS
    'would not fit the time budget: estimated 13.5 s, 5.0 s left for a ...'
    >>> budget.skip_reason("b", 13.5) is None  # b: 55 s left
    True
    """

    seconds: float
    shares: dict[str, float] = field(default_factory=lambda: dict(SHARES))
    clock: Callable[[], float] = time.monotonic
    safety: float = SAFETY
    start: float | None = None
    costs: dict[Hashable, list[tuple[float, float]]] = field(
        default_factory=dict
    )
    fixed: dict[Hashable, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.start is None:
            self.start = self.clock()

    def elapsed(self) -> float:
        """Seconds since the start."""
        return self.clock() - self.start

    def deadline(self, section: str) -> float:
        """When ``section`` must end (on ``clock``)."""
        names = list(self.shares)
        share = sum(self.shares[n] for n in names[: names.index(section) + 1])
        return self.start + self.seconds * min(share, 1.0)

    def left(self, section: str) -> float:
        """Seconds left to ``section`` now."""
        return self.deadline(section) - self.clock()

    def record(
        self,
        group: Hashable,
        size: float,
        seconds: float,
        work: float = 1.0,
        unit: float | None = None,
    ) -> None:
        """Notes what a point of ``group`` at ``size`` cost.

        Arguments
        ---------
        group : hashable
            Its group.
        size : float
            Its size.
        seconds : float
            Its whole time.
        work : float
            Its units of work (calls, steps).
        unit : float, optional
            Seconds of one unit, when the point measured it (the rest of
            its time is fixed cost); default: seconds / work, no fixed
            cost.
        """
        if unit is None:
            unit, fixed = seconds / work, 0.0
        else:
            fixed = max(seconds - work * unit, 0.0)
        self.costs.setdefault(group, []).append((size, unit))
        self.fixed[group] = fixed

    def estimate(
        self,
        group: Hashable,
        size: float,
        work: float = 1.0,
        exponents: tuple[float, float] = LENGTH_EXPONENTS,
    ) -> float | None:
        """Estimated seconds of a point (None: nothing done in its group).

        Arguments
        ---------
        group, size, work
            The point's, as `record` takes them.
        exponents : (float, float)
            Bounds of the unit cost's growth with the size (`extrapolate`).

        Returns
        -------
        float or None
        """
        done = self.costs.get(group)
        if not done:
            return None
        unit = extrapolate(done, size, exponents)
        return self.safety * (self.fixed[group] + work * unit)

    def skip_reason(self, section: str, estimate: float | None) -> str | None:
        """Why a point is not run (None: run it).

        Arguments
        ---------
        section : str
            Its section (a key of ``shares``).
        estimate : float or None
            Its estimated seconds (`estimate`; None: unknown).

        Returns
        -------
        str or None
        """
        left = self.left(section)
        if left <= 0:
            return f"the time budget of {section} is spent"
        if estimate is not None and estimate > left:
            return (
                f"would not fit the time budget: estimated {estimate:.1f} s, "
                f"{left:.1f} s left for {section} (of --budget "
                f"{self.seconds:g} s)"
            )
        return None
