"""The separation model every part of this package runs: encoder -> masknet
-> decoder, and the masknet contract (what a masknet may do).

`EncoderMaskerDecoder` holds SpeechBrain's dual-path ``Encoder``, any
masknet and the ``Decoder``, and has the two forward paths the package
uses: `EncoderMaskerDecoder.forward` for training (one decoder call for all
speakers, as a DDP-wrapped decoder must run once a step) and
`EncoderMaskerDecoder.separate` for inference (masks applied in place, one
speaker decoded at a time, so that beyond the masknet only the encoder
output and the masks are ever held). The training Brain, the inference
separator, the benchmarks and the tests all separate through it.

The masknet contract. A masknet maps encoder output [B, N, L] to masks
[num_spks, B, N, L] for any L (SpeechBrain's ``Dual_Path_Model``
contract). Beyond that, a masknet declares what it can do:

- ``linear_in_length = True`` (class attribute): time and memory grow
  linearly with L, so a whole recording can go through it in one pass.
  Absent: quadratic (SpeechBrain's SepFormer), separated in windows.
- streaming: a causal masknet (``causal`` True) with ``stream_frames``,
  the encoder frames it takes per step, and ``forward_chunk(x, state) ->
  (masks, state)``, which takes consecutive blocks of exactly
  ``stream_frames`` frames [B, N, T] (the last may be shorter), starting
  from ``state=None``, and returns their masks [num_spks, B, N, T], equal
  to the offline causal forward (`StreamingMasknet`).

`capabilities` reads both, and is the one place that does.

Authors
 * sepformer-lobes contributors 2026
"""

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


@runtime_checkable
class StreamingMasknet(Protocol):
    """A masknet that streams (see the module docstring)."""

    causal: bool

    @property
    def stream_frames(self) -> int:
        """Encoder frames per `forward_chunk` step."""

    def forward_chunk(self, x: Tensor, state: Any) -> tuple[Tensor, Any]:
        """Masks [num_spks, B, N, T] of the next frames [B, N, T]."""


@dataclass(frozen=True)
class Capabilities:
    """What a masknet can do.

    Arguments
    ---------
    linear_in_length : bool
        Time and memory linear in the input length (one pass is fine).
    streams : bool
        Causal and follows the streaming protocol (`StreamingMasknet`).
    stream_frames : int, optional
        Encoder frames per streaming step (None when it cannot stream).
    """

    linear_in_length: bool
    streams: bool
    stream_frames: int | None = None


def capabilities(masknet: nn.Module) -> Capabilities:
    """Reads what ``masknet`` declares (see the module docstring).

    Arguments
    ---------
    masknet : torch.nn.Module
        Any masknet, ours or SpeechBrain's.

    Returns
    -------
    Capabilities

    Example
    -------
    >>> from lobes.resepformer import RESepFormer
    >>> capabilities(RESepFormer(16, nhead=2, causal=True, chunk_size=10))
    Capabilities(linear_in_length=True, streams=True, stream_frames=10)
    >>> capabilities(nn.Identity())
    Capabilities(linear_in_length=False, streams=False, stream_frames=None)
    """
    streams = isinstance(masknet, StreamingMasknet) and bool(masknet.causal)
    return Capabilities(
        linear_in_length=bool(getattr(masknet, "linear_in_length", False)),
        streams=streams,
        stream_frames=int(masknet.stream_frames) if streams else None,
    )


def check_streamable(masknet: nn.Module) -> None:
    """Raises a ValueError, naming the model and what to do, unless
    ``masknet`` streams.

    Arguments
    ---------
    masknet : torch.nn.Module
        The mask network.

    Example
    -------
    >>> from lobes.resepformer import RESepFormer
    >>> check_streamable(RESepFormer(16, nhead=2, causal=False))
    Traceback (most recent call last):
    ...
    ValueError: RESepFormer(causal=False) cannot stream: ...
    """
    if capabilities(masknet).streams:
        return
    name = type(masknet).__name__
    fix = (
        "Streaming needs a causal masknet with `stream_frames` and "
        "`forward_chunk` (RESepFormer or FlashFormer): train one with "
        '--model="{causal: True}" and export it, or separate offline '
        "(without --stream)."
    )
    if not isinstance(masknet, StreamingMasknet):
        raise ValueError(
            f"{name} cannot stream: it has no forward_chunk/stream_frames. "
            + fix
        )
    raise ValueError(
        f"{name}(causal=False) cannot stream: it looks at future frames. " + fix
    )


