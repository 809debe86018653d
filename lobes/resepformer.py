"""RE-SepFormer: the Resource-Efficient Separation Transformer masknet.

Della Libera, Subakan, Ravanelli, Cornell, Lepoutre, Grondin,
"Resource-Efficient Separation Transformer", ICASSP 2024, section 2.3.
The encoder output is cut into non-overlapping chunks of C frames;
IntraTransformer1 runs inside each chunk, the MemoryTransformer over the
chunks' time averages, whose output is added back to every frame of its
chunk, IntraTransformer2 inside each chunk; PReLU, a linear layer and ReLU
give one mask per speaker. SpeechBrain's ``ResourceEfficientSeparator``
weights (published recipe) load into a `RESepFormer` through
`lobes.resepformer_upstream.from_upstream`.

Authors
 * sepformer-lobes contributors 2026
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from lobes.attention import (
    KVCache,
    TransformerLayer,
    check_frames,
    inference_chunk_group,
    mask_head,
)

# upstream normalises with float32's machine epsilon
NORM_EPS = torch.finfo(torch.float32).eps


def sinusoidal_positions(
    start: int, length: int, dim: int, device: torch.device | None = None
) -> Tensor:
    """Sinusoidal position codes [length, dim] for positions start.. .

    The same float32 operations as SpeechBrain's ``PositionalEncoding``,
    so the values agree bit for bit, without its 100000 x dim buffer.

    Arguments
    ---------
    start : int
        First position.
    length : int
        Number of positions.
    dim : int
        Code dimension (even).
    device : torch.device, optional
        Where to build the codes.

    Returns
    -------
    torch.Tensor
        [length, dim], sin on even channels, cos on odd ones.

    Example
    -------
    >>> sinusoidal_positions(0, 3, 4)[0]
    tensor([0., 1., 0., 1.])
    """
    positions = torch.arange(start, start + length, device=device)
    positions = positions.unsqueeze(1).float()
    frequencies = torch.exp(
        torch.arange(0, dim, 2, device=device).float()
        * -(math.log(10000.0) / dim)
    )
    codes = torch.empty(length, dim, device=device)
    codes[:, 0::2] = torch.sin(positions * frequencies)
    codes[:, 1::2] = torch.cos(positions * frequencies)
    return codes


class ChannelsLastGlobalLayerNorm(nn.Module):
    """Normalises each sequence of [batch, time, dim] over time and channels.

    SpeechBrain's ``GlobalLayerNorm`` (gLN) on the channels-last layout,
    with a per-channel affine map.

    Arguments
    ---------
    dim : int
        Channels.
    eps : float
        Added to the variance.

    Example
    -------
    >>> y = ChannelsLastGlobalLayerNorm(8)(torch.randn(2, 10, 8) * 3 + 1)
    >>> y[0].mean().abs() < 1e-5, (y[0].std(False) - 1).abs() < 1e-5
    (tensor(True), tensor(True))
    """

    def __init__(self, dim: int, eps: float = NORM_EPS):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: Tensor) -> Tensor:
        """Returns the normalised x [batch, time, dim]."""
        var, mean = torch.var_mean(x, dim=(1, 2), unbiased=False, keepdim=True)
        scale = self.weight * torch.rsqrt(var + self.eps)  # [B, 1, D]
        return torch.addcmul(self.bias - mean * scale, x, scale)


class SkipTransformer(nn.Module):
    """x + Norm(Transformer(x + positions)): one RE-SepFormer sub-block.

    Pre-norm Transformer layers with a final LayerNorm, then a global norm
    over the whole sequence (gLN), or a per-frame LayerNorm when causal,
    then the skip connection; SpeechBrain's
    ``SBTransformerBlock_wnormandskip`` with
    ``use_positional_encoding=True, norm_before=True``.

    Arguments
    ---------
    dim : int
        Model dimension.
    num_layers : int
        Transformer layers.
    nhead : int
        Attention heads.
    d_ffn : int
        Feed-forward hidden dimension.
    dropout : float
        Dropout rate.
    causal : bool
        Causal attention and per-frame norm.

    Example
    -------
    >>> block = SkipTransformer(16, num_layers=2, nhead=4, d_ffn=32)
    >>> block(torch.randn(3, 10, 16)).shape
    torch.Size([3, 10, 16])
    """

    def __init__(
        self,
        dim: int,
        num_layers: int,
        nhead: int,
        d_ffn: int,
        dropout: float = 0.0,
        causal: bool = False,
    ):
        super().__init__()
        self.causal = causal
        self.layers = nn.ModuleList(
            TransformerLayer(dim, nhead, d_ffn, dropout)
            for _ in range(num_layers)
        )
        self.final_norm = nn.LayerNorm(dim, eps=1e-6)
        self.norm = (
            nn.LayerNorm(dim, eps=NORM_EPS)
            if causal
            else ChannelsLastGlobalLayerNorm(dim)
        )

    def forward(
        self,
        x: Tensor,
        start: int = 0,
        caches: list[KVCache] | None = None,
    ) -> Tensor:
        """Transforms sequences x [batch, time, dim].

        Arguments
        ---------
        x : torch.Tensor
            [batch, time, dim]
        start : int
            Position of x's first frame (nonzero when streaming).
        caches : list of KVCache, optional
            One per layer, holding the previous positions (causal only).

        Returns
        -------
        torch.Tensor
            [batch, time, dim]
        """
        T, D = x.shape[1:]
        h = x + sinusoidal_positions(start, T, D, x.device).to(x.dtype)
        for i, layer in enumerate(self.layers):
            h = layer(h, self.causal, None if caches is None else caches[i])
        return self.norm(self.final_norm(h)) + x


@dataclass
class StreamState:
    """What `RESepFormer.forward_chunk` keeps between chunks.

    Arguments
    ---------
    caches : list of KVCache
        Keys/values of every past chunk summary, one cache per memory layer.
    chunks : int
        Chunks consumed so far (the position of the next summary).
    closed : bool
        A short, final chunk was consumed: the stream has ended.
    """

    caches: list[KVCache] = field(default_factory=list)
    chunks: int = 0
    closed: bool = False


class RESepFormer(nn.Module):
    """RE-SepFormer masknet: chunk transformers + a memory over summaries.

    Masknet contract of `Dual_Path_Model`: encoder output [B, N, L] in,
    masks [num_spks, B, N, L] out, any L. Like upstream, the input is padded
    with zeros to the next multiple of ``chunk_size`` strictly above L (a
    whole zero chunk when chunk_size divides L) so that converted upstream
    weights give the same masks.

    Time and memory O(L) (time up to ~18 h of audio, where the memory
    transformer's attention over S = L / C chunks takes over); under
    ``torch.no_grad()``, working memory O(group_chunks C d_ffn + S d_ffn).
    Causal: causal attention, per-frame LayerNorm; look-ahead C - 1 = 149
    frames (150.9 ms at 8 kHz); stream with `forward_chunk`.

    Arguments
    ---------
    in_channels : int
        Encoder channels N.
    num_spks : int
        Number of speakers (masks).
    chunk_size : int
        Chunk length C in frames.
    intra_layers : int
        Layers of each IntraTransformer.
    memory_layers : int
        Layers of the MemoryTransformer.
    nhead : int
        Attention heads.
    intra_d_ffn : int
        Feed-forward dimension of the IntraTransformers.
    memory_d_ffn : int
        Feed-forward dimension of the MemoryTransformer.
    dropout : float
        Dropout rate.
    causal : bool
        Causal model (see above).
    group_chunks : int, optional
        Chunks per group at inference; None:
        `lobes.attention.inference_chunk_group`.

    Example
    -------
    >>> from speechbrain.lobes.models.dual_path import Encoder, Decoder
    >>> encoder = Encoder(kernel_size=16, out_channels=64)
    >>> masknet = RESepFormer(
    ...     64,
    ...     chunk_size=50,
    ...     intra_layers=1,
    ...     memory_layers=1,
    ...     nhead=4,
    ...     intra_d_ffn=128,
    ...     memory_d_ffn=128,
    ... )
    >>> decoder = Decoder(
    ...     in_channels=64, out_channels=1, kernel_size=16, stride=8, bias=False
    ... )
    >>> mix = torch.randn(2, 8000)
    >>> h = encoder(mix)
    >>> masks = masknet(h)
    >>> masks.shape
    torch.Size([2, 2, 64, 999])
    >>> sources = torch.stack([decoder(h * m) for m in masks], -1)
    >>> sources.shape
    torch.Size([2, 8000, 2])
    """

    linear_in_length = True  # time and memory O(L)

    def __init__(
        self,
        in_channels: int,
        num_spks: int = 2,
        chunk_size: int = 150,
        intra_layers: int = 8,
        memory_layers: int = 8,
        nhead: int = 8,
        intra_d_ffn: int = 1024,
        memory_d_ffn: int = 1024,
        dropout: float = 0.0,
        causal: bool = False,
        group_chunks: int | None = None,
    ):
        super().__init__()
        if in_channels % nhead or in_channels % 2:
            raise ValueError(
                f"in_channels={in_channels} must be even and a multiple of "
                f"nhead={nhead}."
            )
        self.in_channels = in_channels
        self.num_spks = num_spks
        self.chunk_size = chunk_size
        self.causal = causal
        self.group_chunks = group_chunks

        def block(layers: int, d_ffn: int) -> SkipTransformer:
            return SkipTransformer(
                in_channels, layers, nhead, d_ffn, dropout, causal
            )

        self.intra1 = block(intra_layers, intra_d_ffn)
        self.memory = block(memory_layers, memory_d_ffn)
        self.intra2 = block(intra_layers, intra_d_ffn)
        self.head_act = nn.PReLU()
        # rows ordered [speaker, channel]
        self.head = nn.Linear(in_channels, num_spks * in_channels)

    def forward(self, x: Tensor) -> Tensor:
        """Estimates the masks.

        Arguments
        ---------
        x : torch.Tensor
            Encoder output [B, N, L].

        Returns
        -------
        torch.Tensor
            Masks [num_spks, B, N, L], nonnegative.
        """
        check_frames(x, self.in_channels)
        if torch.is_grad_enabled():
            return self._forward_whole(x)
        return self._forward_grouped(x)

    def _forward_whole(self, x: Tensor) -> Tensor:
        """All chunks at once: the path autograd sees."""
        B, N, L = x.shape
        C = self.chunk_size
        S = L // C + 1  # upstream pads to a multiple strictly above L
        # [B, N, L] -> [B*S, C, N]
        h = F.pad(x, (0, S * C - L)).transpose(1, 2).reshape(B * S, C, N)
        h = self.intra1(h).view(B, S, C, N)
        memory = self.memory(h.mean(2))  # [B, S, N]
        h = self.intra2((h + memory.unsqueeze(2)).view(B * S, C, N))
        return self._masks(h.view(B, S * C, N)[:, :L])

    def _forward_grouped(self, x: Tensor) -> Tensor:
        """Inference, group_chunks chunks at a time (bounded working set);
        IntraTransformer1's output waits in the last speaker's masks,
        which pass 2 overwrites only where it has already read."""
        B, N, L = x.shape
        C, S = self.chunk_size, L // self.chunk_size + 1
        G = self.group_chunks or inference_chunk_group(x.device)
        masks = x.new_empty(self.num_spks, B, N, L)
        parked = masks[-1]  # [B, N, L]
        last_chunk = x.new_empty(B, C, N)
        summaries = x.new_empty(B, S, N)
        groups = [(s, min(s + G, S)) for s in range(0, S, G)]
        for b in range(B):
            for s0, s1 in groups:
                t0, t1 = s0 * C, min(s1 * C, L)
                h = self.intra1(self._chunks(x[b, :, t0:t1], s1 - s0))
                summaries[b, s0:s1] = h.mean(1)
                parked[b, :, t0:t1] = h.view(-1, N)[: t1 - t0].T
                if s1 == S:
                    last_chunk[b] = h[-1]
        memory = self.memory(summaries)  # [B, S, N]
        for b in range(B):
            for s0, s1 in groups:
                t0, t1 = s0 * C, min(s1 * C, L)
                h = self._chunks(parked[b, :, t0:t1], s1 - s0)
                if s1 == S:
                    h[-1] = last_chunk[b]
                h = self.intra2(h + memory[b, s0:s1, None])
                h = h.view(1, -1, N)[:, : t1 - t0]
                masks[:, b, :, t0:t1] = self._masks(h)[:, 0]
        return masks

    def _chunks(self, x: Tensor, num_chunks: int) -> Tensor:
        """Frames [N, T] -> zero-padded chunks [num_chunks, C, N]."""
        N, T = x.shape
        pad = num_chunks * self.chunk_size - T
        return F.pad(x, (0, pad)).T.reshape(num_chunks, self.chunk_size, N)

    def _masks(self, h: Tensor) -> Tensor:
        """Mask head: [B, T, N] -> ReLU(W PReLU(h) + b) [num_spks, B, N, T]."""
        return mask_head(h, self.head_act, self.head, self.num_spks)

    @property
    def stream_frames(self) -> int:
        """Encoder frames per `forward_chunk` call: one chunk, C.

        Streaming protocol of the causal masknets: feed consecutive blocks
        of exactly ``stream_frames`` frames (the last may be shorter).

        Example
        -------
        >>> RESepFormer(16, chunk_size=10, nhead=2).stream_frames
        10
        """
        return self.chunk_size

    @torch.no_grad()
    def forward_chunk(
        self, x: Tensor, state: StreamState | None = None
    ) -> tuple[Tensor, StreamState]:
        """Streams a causal model one chunk at a time.

        Feed consecutive chunks of exactly ``chunk_size`` encoder frames
        (the last one may be shorter); the masks equal the offline causal
        `forward` of the concatenated input. Each call costs one chunk and
        one memory step over the cached summaries' keys and values.

        Arguments
        ---------
        x : torch.Tensor
            Encoder frames [B, N, T], T == chunk_size (T <= it at the end).
        state : StreamState, optional
            What the previous call returned; None to start a stream.

        Returns
        -------
        masks : torch.Tensor
            [num_spks, B, N, T]
        state : StreamState
            To pass with the next chunk.

        Example
        -------
        >>> model = RESepFormer(
        ...     16,
        ...     chunk_size=10,
        ...     intra_layers=1,
        ...     memory_layers=1,
        ...     nhead=2,
        ...     intra_d_ffn=32,
        ...     memory_d_ffn=32,
        ...     causal=True,
        ... ).eval()
        >>> h = torch.rand(1, 16, 25)
        >>> state, masks = None, []
        >>> for chunk in h.split(10, dim=-1):
        ...     m, state = model.forward_chunk(chunk, state)
        ...     masks.append(m)
        >>> torch.allclose(torch.cat(masks, -1), model(h), atol=1e-5)
        True
        """
        if not self.causal:
            raise ValueError(
                "forward_chunk needs a causal model (RESepFormer(causal=True))"
                "; a non-causal memory transformer looks at future chunks."
            )
        C = self.chunk_size
        check_frames(x, self.in_channels, C)
        T = x.shape[2]
        if state is None:
            state = StreamState([KVCache() for _ in self.memory.layers])
        if state.closed or not 0 < T <= C:
            raise ValueError(
                f"feed chunks of exactly {C} frames, a shorter one only last "
                f"(got {T} frames{' after the last chunk' * state.closed})."
            )
        h = self.intra1(F.pad(x, (0, C - T)).transpose(1, 2))  # [B, C, N]
        memory = self.memory(
            h.mean(1, keepdim=True), state.chunks, state.caches
        )
        h = self.intra2(h + memory)[:, :T]
        state.chunks += 1
        state.closed = T < C
        return self._masks(h), state
