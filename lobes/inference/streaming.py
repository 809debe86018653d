"""Separation as a stream, with causal masknets: blocks of samples in,
separated blocks out, after the model's algorithmic latency, equal to the
offline causal separation.

A masknet streams when it follows the streaming protocol of `lobes.model`
(causal, ``stream_frames`` encoder frames a step, ``forward_chunk``):
`lobes.resepformer.RESepFormer` (one chunk per step) and
`lobes.fsmn_flash.FlashFormer` (one window per step). `BlockStream`
carries the encoder's framing and the decoder's overlap-add across steps,
whatever runs a step's maths (`decode_step`): torch in
`StreamingSeparator`, ONNX Runtime in
`lobes.inference.onnx_runtime.OnnxStream`. `stream_file` feeds a stream a
file block by block, as a live input would arrive. Like
`lobes.inference.separator.Separator`, a torch stream runs in fp32, bf16 or
fp16 (`lobes.inference.precision`).

Authors
 * sepformer-lobes contributors 2026
"""

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from lobes.inference.audio import (
    OUTPUT_SUBTYPE,
    AudioInputError,
    check_audio_file,
    check_finite,
    to_mono,
    unreadable,
    warn_if_truncated,
)
from lobes.inference.defaults import BLOCK_SECONDS
from lobes.inference.precision import autocast, check_precision
from lobes.model import capabilities, check_streamable

if TYPE_CHECKING:
    from lobes.inference.separator import BaseSeparator

__all__ = [
    "BLOCK_SECONDS",
    "BlockStream",
    "StreamingSeparator",
    "algorithmic_latency",
    "decode_step",
    "stream_file",
]


def algorithmic_latency(stream_frames: int, kernel: int, stride: int) -> int:
    """The most input samples that arrive after an input sample before its
    separated sample comes out of a stream.

    Arguments
    ---------
    stream_frames : int
        Encoder frames the masknet takes a step.
    kernel : int
        The encoder's kernel, in samples.
    stride : int
        The encoder's stride, in samples.

    Returns
    -------
    int
        (stream_frames - 1) * stride + kernel - 1

    Example
    -------
    >>> algorithmic_latency(10, kernel=16, stride=8)
    87
    """
    return (stream_frames - 1) * stride + kernel - 1


def _encoder_conv(encoder: nn.Module) -> nn.Conv1d:
    """The Conv1d of a SpeechBrain ``Encoder`` (or the encoder itself)."""
    conv = getattr(encoder, "conv1d", encoder)
    if not isinstance(conv, nn.Conv1d):
        raise TypeError(
            f"{type(encoder).__name__} is not a convolutional encoder "
            "(speechbrain.lobes.models.dual_path.Encoder)."
        )
    return conv


def decode_step(
    encoder: nn.Module,
    masknet: nn.Module,
    decoder: nn.ConvTranspose1d,
    x: Tensor,
    state: object,
) -> tuple[Tensor, object]:
    """The maths of one streaming step: encoder, masknet step, decoder.

    Arguments
    ---------
    encoder, masknet, decoder : torch.nn.Module
        As `StreamingSeparator` takes them.
    x : torch.Tensor
        The step's samples [(frames - 1) * stride + kernel].
    state : object
        The masknet's stream state (None to start).

    Returns
    -------
    out : torch.Tensor
        The decoder's output before the overlap-add with the neighbouring
        steps and without its bias, [num_spks, samples of x].
    state : object
        The masknet's next state (``forward_chunk``).
    """
    h = encoder(x[None])  # [1, N, frames]
    masks, state = masknet.forward_chunk(h, state)
    y = (masks * h)[:, 0]  # [S, N, frames]
    out = F.conv_transpose1d(y, decoder.weight, None, decoder.stride[0])
    return out[:, 0], state


