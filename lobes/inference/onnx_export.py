"""ONNX export of a separator: encoder, masknet and decoder in one graph.

`export_onnx` writes a `lobes.model.EncoderMaskerDecoder` as one ONNX model:
input ``mix`` [batch, time] float32, output ``estimates`` [batch, time,
speakers] float32, batch and time dynamic (any time from the encoder's
kernel on). It goes through ``torch.export`` (time and batch symbolic, so
every padding to a chunk or window size is a graph op) and torch's ONNX
exporter, then runs the file under ONNX Runtime at lengths other than the
traced one and compares with torch before the file is put in place.
`add_onnx` adds ``model.onnx`` (`ONNX_FILE`) to an existing pretrained
folder, beside its ``hyperparams.yaml``; `lobes.inference.onnx_runtime
.OnnxSeparator` separates with it.

The masknets run their training path in the graph (all chunks at once, the
path autograd sees), not their inference path, which walks bounded groups
of chunks in a Python loop; the two compute the same masks. So one pass of
an ONNX model holds the masknet's whole working set: long recordings go
through windows (``max_pass_seconds`` of the separator).

Needs the ``onnx`` extra: ``pip install 'sepformer-lobes[onnx]'``
(onnx, onnxscript, onnxruntime).

Authors
 * sepformer-lobes contributors 2026
"""

from __future__ import annotations

import copy
import hashlib
import logging
import operator
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn as nn

from lobes.files import replacing
from lobes.inference.pretrained import LOADABLES
from lobes.model import EncoderMaskerDecoder

logger = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"  # in a pretrained folder, beside hyperparams.yaml
INPUT, OUTPUT = "mix", "estimates"
OPSET = 18
# A prime number of samples: no chunk or window size divides its frames,
# and the decoder's output ends before it (both paddings are traced).
TRACE_SAMPLES = 8191
CHECK_SAMPLES = (2963, 18407)  # 0.37 s and 2.3 s at 8 kHz, not the trace
ATOL = 1e-4  # ONNX Runtime against torch, relative to the output's peak
INSTALL = "pip install 'sepformer-lobes[onnx]'"


def _floordiv(self, other):
    """Python's floor division of two int64 scalars, as ONNX ops.

    torch's exporter maps ``operator.floordiv`` on symbolic sizes to ONNX
    ``Div``, which truncates: wrong for negative operands, e.g. a lobe's
    ceil-division ``-(-L // K)``. Same as onnxscript's ``aten_floor_divide``.
    """
    from onnxscript import BOOL, INT64
    from onnxscript import opset18 as op

    offset = op.And(
        op.Equal(op.Less(self, 0), op.Greater(other, 0)),
        op.Cast(op.Mod(self, other), to=BOOL.dtype),
    )
    return op.Sub(op.Div(self, other), op.Cast(offset, to=INT64.dtype))


def require_onnx() -> None:
    """Raises a one-line ImportError unless the ``onnx`` extra is here
    (onnx, onnxscript, onnxruntime).

    Example
    -------
    >>> require_onnx()
    """
    for package in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(package)
        except ImportError as error:
            raise ImportError(
                f"ONNX export and ONNX Runtime need the {package} package: "
                f"{INSTALL}"
            ) from error


def checkpoints_digest(folder: str | Path) -> str:
    """A SHA-256 of a pretrained folder's ``.ckpt`` files (`LOADABLES`):
    stored in its ``model.onnx`` by `add_onnx`, so that an ONNX model that
    no longer matches the checkpoints beside it is refused.

    Arguments
    ---------
    folder : str or Path
        A pretrained folder.

    Returns
    -------
    str
        Hex digest.
    """
    digest = hashlib.sha256()
    for name in LOADABLES:
        with open(Path(folder) / f"{name}.ckpt", "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def onnx_metadata(
    model: EncoderMaskerDecoder, sample_rate: int | None = None
) -> dict[str, str]:
    """What an ONNX model of `export_onnx` says about itself (its
    ``metadata_props``), read back by `lobes.inference.onnx_runtime`.

    Arguments
    ---------
    model : EncoderMaskerDecoder
        The model exported.
    sample_rate : int, optional
        Its sample rate.

    Returns
    -------
    dict
        ``masknet``, ``linear_in_length``, ``min_samples``, ``num_spks``,
        ``causal``, ``streams`` (`lobes.model.capabilities`) and (when
        given) ``sample_rate``, as strings.

    Example
    -------
    >>> from hparams import MODELS
    >>> model = MODELS["resepformer"].build(MODELS["resepformer"].tiny)
    >>> onnx_metadata(model, 8000)["min_samples"]
    '16'
    """
    masknet = model.masknet
    meta = {
        "masknet": f"{type(masknet).__module__}.{type(masknet).__name__}",
        "linear_in_length": str(model.capabilities.linear_in_length),
        "min_samples": str(model.min_samples),
        "causal": str(bool(getattr(masknet, "causal", False))),
        "streams": str(model.capabilities.streams),
    }
    num_spks = getattr(masknet, "num_spks", None)
    if num_spks is not None:
        meta["num_spks"] = str(int(num_spks))
    if sample_rate is not None:
        meta["sample_rate"] = str(int(sample_rate))
    return meta


