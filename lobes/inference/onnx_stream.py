"""ONNX export of a causal model's streaming step, its state as tensors.

`export_stream_onnx` writes one step of `lobes.inference.streaming
.decode_step` (encoder, the masknet's ``forward_chunk``, decoder) as an
ONNX graph: inputs ``samples`` [(frames - 1) * stride + kernel] float32
(1 to ``stream_frames`` frames) and the masknet's stream state, outputs
``decoded`` [num_spks, samples] (before the overlap-add with the
neighbouring steps, `lobes.inference.streaming.BlockStream`) and the next
state, ``next_<name>`` for each state input ``<name>``. So a deployment
needs ONNX Runtime only: the graph's input shapes give the first state
(zeros, every dynamic axis of length 0) and its metadata the encoder's
framing; `lobes.inference.onnx_runtime.OnnxStream` runs it.
`lobes.inference.onnx_export.add_onnx` (``python -m lobes.export ...
--onnx``) writes it as ``stream.onnx`` (`STREAM_FILE`) beside
``model.onnx`` for a causal model.

The state's tensors and the step as a module: `lobes.inference
.onnx_stream_state`.

Authors
 * sepformer-lobes contributors 2026
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from lobes.inference.onnx_export import (
    OPSET,
    export_copy,
    onnx_metadata,
    require_onnx,
    save_checked,
    to_onnx,
)
from lobes.inference.onnx_stream_state import StreamStep
from lobes.inference.streaming import StreamingSeparator
from lobes.model import EncoderMaskerDecoder

STREAM_FILE = "stream.onnx"  # in a pretrained folder, beside model.onnx
SAMPLES, DECODED = "samples", "decoded"
NEXT = "next_"  # output name of a state input's next value
TRACE_PAST = 3  # cached positions in the traced example
CHECK_STEPS = 5.5  # steps of random input run under ONNX Runtime and torch


def _stream_program(
    step: StreamStep, kernel: int, stride: int, frames: int
) -> torch.export.ExportedProgram:
    """``torch.export`` of a `StreamStep`: 1 to ``frames`` encoder frames
    of samples, the growing axes of the state one symbolic length."""
    steps = torch.export.Dim("frames", min=1, max=frames)
    past = torch.export.Dim("past", min=0)
    specs = step.adapter.specs
    example = [torch.randn(frames * stride + kernel - stride)] + [
        torch.randn([TRACE_PAST if n is None else n for n in shape])
        for _, shape in specs
    ]
    state_dims = tuple(
        {i: past for i, n in enumerate(shape) if n is None} or None
        for _, shape in specs
    )
    dims = ({0: stride * steps + kernel - stride}, state_dims)
    return torch.export.export(
        step, tuple(example), dynamic_shapes=dims, strict=False
    )


def max_stream_error(
    reference: StreamingSeparator, path: str | Path, length: int
) -> float:
    """The largest difference between the ONNX stream of ``path`` and the
    torch stream ``reference`` (new, fp32) on a random mixture pushed in
    irregular blocks, relative to the largest torch output (when above one).

    Arguments
    ---------
    reference : StreamingSeparator
        A stream not yet fed.
    path : str or Path
        The stream graph (`export_stream_onnx`).
    length : int
        Samples of the mixture.

    Returns
    -------
    float
    """
    from lobes.inference.onnx_runtime import OnnxStream

    ours = OnnxStream(path)
    generator = torch.Generator().manual_seed(0)
    mix = torch.randn(length, generator=generator)
    blocks = mix.split([length // 3, 1, length - length // 3 - 1])
    got = torch.cat([*map(ours.push, blocks), ours.flush()])
    expected = torch.cat([*map(reference.push, blocks), reference.flush()])
    scale = max(1.0, expected.abs().max().item())
    return (got - expected).abs().max().item() / scale


def export_stream_onnx(
    model: EncoderMaskerDecoder,
    path: str | Path,
    sample_rate: int | None = None,
    opset: int = OPSET,
    metadata: dict[str, str] | None = None,
    check_steps: float = CHECK_STEPS,
) -> Path:
    """Writes the streaming step of a causal model as an ONNX graph (see
    the module docstring), under a temporary name beside ``path``; it is
    run as a stream under ONNX Runtime (`max_stream_error`, ``check_steps``
    steps) and compared with the torch stream before it is renamed to
    ``path``: a failed export leaves ``path`` as it was.

    Arguments
    ---------
    model : EncoderMaskerDecoder
        A model with a causal RESepFormer or FlashFormer; it is copied (to
        the CPU, float32, eval mode) and left as it is.
    path : str or Path
        The ``.onnx`` file to write.
    sample_rate : int, optional
        Stored in the metadata, with `lobes.inference.onnx_export
        .onnx_metadata`'s and the encoder's ``kernel`` and ``stride``, the
        masknet's ``stream_frames`` and the decoder's bias
        (``decoder_bias``, when it has one).
    opset : int
        ONNX opset.
    metadata : dict, optional
        More ``metadata_props`` (strings).
    check_steps : float
        Length of the check, in steps; 0: no check.

    Returns
    -------
    Path
        ``path``.

    Example
    -------
    >>> from hparams import MODELS
    >>> sizes = MODELS["resepformer"].tiny | {"causal": True}
    >>> model = MODELS["resepformer"].build(sizes)
    >>> path = getfixture("tmp_path") / "stream.onnx"
    >>> export_stream_onnx(model, path, 8000) == path
    True
    """
    require_onnx()
    path = Path(path)
    cpu = export_copy(model)

    def reference() -> StreamingSeparator:
        return StreamingSeparator(cpu.encoder, cpu.masknet, cpu.decoder)

    stream = reference()  # refuses what cannot stream
    step = StreamStep(copy.deepcopy(cpu))
    K, s, C = stream.kernel, stream.stride, stream.frames_per_step
    with torch.no_grad():
        program = _stream_program(step, K, s, C)
    names = [name for name, _ in step.adapter.specs]
    meta = onnx_metadata(cpu, sample_rate) | {
        "kernel": str(K),
        "stride": str(s),
        "stream_frames": str(C),
    }
    if cpu.decoder.bias is not None:
        meta["decoder_bias"] = repr(cpu.decoder.bias.item())
    onnx_program = to_onnx(
        program,
        [SAMPLES, *names],
        [DECODED, *[NEXT + name for name in names]],
        opset,
        meta | (metadata or {}),
    )
    length = round(check_steps * C * s) + K

    def error(temp: Path) -> float:
        return max_stream_error(reference(), temp, length)

    save_checked(
        onnx_program,
        path,
        error if check_steps else None,
        f"{type(cpu.masknet).__name__} streaming",
    )
    return path