class BlockStream:
    """The bookkeeping of a stream, whatever runs its steps: blocks of
    samples in (`push`), completed separated samples out, the encoder's
    framing and the decoder's overlap-add carried across steps; `flush`
    ends it. A subclass runs one step (`_decode`, the maths of
    `decode_step`).

    Arguments
    ---------
    kernel, stride : int
        The encoder's kernel and stride, in samples (the decoder's too).
    frames_per_step : int
        Encoder frames a step takes (the masknet's ``stream_frames``).
    num_spks : int
        Speakers.
    bias : torch.Tensor, optional
        The decoder's bias, added once to every output sample.
    device : torch.device or str
        Where the samples wait for their step.
    """

    def __init__(
        self,
        kernel: int,
        stride: int,
        frames_per_step: int,
        num_spks: int,
        bias: Tensor | None = None,
        device: torch.device | str = "cpu",
    ):
        self.kernel, self.stride = kernel, stride
        self.frames_per_step = frames_per_step
        self.num_spks = num_spks
        self.bias = bias
        self._input = torch.zeros(0, device=device)  # from frame self._frames
        self._tail: Tensor | None = None  # partial overlap-add [S, K - stride]
        self._frames = 0  # encoder frames done
        self._received = 0
        self._emitted = 0
        self._closed = False

    @property
    def latency_samples(self) -> int:
        """Algorithmic latency: the most input samples that arrive after an
        input sample before its separated sample is returned
        (`algorithmic_latency`)."""
        return algorithmic_latency(
            self.frames_per_step, self.kernel, self.stride
        )

    def _decode(self, x: Tensor) -> Tensor:
        """Runs one step on samples x (see `decode_step`), carrying the
        masknet's state; returns float32 [num_spks, len(x)]."""
        raise NotImplementedError

    def _frames_available(self) -> int:
        """Encoder frames computable from the samples received so far."""
        if self._received < self.kernel:
            return 0
        return (self._received - self.kernel) // self.stride + 1

    def _step(self, frames: int) -> Tensor:
        """Encodes, masks and decodes the next ``frames`` encoder frames;
        returns the completed samples [frames * stride, S]."""
        s = self.stride
        out = self._decode(self._input[: (frames - 1) * s + self.kernel])
        if self._tail is not None:  # the previous step's overlap-add tail
            out[:, : self._tail.shape[1]] += self._tail
        done = frames * s
        self._tail = out[:, done:]
        out = out[:, :done]
        if self.bias is not None:
            out = out + self.bias
        self._frames += frames
        self._input = self._input[done:]
        self._emitted += done
        return out.T.cpu()

    def push(self, block: Tensor | np.ndarray) -> Tensor:
        """Feeds the next samples; returns the separated samples now final.

        Arguments
        ---------
        block : torch.Tensor or numpy.ndarray
            [n] samples at the model's rate (any n >= 0).

        Returns
        -------
        torch.Tensor
            [m, num_spks], the next m output samples (m may be 0).
        """
        if self._closed:
            raise RuntimeError("this stream was flushed; start a new one.")
        block = torch.as_tensor(block, dtype=torch.float32)
        if block.dim() != 1:
            raise ValueError(
                f"the block has shape {list(block.shape)}: push one channel "
                "as [n] samples."
            )
        if not torch.isfinite(block).all():
            raise ValueError(
                f"the block after sample {self._received} has NaN or "
                "infinite samples."
            )
        self._input = torch.cat([self._input, block.to(self._input.device)])
        self._received += block.shape[0]
        outs = [self._empty()]
        C = self.frames_per_step
        while self._frames_available() - self._frames >= C:
            outs.append(self._step(C))
        return torch.cat(outs)

    def flush(self) -> Tensor:
        """Ends the stream: returns the remaining samples, so that the
        outputs add up to as many samples as were pushed.

        Returns
        -------
        torch.Tensor
            [m, num_spks]
        """
        if self._closed:
            raise RuntimeError("this stream was flushed already.")
        self._closed = True
        outs = [self._empty()]
        rest = self._frames_available() - self._frames
        if rest > 0:  # a shorter last step ends the masknet's stream
            outs.append(self._step(rest))
        if self._tail is not None:
            tail = self._tail
            if self.bias is not None:
                tail = tail + self.bias
            outs.append(tail.T.cpu())
            self._emitted += tail.shape[1]
        out = torch.cat(outs)
        # as offline: samples the encoder's frames do not reach are zeros
        missing = self._received - self._emitted
        return F.pad(out, (0, 0, 0, missing))

    def _empty(self) -> Tensor:
        """No samples, [0, num_spks]."""
        return torch.zeros(0, self.num_spks)