def fit_length(sources: Tensor, length: int) -> Tensor:
    """Zero-pads or trims [B, T', S] to [B, length, S] (the decoder stops
    at the last encoder frame, which may end before the input)."""
    return F.pad(sources, (0, 0, 0, max(0, length - sources.shape[1])))[
        :, :length
    ]


class EncoderMaskerDecoder(nn.Module):
    """Encoder -> masknet -> decoder: mixtures [B, T] -> sources [B, T, S].

    Arguments
    ---------
    encoder : torch.nn.Module
        [B, T] -> [B, N, L], e.g. ``speechbrain.lobes.models.dual_path
        .Encoder``.
    masknet : torch.nn.Module
        [B, N, L] -> masks [num_spks, B, N, L].
    decoder : torch.nn.Module
        [B, N, L] -> [B, T'], e.g. ``dual_path.Decoder``.

    Example
    -------
    >>> from speechbrain.lobes.models.dual_path import Decoder, Encoder
    >>> from lobes.resepformer import RESepFormer
    >>> model = EncoderMaskerDecoder(
    ...     Encoder(16, 16),
    ...     RESepFormer(16, chunk_size=10, intra_layers=1, memory_layers=1,
    ...                 nhead=2, intra_d_ffn=32, memory_d_ffn=32),
    ...     Decoder(16, 1, 16, stride=8, bias=False),
    ... ).eval()
    >>> mix = torch.randn(2, 1003)
    >>> model(mix).shape
    torch.Size([2, 1003, 2])
    >>> torch.allclose(model.separate(mix), model(mix), atol=1e-6)
    True
    >>> model.capabilities.linear_in_length, model.min_samples
    (True, 16)
    """

    def __init__(
        self, encoder: nn.Module, masknet: nn.Module, decoder: nn.Module
    ):
        super().__init__()
        self.encoder = encoder
        self.masknet = masknet
        self.decoder = decoder

    @property
    def capabilities(self) -> Capabilities:
        """What the masknet can do (`capabilities`)."""
        return capabilities(getattr(self.masknet, "module", self.masknet))

    @property
    def min_samples(self) -> int:
        """The shortest input the encoder takes (its kernel; 1 when the
        encoder is not a convolution)."""
        encoder = getattr(self.encoder, "module", self.encoder)  # DDP
        conv = getattr(encoder, "conv1d", encoder)
        return conv.kernel_size[0] if isinstance(conv, nn.Conv1d) else 1

    def forward(self, mix: Tensor) -> Tensor:
        """The training path: every speaker decoded in one call.

        Arguments
        ---------
        mix : torch.Tensor
            Mixtures [B, T].

        Returns
        -------
        torch.Tensor
            Sources [B, T, num_spks].
        """
        h = self.encoder(mix)  # [B, N, L]
        masks = self.masknet(h)  # [S, B, N, L]
        S, B, N, L = masks.shape
        # one decoder call for all speakers: a DDP module runs once a step
        est = self.decoder((h * masks).reshape(S * B, N, L))
        est = est.reshape(S, B, -1).permute(1, 2, 0)  # [B, T', S]
        return fit_length(est, mix.shape[1])

    @torch.no_grad()
    def separate(self, mix: Tensor) -> Tensor:
        """The inference path: the masks multiplied in place and each
        speaker decoded alone, so that beyond the masknet's own working
        set only the encoder output and the masks are held.

        Arguments
        ---------
        mix : torch.Tensor
            Mixtures [B, T].

        Returns
        -------
        torch.Tensor
            Sources [B, T, num_spks].
        """
        h = self.encoder(mix)  # [B, N, L]
        masks = self.masknet(h)  # [S, B, N, L]
        try:
            masks.mul_(h)
        except RuntimeError:  # a masknet returning an expanded view
            masks = masks * h
        del h
        T = mix.shape[1]
        sources = [self.decoder(m).reshape(len(mix), -1)[:, :T] for m in masks]
        del masks
        return fit_length(torch.stack(sources, -1), T)
