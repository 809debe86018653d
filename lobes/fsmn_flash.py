"""FlashFormer: a Transformer + gated-FSMN masknet on flash attention.

The encoder output [B, N, L], as [B, L, N], runs through pre-norm layers

    x = x + GatedFSMN(LN(x))
    x = x + WindowAttention(LN(x)) + WindowSummaryAttention(LN(x))
    x = x + FeedForward(LN(x))

(windows shifted by W / 2 on odd layers), then one mask per speaker. Time
and memory are O(L); the causal variant streams one window at a time.
After the FlashFormer poster (Dat Nguyen Duc) and MossFormer2's gated FSMN
(Zhao et al., ICASSP 2024).

Authors
 * sepformer-lobes contributors 2026
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from lobes.attention import (
    FeedForward,
    FusedMultiheadAttention,
    KVCache,
    check_frames,
    inference_chunk_group,
    mask_head,
)


class DilatedMemory(nn.Module):
    """FSMN memory of [B, T, C]: depthwise convolutions at dilations 2^i.

    Each adds PReLU(conv(h)) to its input h. Reach: (K - 1)(2^depth - 1)
    frames, centred or, causal, in the past.

    Arguments
    ---------
    channels : int
        Channels C (each has its own kernels).
    kernel_size, depth : int
        Taps K per convolution (odd); convolutions (dilations 1, 2, 4, ...).
    causal : bool
        Taps in the past only: frame t sees frames <= t.

    Example
    -------
    >>> memory = DilatedMemory(8, kernel_size=3, depth=2, causal=False)
    >>> x = torch.randn(2, 50, 8)
    >>> memory(x).shape, memory.lookahead
    (torch.Size([2, 50, 8]), 3)
    >>> y0, past = memory.forward_chunk(x[:, :20])  # frames 0..16
    >>> y1, past = memory.forward_chunk(x[:, 20:], past, last=True)
    >>> torch.allclose(torch.cat([y0, y1], 1), memory(x), atol=1e-6)
    True
    """

    def __init__(
        self, channels: int, kernel_size: int, depth: int, causal: bool
    ):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"fsmn kernel_size={kernel_size} must be odd.")

        def conv(dilation: int) -> nn.Conv1d:
            reach = (kernel_size - 1) * dilation
            # causal: pad both sides by reach, keep the first T outputs
            return nn.Conv1d(
                channels,
                channels,
                kernel_size,
                padding=reach if causal else reach // 2,
                dilation=dilation,
                groups=channels,
                bias=False,
            )

        self.convs = nn.ModuleList(conv(2**i) for i in range(depth))
        self.acts = nn.ModuleList(nn.PReLU(channels) for _ in range(depth))

    @property
    def lookahead(self) -> int:
        """Future frames a frame's memory reads (0 when causal)."""
        return sum(self._reach(conv)[1] for conv in self.convs)

    @staticmethod
    def _reach(conv: nn.Conv1d) -> tuple[int, int]:
        """Frames (before, after) one convolution's output reads."""
        taps = (conv.kernel_size[0] - 1) * conv.dilation[0]
        return conv.padding[0], taps - conv.padding[0]

    @staticmethod
    def _convolve(conv: nn.Conv1d, h: Tensor, padding: int = 0) -> Tensor:
        """Depthwise convolution of h [B, T, C] over time -> [B, C, T'].

        The dilation d is folded into the layout: time becomes [T / d, d]
        (h padded at the end to a multiple of d), so the convolution runs
        undilated along the rows, each of the d phases on its own, as a
        channels-last conv2d on a view of h. oneDNN's kernels for this
        layout are several times faster than its dilated ones, forward and
        backward. ``padding`` (frames, a multiple of d) pads both sides.
        """
        T, d = h.shape[1], conv.dilation[0]
        length = T + 2 * padding - (conv.kernel_size[0] - 1) * d
        if d > 1:  # (not on T: an exported graph takes any length)
            h = F.pad(h, (0, 0, 0, -T % d))
        x = h.unflatten(1, (-1, d)).permute(0, 3, 1, 2)  # [B, C, T / d, d]
        y = F.conv2d(
            x,
            conv.weight.unsqueeze(3),  # [C, 1, K, 1]
            padding=(padding // d, 0),
            groups=conv.groups,
        )  # [B, C, T' / d, d]
        return y.flatten(2)[..., :length]

    def forward(self, x: Tensor) -> Tensor:
        """Adds memory to x [batch, time, channels] (same shape out)."""
        T = x.shape[1]
        h = x
        for conv, act in zip(self.convs, self.acts):
            y = self._convolve(conv, h, conv.padding[0])[..., :T]  # [B, C, T]
            h = act(y).mT + h
        return h

    def forward_chunk(
        self, x: Tensor, past: list[Tensor] | None = None, last: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        """Memory of a sequence fed piece by piece: of the frames after
        those already returned, as far as the next input frames x [B, T, C]
        reach (T frames when causal, `lookahead` fewer otherwise, and all the
        rest, zeros beyond the end, when x is the ``last`` piece).

        ``past``: per convolution, its inputs not used up (None: the zeros
        before the sequence); returns the memory and ``past`` moved on by x.
        """
        if past is None:
            past = [
                x.new_zeros(len(x), c.padding[0], x.shape[2])
                for c in self.convs
            ]
        new_past = []
        h = x
        for conv, act, p in zip(self.convs, self.acts, past):
            before, after = self._reach(conv)
            h = torch.cat([p, h], 1)  # [B, before + ..., C]
            n = max(h.shape[1] - before - (0 if last else after), 0)
            new_past.append(h[:, n:])
            if last:  # zeros beyond the end
                h = F.pad(h, (0, 0, 0, n + before + after - h.shape[1]))
            if n == 0:
                h = h[:, :0]
                continue
            y = self._convolve(conv, h[:, : n + before + after])  # [B, C, n]
            h = act(y).mT + h[:, before : before + n]
        return h, new_past


class GatedFSMN(nn.Module):
    """Gated FSMN of [B, T, dim]: W_o(SiLU(W_v x) * memory(W_u x)).

    Arguments
    ---------
    dim, hidden : int
        Input and output channels; channels of the memory and the gate.
    kernel_size, depth : int
        Taps (odd) and number of the `DilatedMemory` convolutions.
    causal : bool
        Left-only memory.

    Example
    -------
    >>> fsmn = GatedFSMN(16, hidden=32, kernel_size=5, depth=2, causal=False)
    >>> fsmn(torch.randn(2, 50, 16)).shape
    torch.Size([2, 50, 16])
    """

    def __init__(
        self,
        dim: int,
        hidden: int,
        kernel_size: int,
        depth: int,
        causal: bool,
    ):
        super().__init__()
        self.to_memory_and_gate = nn.Linear(dim, 2 * hidden)
        self.memory = DilatedMemory(hidden, kernel_size, depth, causal)
        self.out = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        """Transforms x [batch, time, dim] (same shape out)."""
        u, v = self.to_memory_and_gate(x).chunk(2, dim=-1)
        return self.out(self.memory(u) * F.silu(v))

    def forward_chunk(
        self, x: Tensor, past: list[Tensor] | None = None, last: bool = False
    ) -> tuple[Tensor, list[Tensor]]:
        """`forward` of the frames after ``past`` as far as x reaches (see
        `DilatedMemory.forward_chunk`; ``past`` ends with the gates waiting
        for their memory); returns y and the new past."""
        u, v = self.to_memory_and_gate(x).chunk(2, dim=-1)
        memory, memory_past = self.memory.forward_chunk(
            u, None if past is None else past[:-1], last
        )
        if past is not None:
            v = torch.cat([past[-1], v], 1)
        n = memory.shape[1]
        return self.out(memory * F.silu(v[:, :n])), [*memory_past, v[:, n:]]


class WindowAttention(nn.Module):
    """Self-attention of [B, T, dim] inside windows of W frames (a reshape).

    Complexity: time O(T W dim), memory O(T dim).

    Arguments
    ---------
    dim, nhead, window_size : int
        Model dimension, attention heads, window length W (even).
    shifted, causal : bool
        Windows start at -W/2 + kW, not kW; causal attention in each window.
    dropout : float
        Attention dropout.

    Example
    -------
    >>> attn = WindowAttention(
    ...     16, nhead=2, window_size=10, shifted=True, causal=True
    ... )
    >>> attn(torch.randn(2, 50, 16)).shape
    torch.Size([2, 50, 16])
    """

    def __init__(
        self,
        dim: int,
        nhead: int,
        window_size: int,
        shifted: bool,
        causal: bool,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.window_size = window_size
        self.shifted = shifted
        self.causal = causal
        self.attn = FusedMultiheadAttention(dim, nhead, dropout)

    @property
    def shift(self) -> int:
        """Frames before the first window's start: W / 2 if shifted, or 0."""
        return self.window_size // 2 if self.shifted else 0

    def forward(self, x: Tensor) -> Tensor:
        """Attends within windows of x [B, T, dim] (same shape out)."""
        shift = self.shift
        return self.windows(x, shift)[:, shift : shift + x.shape[1]]

    def windows(self, x: Tensor, front: int) -> Tensor:
        """Attention in windows of x [B, T, dim] zero-padded with ``front``
        frames in front and behind to whole windows: [B, S' W, dim]."""
        B, T, D = x.shape
        W = self.window_size
        # no negative floor division (ONNX would truncate it)
        h = F.pad(x, (0, 0, front, (W - (front + T) % W) % W))
        h = self.attn(h.view(-1, W, D), causal=self.causal)  # [B S', W, D]
        return h.view(B, -1, D)

    def forward_chunk(
        self, x: Tensor, past: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Causal `forward` of x [B, T <= W, dim], starting at a multiple of W.

        ``past``: the last W / 2 inputs [B, shift, dim] if shifted, None for
        zeros; returns y [B, T, dim] and x's last ``shift`` frames (next past).
        """
        B, T, D = x.shape
        W = self.window_size
        shift = W // 2 if self.shifted else 0
        if past is None:
            past = x.new_zeros(B, shift, D)
        h = torch.cat([past, x], 1)  # [B, shift + T, D]
        windows = F.pad(h, (0, 0, 0, -(shift + T) % W)).view(-1, W, D)
        y = self.attn(windows, causal=True)  # [B S', W, D]
        return y.view(B, -1, D)[:, shift : shift + T], h[:, T:]


class WindowSummaryAttention(nn.Module):
    """Global path of [B, T, dim]: attention over window means, broadcast.

    Causal, window s receives summary s - 1's output (window 0: zeros).
    Complexity: time O(T dim + S^2 dim + S dim^2), S = T / W; memory O(T dim).

    Arguments
    ---------
    dim, nhead, window_size : int
        Model dimension, attention heads, window length W.
    causal : bool
        Only earlier windows' summaries reach a window.
    dropout : float
        Attention dropout.

    Example
    -------
    >>> path = WindowSummaryAttention(16, nhead=2, window_size=10, causal=True)
    >>> g = path(torch.randn(2, 50, 16))
    >>> g.shape, bool(g[:, :10].eq(0).all())  # nothing precedes window 0
    (torch.Size([2, 50, 16]), True)
    """

    def __init__(
        self,
        dim: int,
        nhead: int,
        window_size: int,
        causal: bool,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.window_size = window_size
        self.causal = causal
        self.attn = FusedMultiheadAttention(dim, nhead, dropout)

    def forward(self, x: Tensor) -> Tensor:
        """Global context [B, T, dim] for x [B, T, dim]."""
        B, T, D = x.shape
        W = self.window_size
        g = self.context(self.summarize(x))  # [B, S, D]
        # [B, S, D] -> [B, S, W, D] -> [B, T, D]
        return g.unsqueeze(2).expand(-1, -1, W, -1).reshape(B, -1, D)[:, :T]

    def summarize(self, x: Tensor) -> Tensor:
        """Window means [B, S, dim] of x [B, T, dim] (of a short last
        window's real frames)."""
        B, T, D = x.shape
        W = self.window_size
        S = (T + W - 1) // W
        windows = F.pad(x, (0, 0, 0, S * W - T)).view(B, S, W, D)
        frames = (T - W * torch.arange(S, device=x.device)).clamp(max=W)
        return windows.sum(2) / frames.unsqueeze(1)

    def context(self, summaries: Tensor) -> Tensor:
        """What each window receives [B, S, dim] from the window means."""
        g = self.attn(summaries, causal=self.causal)  # [B, S, D]
        if self.causal:  # window s gets what summary s - 1 gathered
            g = F.pad(g, (0, 0, 1, -1))
        return g

    def forward_chunk(
        self, x: Tensor, previous: Tensor | None, cache: KVCache
    ) -> tuple[Tensor, Tensor]:
        """Causal `forward` of one window x [B, T <= W, dim].

        ``previous``: the last window's summary [B, 1, dim], None for the first;
        ``cache``: the keys/values of those before it, appended to. Returns the
        context [B, T, dim] and x's summary, the next ``previous``.
        """
        if previous is None:
            g = x.new_zeros(x.shape[0], 1, x.shape[2])
        else:
            g = self.attn(previous, causal=True, cache=cache)  # [B, 1, D]
        return g.expand_as(x), x.mean(1, keepdim=True)


@dataclass
class LayerStreamState:
    """What one causal `FlashFormerLayer` keeps between windows (None: none
    yet): ``fsmn``, per FSMN convolution i its last (K - 1) 2^i inputs
    [B, (K - 1) 2^i, hidden], then the gates waiting (none: causal);
    ``window``, the last W / 2 attention inputs (shifted layers); ``summary``,
    the last window's summary [B, 1, dim]; ``cache``, the global path's keys
    and values of the summaries before it.
    """

    fsmn: list[Tensor] | None = None
    window: Tensor | None = None
    summary: Tensor | None = None
    cache: KVCache = field(default_factory=KVCache)


class FlashFormerLayer(nn.Module):
    """Pre-norm layer on [B, T, dim]: FSMN, window + summary attention, FFN.

    Arguments
    ---------
    dim, nhead, d_ffn, window_size : int
        Model dimension, heads, feed-forward dimension, attention window W.
    shifted : bool
        Windows shifted by W / 2.
    fsmn_hidden, fsmn_kernel_size, fsmn_depth : int
        Channels, taps (odd) and convolutions of the gated FSMN.
    dropout : float
        Dropout on attention weights, residual branches and FFN hidden.
    causal : bool
        Causal variant of every sublayer.

    Example
    -------
    >>> layer = FlashFormerLayer(
    ...     16,
    ...     nhead=2,
    ...     d_ffn=32,
    ...     window_size=10,
    ...     shifted=False,
    ...     fsmn_hidden=32,
    ...     fsmn_kernel_size=3,
    ...     fsmn_depth=2,
    ... )
    >>> layer(torch.randn(2, 50, 16)).shape
    torch.Size([2, 50, 16])
    """

    def __init__(
        self,
        dim: int,
        nhead: int,
        d_ffn: int,
        window_size: int,
        shifted: bool,
        fsmn_hidden: int,
        fsmn_kernel_size: int,
        fsmn_depth: int,
        dropout: float = 0.0,
        causal: bool = False,
    ):
        super().__init__()
        self.fsmn_norm = nn.LayerNorm(dim, eps=1e-6)
        self.fsmn = GatedFSMN(
            dim, fsmn_hidden, fsmn_kernel_size, fsmn_depth, causal
        )
        self.attention_norm = nn.LayerNorm(dim, eps=1e-6)
        self.local_attention = WindowAttention(
            dim, nhead, window_size, shifted, causal, dropout
        )
        self.global_attention = WindowSummaryAttention(
            dim, nhead, window_size, causal, dropout
        )
        self.ffn_norm = nn.LayerNorm(dim, eps=1e-6)
        self.ffn = FeedForward(dim, d_ffn, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """Transforms x [batch, time, dim] (same shape out)."""
        x = x + self.dropout(self.fsmn(self.fsmn_norm(x)))
        h = self.attention_norm(x)
        x = x + self.dropout(self.local_attention(h) + self.global_attention(h))
        return x + self.dropout(self.ffn(self.ffn_norm(x)))

    def forward_grouped(self, h: Tensor, group: int) -> None:
        """Inference: `forward` of one sequence h [T, dim] in place,
        ``group`` windows at a time (two passes, the global path between).
        """
        T, D = h.shape
        W = self.local_attention.window_size
        S = -(-T // W)
        frames = group * W
        # pass 1, aligned windows: the FSMN, then the window means for the
        # global path. The FSMN reads `lookahead` frames ahead (frames after
        # the group, not yet updated); a group that would leave fewer than
        # that to the last one takes them too.
        lookahead = self.fsmn.memory.lookahead
        stops = [t for t in range(frames, T, frames) if t + lookahead < T]
        summaries = h.new_empty(1, S, D)
        past, read = None, 0  # the FSMN's state; frames it has read
        for t0, t1 in zip([0, *stops], [*stops, T]):
            x = self.fsmn_norm(h[None, read : min(t1 + lookahead, T)])
            read += x.shape[1]
            y, past = self.fsmn.forward_chunk(x, past, last=t1 == T)
            h[t0:t1] += self.dropout(y[0])  # [t1 - t0, D]
            means = self.global_attention.summarize(
                self.attention_norm(h[None, t0:t1])
            )
            summaries[:, t0 // W : t0 // W + means.shape[1]] = means
        # frame s W + r gets g[s + 1] (a zero row each end, beyond windows)
        g = F.pad(self.global_attention.context(summaries)[0], (0, 0, 1, 1))
        # pass 2, windows as this layer shifts them: attention, FFN
        shift = self.local_attention.shift
        halves = 2 if shift else 1
        for s0 in range(0, -(-(T + shift) // W), group):
            t0, t1 = max(s0 * W - shift, 0), min(s0 * W - shift + frames, T)
            front = t0 - (s0 * W - shift)
            y = self.local_attention.windows(
                self.attention_norm(h[None, t0:t1]), front
            )[0]  # [n W, D], from frame s0 W - shift
            n = len(y) // W
            # shifted: half a window in window s - 1, half in window s
            y4 = y.view(n, halves, W // halves, D)
            for k in range(halves):
                s = s0 + k + 2 - halves
                y4[:, k] += g[s : s + n, None]
            x = h[t0:t1]
            x += self.dropout(y[front : front + t1 - t0])
            x += self.dropout(self.ffn(self.ffn_norm(x)))

    def forward_chunk(self, x: Tensor, state: LayerStreamState) -> Tensor:
        """Causal `forward` of a window x, after ``state`` (updated)."""
        f, state.fsmn = self.fsmn.forward_chunk(self.fsmn_norm(x), state.fsmn)
        x = x + self.dropout(f)
        h = self.attention_norm(x)
        local, state.window = self.local_attention.forward_chunk(
            h, state.window
        )
        g, state.summary = self.global_attention.forward_chunk(
            h, state.summary, state.cache
        )
        x = x + self.dropout(local + g)
        return x + self.dropout(self.ffn(self.ffn_norm(x)))


@dataclass
class FlashStreamState:
    """What `FlashFormer.forward_chunk` keeps: one `LayerStreamState` per
    layer, and whether a short, final window ``closed`` the stream.
    """

    layers: list[LayerStreamState]
    closed: bool = False


class FlashFormer(nn.Module):
    """FlashFormer masknet: encoder output [B, N, L] -> masks [spks, B, N, L].

    Complexity: time and memory O(L), plus a negligible O((L / W)^2 d);
    under ``torch.no_grad()``, in place group by group, working memory
    O(L N) for the frames and masks plus O(group_windows W d_ffn).
    Causal latency: 0 frames (15 samples, 1.9 ms at 8 kHz, with the encoder).
    The defaults, with ``in_channels=128``, are sized for the compute per
    second of audio of RE-SepFormer's paper configuration.

    Arguments
    ---------
    in_channels : int
        Encoder channels N (the model dimension).
    num_spks : int
        Number of speakers (masks).
    num_layers : int
        FlashFormer layers; odd ones have shifted windows.
    nhead, d_ffn : int
        Attention heads; feed-forward hidden dimension.
    window_size : int
        Attention window W in frames (even).
    fsmn_hidden, fsmn_kernel_size, fsmn_depth : int
        Gated FSMN channels, taps per convolution (odd) and convolutions per
        layer (dilations 1, 2, 4, ...).
    dropout : float
        Dropout rate.
    causal : bool
        No frame sees a later one; streams with `forward_chunk`.
    group_windows : int, optional
        Windows per group at inference; None:
        `lobes.attention.inference_chunk_group`.

    Example
    -------
    >>> from speechbrain.lobes.models.dual_path import Encoder, Decoder
    >>> encoder = Encoder(kernel_size=16, out_channels=64)
    >>> masknet = FlashFormer(
    ...     64, num_layers=2, nhead=4, d_ffn=128, window_size=50, fsmn_hidden=64
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
        num_layers: int = 12,
        nhead: int = 8,
        d_ffn: int = 1024,
        window_size: int = 256,
        fsmn_hidden: int = 256,
        fsmn_kernel_size: int = 39,
        fsmn_depth: int = 2,
        dropout: float = 0.0,
        causal: bool = False,
        group_windows: int | None = None,
    ):
        super().__init__()
        if in_channels % nhead:
            raise ValueError(
                f"in_channels={in_channels} must be a multiple of "
                f"nhead={nhead}."
            )
        if window_size < 2 or window_size % 2:
            raise ValueError(
                f"window_size={window_size} must be even (windows shift by "
                "half of it) and at least 2."
            )
        self.in_channels = in_channels
        self.num_spks = num_spks
        self.window_size = window_size
        self.causal = causal
        self.group_windows = group_windows
        self.layers = nn.ModuleList(
            FlashFormerLayer(
                in_channels,
                nhead,
                d_ffn,
                window_size,
                i % 2 == 1,
                fsmn_hidden,
                fsmn_kernel_size,
                fsmn_depth,
                dropout,
                causal,
            )
            for i in range(num_layers)
        )
        self.norm = nn.LayerNorm(in_channels, eps=1e-6)
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
        if not torch.is_grad_enabled():
            return self._forward_grouped(x)
        h = x.transpose(1, 2)  # [B, L, N]
        for layer in self.layers:
            h = layer(h)
        return self._masks(h)

    def _forward_grouped(self, x: Tensor) -> Tensor:
        """Inference: each item's frames [L, N] transformed in place, group
        by group (bounded working set); masks [num_spks, B, N, L]."""
        B, N, L = x.shape
        G = self.group_windows or inference_chunk_group(x.device)
        frames = G * self.window_size
        masks = x.new_empty(self.num_spks, B, N, L)
        for b in range(B):
            h = x[b].T.contiguous()  # [L, N]
            for layer in self.layers:
                layer.forward_grouped(h, G)
            for t0 in range(0, L, frames):
                t1 = min(t0 + frames, L)
                masks[:, b, :, t0:t1] = self._masks(h[None, t0:t1])[:, 0]
        return masks

    @property
    def stream_frames(self) -> int:
        """Encoder frames per `forward_chunk` call: one window, W."""
        return self.window_size

    @torch.no_grad()
    def forward_chunk(
        self, x: Tensor, state: FlashStreamState | None = None
    ) -> tuple[Tensor, FlashStreamState]:
        """Streams a causal model one window at a time, as the causal `forward`.

        Cost per call: O(W) plus O(windows so far) in the global path.

        Arguments
        ---------
        x : torch.Tensor
            Encoder frames [B, N, T], T == stream_frames (< it ends the stream).
        state : FlashStreamState, optional
            What the previous call returned; None to start a stream.

        Returns
        -------
        masks : torch.Tensor
            [num_spks, B, N, T]
        state : FlashStreamState
            To pass with the next block.

        Example
        -------
        >>> model = FlashFormer(
        ...     16,
        ...     num_layers=2,
        ...     nhead=2,
        ...     d_ffn=32,
        ...     window_size=10,
        ...     fsmn_hidden=16,
        ...     fsmn_kernel_size=3,
        ...     causal=True,
        ... ).eval()
        >>> h = torch.rand(1, 16, 25)
        >>> state, masks = None, []
        >>> for block in h.split(model.stream_frames, dim=-1):
        ...     m, state = model.forward_chunk(block, state)
        ...     masks.append(m)
        >>> torch.allclose(torch.cat(masks, -1), model(h), atol=1e-5)
        True
        """
        if not self.causal:
            raise ValueError(
                "forward_chunk needs a causal model (FlashFormer(causal=True))"
                "; a non-causal model's windows, FSMN taps and window "
                "summaries look at future frames."
            )
        W = self.stream_frames
        check_frames(x, self.in_channels, W)
        T = x.shape[2]
        if state is None:
            state = FlashStreamState([LayerStreamState() for _ in self.layers])
        done = state.layers[0].window
        if done is not None and done.shape[0] != x.shape[0]:
            raise ValueError(
                f"this stream has batch size {done.shape[0]}, got "
                f"{x.shape[0]}: start a new stream (state=None)."
            )
        if state.closed or not 0 < T <= W:
            raise ValueError(
                f"feed blocks of exactly stream_frames={W} frames, a shorter "
                f"one only last (got {T} frames"
                f"{' after the last block' * state.closed})."
            )
        h = x.transpose(1, 2)  # [B, T, N]
        for layer, layer_state in zip(self.layers, state.layers):
            h = layer.forward_chunk(h, layer_state)
        state.closed = T < W
        return self._masks(h), state

    def _masks(self, h: Tensor) -> Tensor:
        """Mask head: [B, T, N] -> ReLU(W PReLU(LN(h)) + b) [spks, B, N, T]."""
        return mask_head(self.norm(h), self.head_act, self.head, self.num_spks)