class StreamingSeparator(BlockStream):
    """Separates audio blocks as they arrive, with a causal masknet on
    torch.

    Blocks of any size go in (`push`); each call returns the samples that
    are complete, [n, num_spks]; `flush` ends the stream. Once flushed, the
    concatenated outputs equal the offline causal separation of the whole
    input (`Separator.separate_whole`), within float tolerance. The masknet
    runs ``stream_frames`` encoder frames per step (the streaming protocol
    of `lobes.model`); the encoder's framing (kernel K, stride K / 2) and the
    decoder's overlap-add are carried exactly across steps (`BlockStream`),
    so an output sample waits for at most `latency_samples` later input
    samples.

    Arguments
    ---------
    encoder : torch.nn.Module
        A SpeechBrain ``dual_path.Encoder`` (a mono Conv1d and ReLU).
    masknet : torch.nn.Module
        A causal masknet with ``stream_frames`` and ``forward_chunk``.
    decoder : torch.nn.ConvTranspose1d
        A SpeechBrain ``dual_path.Decoder`` with the encoder's kernel and
        stride.
    precision : str
        ``fp32``, ``bf16`` or ``fp16``: each step runs under
        ``torch.autocast`` in that precision; the output is float32.

    Example
    -------
    >>> from speechbrain.lobes.models.dual_path import Decoder, Encoder
    >>> from lobes.inference.separator import Separator
    >>> from lobes.resepformer import RESepFormer
    >>> masknet = RESepFormer(16, chunk_size=10, intra_layers=1,
    ...     memory_layers=1, nhead=2, intra_d_ffn=32, memory_d_ffn=32,
    ...     causal=True)
    >>> separator = Separator(Encoder(16, 16), masknet,
    ...     Decoder(16, 1, 16, stride=8, bias=False), sample_rate=8000)
    >>> stream = separator.stream()
    >>> stream.latency_samples  # (10 - 1) * 8 + 16 - 1
    87
    >>> mix = torch.randn(500)
    >>> out = torch.cat([stream.push(b) for b in mix.split(64)]
    ...     + [stream.flush()])
    >>> torch.allclose(out, separator.separate_whole(mix), atol=1e-5)
    True
    """

    def __init__(
        self,
        encoder: nn.Module,
        masknet: nn.Module,
        decoder: nn.Module,
        precision: str = "fp32",
    ):
        check_streamable(masknet)
        conv = _encoder_conv(encoder)
        kernel, stride = conv.kernel_size[0], conv.stride[0]
        if (
            conv.in_channels != 1
            or conv.padding[0] != 0
            or conv.dilation[0] != 1
        ):
            raise ValueError(
                "streaming needs a mono encoder without padding or dilation "
                "(speechbrain.lobes.models.dual_path.Encoder)."
            )
        if not (
            isinstance(decoder, nn.ConvTranspose1d)
            and decoder.out_channels == 1
            and decoder.groups == 1
            and decoder.kernel_size[0] == kernel
            and decoder.stride[0] == stride
            and decoder.padding[0] == 0
            and decoder.output_padding[0] == 0
            and decoder.dilation[0] == 1
        ):
            raise ValueError(
                "streaming needs a speechbrain.lobes.models.dual_path."
                "Decoder (a ConvTranspose1d to one channel, without padding) "
                f"with the encoder's kernel {kernel} and stride {stride}."
            )
        device = next(masknet.parameters()).device
        check_precision(precision, device)
        num_spks = getattr(masknet, "num_spks", None)
        if num_spks is None:  # ask the model
            probe = torch.zeros(1, conv.out_channels, 1, device=device)
            num_spks = masknet.forward_chunk(probe, None)[0].shape[0]
        super().__init__(
            kernel,
            stride,
            capabilities(masknet).stream_frames,
            num_spks,
            None if decoder.bias is None else decoder.bias.detach(),
            device,
        )
        self.encoder, self.masknet, self.decoder = encoder, masknet, decoder
        self.precision = precision
        self._state = None

    @torch.no_grad()
    def _decode(self, x: Tensor) -> Tensor:
        """`decode_step` in ``precision``; float32 out."""
        with autocast(self.precision, x.device):
            out, self._state = decode_step(
                self.encoder, self.masknet, self.decoder, x, self._state
            )
        return out.float()  # the overlap-add and the output in float32