def _exported_program(
    model: nn.Module, trace_samples: int
) -> torch.export.ExportedProgram:
    """``torch.export`` of model [B, T] -> [B, T, S] with B and T symbolic;
    a ValueError when the time axis became a constant."""
    dims = {"mix": {0: torch.export.Dim.DYNAMIC, 1: torch.export.Dim.DYNAMIC}}
    example = torch.randn(2, trace_samples)
    # grad enabled: the lobes' whole-sequence path (see the module docstring)
    with torch.enable_grad():
        program = torch.export.export(
            model, (example,), dynamic_shapes=dims, strict=False
        )
    (name,) = program.graph_signature.user_inputs
    shape = (
        next(n for n in program.graph.nodes if n.name == name).meta["val"].shape
    )
    if not all(isinstance(size, torch.SymInt) for size in shape):
        raise ValueError(
            f"{type(model.masknet).__name__} does not export with a dynamic "
            f"length: the traced input shape became {tuple(shape)}."
        )
    return program


def export_copy(model: nn.Module) -> EncoderMaskerDecoder:
    """The model to export: a copy on the CPU, float32, in eval mode, as an
    `EncoderMaskerDecoder` (``model`` is left as it is).

    Arguments
    ---------
    model : torch.nn.Module
        With ``encoder``, ``masknet`` and ``decoder``.

    Returns
    -------
    EncoderMaskerDecoder
    """
    cpu = copy.deepcopy(model).cpu().float().eval()
    if not isinstance(cpu, EncoderMaskerDecoder):
        cpu = EncoderMaskerDecoder(cpu.encoder, cpu.masknet, cpu.decoder)
    return cpu


def to_onnx(
    program: torch.export.ExportedProgram,
    input_names: list[str],
    output_names: list[str],
    opset: int = OPSET,
    metadata: dict[str, str] | None = None,
) -> torch.onnx.ONNXProgram:
    """torch's ONNX exporter on an exported program, quietly, with Python's
    floor division of sizes (`_floordiv`) and ``metadata`` in the model's
    ``metadata_props``.

    Arguments
    ---------
    program : torch.export.ExportedProgram
        What ``torch.export.export`` returned.
    input_names, output_names : list of str
        Names of the graph's inputs and outputs (flattened, in order).
    opset : int
        ONNX opset.
    metadata : dict, optional
        Strings stored in the file.

    Returns
    -------
    torch.onnx.ONNXProgram
    """
    # torch's exporter warns four times that torchvision's ops are absent
    registry = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registry.level
    registry.setLevel(logging.ERROR)
    try:
        onnx_program = torch.onnx.export(
            program,
            dynamo=True,
            input_names=input_names,
            output_names=output_names,
            opset_version=opset,
            custom_translation_table={operator.floordiv: _floordiv},
            optimize=True,
            verbose=False,  # no progress lines on stdout
        )
    finally:
        registry.setLevel(level)
    onnx_program.model.metadata_props.update(metadata or {})
    return onnx_program


def save_checked(
    onnx_program: torch.onnx.ONNXProgram,
    path: str | Path,
    error: Callable[[Path], float] | None,
    name: str,
) -> None:
    """Saves an ONNX model under a temporary name beside ``path``, checks
    it and only then renames it to ``path``: a failed check leaves
    ``path`` as it was.

    Arguments
    ---------
    onnx_program : torch.onnx.ONNXProgram
        The model (`to_onnx`).
    path : str or Path
        The ``.onnx`` file to write.
    error : callable, optional
        The model file -> its largest error against torch (relative, as
        `max_onnx_error`); above `ATOL` nothing is written. None: no check.
    name : str
        The masknet, for the message.
    """
    with replacing(path) as temp:
        onnx_program.save(str(temp), external_data=False)
        if error is not None:
            worst = error(temp)
            if not worst <= ATOL:
                raise ValueError(
                    f"ONNX Runtime's output of {name} differs from torch's "
                    f"by {worst:.2e} (more than {ATOL:g}): nothing written "
                    f"to {path}."
                )
            logger.info(f"ONNX Runtime agrees with torch within {worst:.1e}")


