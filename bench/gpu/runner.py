"""One section's points, run in turn in this process, or skipped.

A section of the GPU report (`bench.gpu.cli`) is a list of `Point`s,
cheapest first. `run_points` runs each unless it is skipped: because a
smaller point of its group ran out of memory or failed, because the
section's own check says so (``skip``), or because it would not fit the
time budget (`bench.gpu.budget.Budget`). Every point gives one row, with
its ``status`` (``ok``, ``skipped``, ``oom`` or ``failed``) and
``reason``; a point that raises is recorded, never fatal. Memory is handed
back to the device after each point.
"""

import gc
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bench.gpu.budget import LENGTH_EXPONENTS, Budget
from bench.tables import RESULTS
from lobes.errors import brief, is_out_of_memory

FAILED = ("oom", "failed", "timeout")
NO_CUDA = "skipped: no CUDA"  # a CUDA-only reading of a run on the CPU


@dataclass
class Point:
    """One measurement of a section.

    Arguments
    ---------
    section : str
        Its section (a key of the budget's shares).
    group : hashable
        Points whose cost grows together with ``size`` (a model in one
        dtype); a failure skips the group's larger points.
    size : float
        What its cost grows with (input seconds, batch).
    label : dict
        Its row's identity columns.
    run : callable
        Measures; returns the result columns (``status`` optional:
        ``ok`` by default; ``unit_s``, optional: the seconds of one unit
        of work, for the budget).
    work : float
        Units of work (calls, steps), for the budget (`Budget.record`).
    exponents : (float, float)
        Bounds of a unit's cost's growth with ``size``
        (`bench.gpu.budget.extrapolate`).
    release : bool
        Free memory after it (`release_memory`; a point that builds no
        model needs not).
    row : callable, optional
        Makes the row from the outcome (status, reason and results);
        default: label and outcome.
    """

    section: str
    group: Hashable
    size: float
    label: dict
    run: Callable[[], dict]
    work: float = 1.0
    exponents: tuple[float, float] = LENGTH_EXPONENTS
    release: bool = True
    row: Callable[[dict], dict] | None = field(default=None, repr=False)

    def make_row(self, outcome: dict) -> dict:
        """The row of this point's outcome."""
        if self.row is not None:
            return self.row(outcome)
        return {**self.label, "reason": "", **outcome}


def attempt(run: Callable[[], dict]) -> dict:
    """Runs a point's measurement, turning an exception into its outcome.

    Example
    -------
    >>> attempt(lambda: {"x": 1})
    {'status': 'ok', 'x': 1}
    >>> attempt(lambda: 1 / 0)["reason"]
    'ZeroDivisionError: division by zero'
    >>> attempt(lambda: exec("raise MemoryError()"))["status"]
    'oom'
    """
    try:
        return {"status": "ok", **run()}
    except Exception as error:  # recorded in the row, never fatal
        status = "oom" if is_out_of_memory(error) else "failed"
        return {"status": status, "reason": brief(error, width=180)}


def release_memory(failed: bool = False) -> None:
    """Frees what the last point left: on CUDA, the reference cycles (a
    model built by HyperPyYAML is in some) and the cached blocks, so that
    the next point starts from what it holds itself; on the CPU, only the
    cycles of a failed point (its traceback's frames)."""
    if failed or torch.cuda.is_available():
        gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_points(
    points: Sequence[Point],
    budget: Budget,
    skip: Callable[[Point, list[dict]], str | None] | None = None,
    on_row: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Runs (or skips) points in order, within the budget.

    Arguments
    ---------
    points : sequence of Point
        Cheapest first.
    budget : Budget
        The run's budget; each ok point's time is recorded in it.
    skip : callable, optional
        ``skip(point, rows)``: the section's own reason not to run a point
        (None: run it), given the rows so far.
    on_row : callable, optional
        Called with each row as it is made (to write results as they come).

    Returns
    -------
    list of dict
        One row per point, with ``status``, ``reason`` and ``wall_s``.
    """
    rows: list[dict] = []
    failed: dict[Hashable, tuple[float, str]] = {}
    for point in points:
        reason = None
        if point.group in failed and point.size > failed[point.group][0]:
            size, status = failed[point.group]
            reason = f"the {size:g} point of this group ended in {status}"
        reason = reason or (skip(point, rows) if skip else None)
        estimate = budget.estimate(
            point.group, point.size, point.work, point.exponents
        )
        reason = reason or budget.skip_reason(point.section, estimate)
        if reason:
            outcome = {"status": "skipped", "reason": reason}
        else:
            start = budget.clock()
            outcome = attempt(point.run)
            outcome["wall_s"] = budget.clock() - start
            if point.release:
                release_memory(outcome["status"] != "ok")
            if outcome["status"] == "ok":
                budget.record(
                    point.group,
                    point.size,
                    outcome["wall_s"],
                    point.work,
                    outcome.pop("unit_s", None),
                )
            elif outcome["status"] in FAILED:
                failed.setdefault(point.group, (point.size, outcome["status"]))
        row = point.make_row(outcome)
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows


@dataclass
class Settings:
    """What every section of one run shares.

    Arguments
    ---------
    device : torch.device
        Where the models run (``cuda``; ``cpu`` in a smoke run without a
        GPU).
    smoke : bool
        Tiny models on short inputs (a few seconds in all).
    budget : Budget
        The run's time budget.
    out : Path
        The results folder.
    machine : dict
        The machine's description (`bench.machine.machine_info`, the GPU).
    command : str
        The command line, for the reports.
    on_row : callable, optional
        Called with each row as it is made.
    """

    device: torch.device
    smoke: bool
    budget: Budget
    out: Path = RESULTS
    machine: dict = field(default_factory=dict)
    command: str = ""
    on_row: Callable[[dict], None] | None = None

    @property
    def cuda(self) -> bool:
        """Whether the run is on a CUDA GPU."""
        return self.device.type == "cuda"

    def run(
        self,
        points: Sequence[Point],
        skip: Callable[[Point, list[dict]], str | None] | None = None,
    ) -> list[dict]:
        """`run_points` with this run's budget and ``on_row``."""
        return run_points(points, self.budget, skip, self.on_row)