def _blocks(f: sf.SoundFile, block: int, path: str | Path) -> Iterator:
    """The file's blocks; a read that fails raises `AudioInputError`."""
    try:
        yield from f.blocks(block, dtype="float32", always_2d=True)
    except RuntimeError as error:  # soundfile.LibsndfileError: truncated
        raise unreadable(path, error) from error


def _write(
    writers: list[sf.SoundFile], out: Tensor, path: str | Path, at: float
) -> None:
    """Appends the stream's output [n, speakers], one writer a speaker;
    NaN or infinite values raise `AudioInputError`."""
    if not torch.isfinite(out).all():
        raise AudioInputError(
            f"{path}: the separation gave NaN or infinite values near "
            f"{at:.3f} s: scale the mixture to about [-1, 1], or run in fp32 "
            "(fp16 overflows)."
        )
    for k, w in enumerate(writers):
        w.write(out[:, k].numpy())


def stream_file(
    separator: "BaseSeparator",
    path: str | Path,
    outputs: Sequence[Path],
    downmix: bool = False,
    block_seconds: float = BLOCK_SECONDS,
    progress: bool = False,
) -> None:
    """Separates a file block by block through a `StreamingSeparator`, as
    a live input would arrive, writing the outputs as they come.

    Arguments
    ---------
    separator : BaseSeparator
        One whose `stream` works (a causal model; under ONNX Runtime, one
        exported with its ``stream.onnx``).
    path : str or Path
        The mixture, at the model's sample rate.
    outputs : sequence of Path
        One output file per speaker.
    downmix : bool
        Average the channels of a multi-channel file.
    block_seconds : float
        Block length.
    progress : bool
        Progress bar over the blocks.
    """
    stream = separator.stream()
    info = check_audio_file(path, downmix)
    warn_if_truncated(path, info)
    rate = info.samplerate
    if rate != separator.sample_rate:
        raise AudioInputError(
            f"{path} is sampled at {rate} Hz, the model at "
            f"{separator.sample_rate} Hz; --stream feeds the file as it is. "
            f"Resample it first (e.g. `sox {path} -r {separator.sample_rate} "
            "out.wav`) or separate it offline (without --stream)."
        )
    if info.frames < separator.min_samples:
        raise AudioInputError(
            f"{path} is too short: {info.frames} samples; the model needs "
            f"at least {separator.min_samples}."
        )
    block = max(1, round(block_seconds * rate))
    writers = [
        sf.SoundFile(p, "w", rate, 1, subtype=OUTPUT_SUBTYPE) for p in outputs
    ]
    try:
        position = 0
        bar = tqdm(
            total=info.frames,
            desc=Path(path).name,
            unit="sample",
            unit_scale=True,
            disable=not progress,
        )
        with sf.SoundFile(str(path)) as f, bar:
            for audio in _blocks(f, block, path):
                check_finite(audio, path, rate, position)
                out = stream.push(torch.from_numpy(to_mono(audio).copy()))
                _write(writers, out, path, position / rate)
                position += len(audio)
                bar.update(len(audio))
        _write(writers, stream.flush(), path, position / rate)
    except BaseException:
        for w, p in zip(writers, outputs, strict=True):
            w.close()
            p.unlink(missing_ok=True)
        raise
    for w in writers:
        w.close()