def max_onnx_error(
    model: nn.Module, path: str | Path, lengths: tuple[int, ...], batch: int = 2
) -> float:
    """The largest difference between ONNX Runtime's and torch's estimates
    on random mixtures, relative to the largest torch estimate (when above
    one).

    Arguments
    ---------
    model : torch.nn.Module
        [B, T] -> [B, T, S] in float32 on the CPU.
    path : str or Path
        Its ONNX model.
    lengths : tuple of int
        Mixture lengths in samples.
    batch : int
        Mixtures per length.

    Returns
    -------
    float
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"]
    )
    generator = torch.Generator().manual_seed(0)
    worst = 0.0
    for length in lengths:
        mix = torch.randn(batch, length, generator=generator)
        with torch.no_grad():
            expected = model(mix)
        got = torch.from_numpy(session.run([OUTPUT], {INPUT: mix.numpy()})[0])
        if got.shape != expected.shape:
            raise ValueError(
                f"the ONNX model returned {tuple(got.shape)} for {length} "
                f"samples, torch {tuple(expected.shape)}."
            )
        scale = max(1.0, expected.abs().max().item())
        worst = max(worst, (got - expected).abs().max().item() / scale)
    return worst


def export_onnx(
    model: EncoderMaskerDecoder,
    path: str | Path,
    sample_rate: int | None = None,
    trace_samples: int = TRACE_SAMPLES,
    check_samples: tuple[int, ...] = CHECK_SAMPLES,
    opset: int = OPSET,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Writes ``model`` (encoder, masknet, decoder) as one ONNX model.

    Input ``mix`` [batch, time] float32, output ``estimates`` [batch, time,
    num_spks] float32 (`lobes.model.EncoderMaskerDecoder.forward`), batch
    and time dynamic. The file is written under a temporary name beside
    ``path``, run under ONNX Runtime at ``check_samples`` (lengths other
    than the traced one) and compared with torch, and only then renamed to
    ``path``: a failed export leaves ``path`` as it was.

    Arguments
    ---------
    model : EncoderMaskerDecoder
        The model; it is copied (to the CPU, float32, eval mode) and left
        as it is.
    path : str or Path
        The ``.onnx`` file to write.
    sample_rate : int, optional
        The model's sample rate, stored in the file's metadata (needed by
        `lobes.inference.onnx_runtime.OnnxSeparator`).
    trace_samples : int
        Length of the example traced.
    check_samples : tuple of int
        Lengths at which ONNX Runtime must agree with torch (within `ATOL`
        of the output's peak, or of 1); empty: no check.
    opset : int
        ONNX opset (at least 18 for torch's exporter).
    metadata : dict, optional
        More ``metadata_props`` for the file (strings).

    Returns
    -------
    Path
        ``path``.

    Example
    -------
    >>> from hparams import MODELS
    >>> model = MODELS["resepformer"].build(MODELS["resepformer"].tiny)
    >>> path = export_onnx(model, getfixture("tmp_path") / "m.onnx", 8000)
    >>> import onnxruntime
    >>> session = onnxruntime.InferenceSession(path)
    >>> session.run(None, {"mix": torch.randn(3, 1234).numpy()})[0].shape
    (3, 1234, 2)
    """
    require_onnx()
    path = Path(path)
    cpu = export_copy(model)
    program = _exported_program(cpu, trace_samples)
    onnx_program = to_onnx(
        program,
        [INPUT],
        [OUTPUT],
        opset,
        onnx_metadata(cpu, sample_rate) | (metadata or {}),
    )

    def error(temp: Path) -> float:
        return max_onnx_error(cpu, temp, tuple(check_samples))

    save_checked(
        onnx_program,
        path,
        error if check_samples else None,
        type(cpu.masknet).__name__,
    )
    return path


def add_onnx(folder: str | Path, **kwargs) -> Path:
    """Adds ``model.onnx`` (`ONNX_FILE`) to a pretrained folder, beside its
    ``hyperparams.yaml`` (`export_onnx`: written under a temporary name,
    checked, then renamed; an existing ``model.onnx`` is replaced only by a
    complete, checked one), and for a causal model its streaming step,
    ``stream.onnx`` (`lobes.inference.onnx_stream.export_stream_onnx`, put
    in place the same way). Both record the checkpoints' digest
    (`checkpoints_digest`).

    Arguments
    ---------
    folder : str or Path
        A pretrained folder (``python -m lobes.export``).
    **kwargs
        `export_onnx` arguments (trace_samples, check_samples, opset).

    Returns
    -------
    Path
        The ``model.onnx`` written.
    """
    from lobes.inference.loading import load_pretrained_modules

    folder = Path(folder)
    require_onnx()
    hparams, modules = load_pretrained_modules(folder)
    model = EncoderMaskerDecoder(
        modules["encoder"], modules["masknet"], modules["decoder"]
    )
    rate = hparams.get("sample_rate")
    digest = {"checkpoints": checkpoints_digest(folder)}
    path = export_onnx(
        model, folder / ONNX_FILE, rate, metadata=digest, **kwargs
    )
    if model.capabilities.streams:
        from lobes.inference.onnx_stream import STREAM_FILE, export_stream_onnx

        export_stream_onnx(model, folder / STREAM_FILE, rate, metadata=digest)
    return path
