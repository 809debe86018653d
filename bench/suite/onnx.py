"""The suite under ONNX Runtime (``python -m bench.suite --runtime onnx``).

With ``--runtime onnx``, each of our lobes (the models of source ``ours``)
is exported once per run, in a fresh process before its points
(`export_point`: `lobes.inference.onnx_export.export_onnx`, which checks
ONNX Runtime against torch before the file appears), into a temporary
folder removed at the end of the run (`onnx_folder`), and each of its
points runs that file under ONNX Runtime (`measure_onnx_point`: intra-op
threads = ``--threads``, inter-op 1, sequential execution, CPU execution
provider), on the same input as the torch points, timed and measured the
same way (`bench.suite.measure.timed`: median of the timed calls after one
warm-up call; peak RSS of the point's process). The upstream models run
in torch fp32 in the same run, so every ratio against upstream compares
ONNX Runtime with upstream's torch on one machine in one sitting.

The graph is the whole separator (encoder, masknet, decoder: input
``mix`` [batch, time], output ``estimates`` [batch, time, speakers]); its
masknet runs the training path, all chunks at once (see
`lobes.inference.onnx_export`), so its memory is that path's.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.suite.measure import inputs, timed
from bench.suite.models import MODELS, SAMPLE_RATE

if TYPE_CHECKING:
    import onnxruntime


def runtime_of(runtime: str, name: str) -> str:
    """The runtime model ``name`` runs in, in a run of ``runtime``: ONNX
    Runtime for our lobes, torch for upstream's.

    Example
    -------
    >>> runtime_of("onnx", "resepformer"), runtime_of("onnx", "sb-skim")
    ('onnx', 'torch')
    >>> runtime_of("torch", "resepformer")
    'torch'
    """
    ours = MODELS[name].source == "ours"
    return "onnx" if runtime == "onnx" and ours else "torch"


@contextlib.contextmanager
def onnx_folder(runtime: str) -> Iterator[Path | None]:
    """A temporary folder for the run's ONNX files, removed at the end
    (None for a torch run)."""
    if runtime != "onnx":
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as folder:
        yield Path(folder)


def export_spec(name: str, tiny: bool, folder: Path) -> dict:
    """The spec of the export point of model ``name`` into ``folder``.

    Example
    -------
    >>> spec = export_spec("resepformer", True, Path("/tmp/x"))
    >>> spec["kind"], spec["path"]
    ('export', '/tmp/x/resepformer.onnx')
    """
    path = folder / f"{name}.onnx"
    return dict(kind="export", model=name, tiny=tiny, path=str(path))


def export_point(spec: dict) -> dict:
    """Exports model spec['model'] (built as `measure_point` builds it,
    seed 0) to spec['path'] (`lobes.inference.onnx_export.export_onnx`,
    checked against torch at two lengths).

    Arguments
    ---------
    spec : dict
        ``model``, ``tiny`` and ``path``.

    Returns
    -------
    dict
        ``export_s`` (seconds the export and its check took) and
        ``onnx_mb`` (the file's size).
    """
    import torch

    from lobes.inference.onnx_export import export_onnx

    torch.manual_seed(0)
    model = MODELS[spec["model"]].build(spec["tiny"]).eval()
    start = time.perf_counter()
    path = export_onnx(model, spec["path"], SAMPLE_RATE)
    return {
        "export_s": time.perf_counter() - start,
        "onnx_mb": path.stat().st_size / 1e6,
    }


def export_failure(export: dict | None) -> dict | None:
    """The result of a point whose model could not be exported (None
    when it was, or runs in torch).

    Example
    -------
    >>> export_failure({"status": "failed", "reason": "exit status 1: X"})
    {'status': 'failed', 'reason': 'ONNX export failed: exit status 1: X'}
    >>> export_failure({"export_s": 3.0}), export_failure(None)
    (None, None)
    """
    if export is None or "export_s" in export:
        return None
    reason = f"ONNX export failed: {export.get('reason', '?')}"
    return {"status": export.get("status", "failed"), "reason": reason}


def session(path: str | Path, threads: int) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session of ``path`` on the CPU: ``threads`` intra-op
    threads, one inter-op thread, sequential execution, every graph
    optimisation.

    Arguments
    ---------
    path : str or Path
        An ONNX model.
    threads : int
        Intra-op threads.

    Returns
    -------
    onnxruntime.InferenceSession
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    return onnxruntime.InferenceSession(
        str(path), options, providers=["CPUExecutionProvider"]
    )


def measure_onnx_point(spec: dict) -> dict:
    """Time and peak memory of the ONNX model spec['onnx'] under ONNX
    Runtime on spec['seconds'] of audio (the input of the torch points).

    Arguments
    ---------
    spec : dict
        ``onnx`` (the file), ``seconds``, ``threads``, ``repeats`` and
        ``warmup_seconds`` (as `bench.suite.measure.measure_point`).

    Returns
    -------
    dict
        What `bench.suite.measure.timed` returns (memory: this process's
        peak RSS, the session and its arena included).
    """
    from lobes.inference.onnx_export import INPUT, OUTPUT

    runner = session(spec["onnx"], spec["threads"])
    mix, warm = (np.ascontiguousarray(x.numpy()) for x in inputs(spec))

    def call(x: np.ndarray) -> np.ndarray:
        return runner.run([OUTPUT], {INPUT: x})[0]

    return timed(call, mix, warm, spec["repeats"])
