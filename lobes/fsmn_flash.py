"""FlashFormer: a Transformer + gated-FSMN masknet on flash attention.

After the poster "FlashFormer: design and evaluation of a fast and
efficient single-channel speech separation model" (Dat Nguyen Duc), which
combines Transformer layers for global context, FSMN layers (feedforward
sequential memory) for cheap long-range memory and Flash Attention for
IO-aware attention, at a cost linear in the input length. The poster gives
no equations; everything below the level of those three ideas is chosen
here, with MossFormer2's gated FSMN (Zhao et al., ICASSP 2024) as the
reference for the memory.

Architecture. The encoder output [B, N, L], as [B, L, N], runs through
``num_layers`` identical pre-norm residual layers:

    x = x + GatedFSMN(LN(x))
    x = x + WindowAttention(LN(x)) + WindowSummaryAttention(LN(x))
    x = x + FeedForward(LN(x))

- `GatedFSMN`: ``W_o(SiLU(W_v h) * memory(W_u h))``, the memory a stack
  of depthwise convolutions at dilations 1, 2, 4, ... with a residual
  around each (MossFormer2's ``Gated_FSMN`` with ``UniDeepFsmn_dilated``).
  It carries information across window boundaries and, placed first, is
  the attention's (relative) position code: no positional encoding.
- `WindowAttention`: softmax self-attention inside windows of W frames,
  shifted by W / 2 on odd layers (Swin); windows are a reshape, so all of
  them go through one batched flash kernel call, with no ``attn_mask``.
- `WindowSummaryAttention`, the global path: each window is summarised by
  its mean, the summaries attend to each other, and every frame receives
  its window's result. Summaries are a set (no positions): what they carry
  across the input, speaker and channel identity, does not depend on
  order, and set attention extrapolates to any length.
- `lobes.attention.FeedForward`.

A final LayerNorm, PReLU, a pointwise linear layer and ReLU give one mask
per speaker, as in RE-SepFormer. Every attention is `lobes.attention`'s
(flash-attn or SDPA); every norm is a LayerNorm over channels, per frame.

Complexity per layer for L frames, S = L / W windows, width d, FSMN width
H with D convolutions of K taps: time O(L (W d + d^2 + d d_ffn + d H +
D H K)) plus O(S^2 d) for the summaries, which stays below the FFN's
O(L d d_ffn) up to S ~ W d_ffn windows (18 hours of audio at the default
size); memory O(L (d + d_ffn + H)): the flash/SDPA kernels store no W x W
or S x S matrix. The default size (12 layers, d = 128, 8 heads, d_ffn
1024, W = 256, H = 256, 2 convolutions of 39 taps) costs 6.2 GMACs per
second of 8 kHz audio with SpeechBrain's encoder and decoder, as
RE-SepFormer (6.3), with 6.2 M parameters (RE-SepFormer: 8.0 M).

Taken from the poster: the hybrid of Transformer layers, FSMN memory and
flash attention, at linear cost. Taken from MossFormer2: the gated FSMN (a
memory branch times a SiLU gate) with a memory of depthwise convolutions
at dilations 2^i, and its sizes (256 channels, 2 convolutions of
2 * 20 - 1 = 39 taps), and windows of 256 frames. Chosen here: softmax
attention (MossFormer's relu^2 gated attention cannot use flash kernels);
shifted windows in place of MossFormer's linearised full-sequence
attention; window summaries as the global path; a Transformer FFN in every
layer; a plainer FSMN (linear projections in, PReLU and a residual per
convolution instead of dense connections, no InstanceNorm, which looks
across time); the FSMN first in each layer.

Causal variant (``causal=True``): causal attention inside every window,
FSMN taps in the past only, and window s receives the summary attention's
output at window s - 1, computed causally over summaries 0..s-1, so it
only sees finished windows. No frame looks ahead: the masknet's
algorithmic latency is 0 frames; with SpeechBrain's encoder (kernel 16,
stride 8) an output sample waits for at most 15 future input samples,
1.9 ms at 8 kHz. As every norm is per frame and every path causal, the
masks of a prefix are the prefix of the masks, and `FlashFormer.forward_chunk`
streams the model one window (W frames) at a time, with the masks of the
offline causal `forward`; see `FlashStreamState` for what it keeps.
Causal windows need no mask at their left edge: a frame at the start of a
window sees no past through that layer's attention, but at least W / 2
past frames in one of any two consecutive layers (the windows alternate by
W / 2), and (K - 1)(2^D - 1) past frames through each FSMN. A sliding
window (a left context for every query) would need the previous window's
keys under a bottom-right-aligned causal mask, which SDPA's ``is_causal``
does not provide (and a mask rules out the flash kernels).

Authors
 * sepformer-lobes contributors 2026
"""

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from lobes.attention import (
    FeedForward,
    KVCache,
    MultiHeadAttention,
    check_frames,
    mask_head,
)


class DilatedMemory(nn.Module):
    """FSMN memory: depthwise dilated convolutions, each with a residual.

    Layer i convolves every channel over time with its own kernel of K taps
    at dilation 2^i, then PReLU, and adds its input. The taps are centred
    (reach (K - 1) / 2 * (2^depth - 1) frames each side) or, causal, all in
    the past (reach (K - 1)(2^depth - 1) frames back).

    Arguments
    ---------
    channels : int
        Channels (each has its own kernels).
    kernel_size : int
        Taps K per convolution (odd).
    depth : int
        Convolutions, at dilations 1, 2, ..., 2^(depth - 1).
    causal : bool
        Taps in the past only: frame t sees frames <= t.

    Example
    -------
    >>> memory = DilatedMemory(8, kernel_size=3, depth=2, causal=True)
    >>> memory(torch.randn(2, 50, 8)).shape
    torch.Size([2, 50, 8])
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

    def forward(self, x: Tensor) -> Tensor:
        """Adds memory to x [batch, time, channels] (same shape out)."""
        T = x.shape[1]
        h = x.transpose(1, 2)  # [B, C, T]
        for conv, act in zip(self.convs, self.acts, strict=True):
            h = h + act(conv(h)[..., :T])
        return h.transpose(1, 2)

    def forward_chunk(
        self, x: Tensor, past: list[Tensor] | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        """Causal memory of x, the frames that follow those in ``past``.

        Arguments
        ---------
        x : torch.Tensor
            [batch, time, channels]
        past : list of torch.Tensor, optional
            Per convolution, its last (K - 1) 2^i input frames
            [batch, channels, (K - 1) 2^i]; None: zeros (start of input).

        Returns
        -------
        y : torch.Tensor
            [batch, time, channels]
        past : list of torch.Tensor
            The same buffers, moved on by x.
        """
        h = x.transpose(1, 2)  # [B, C, T]
        B, C, T = h.shape
        if past is None:
            past = [h.new_zeros(B, C, conv.padding[0]) for conv in self.convs]
        new_past = []
        for conv, act, p in zip(self.convs, self.acts, past, strict=True):
            h_past = torch.cat([p, h], 2)  # [B, C, reach + T]
            new_past.append(h_past[..., T:])  # [B, C, reach]
            y = F.conv1d(
                h_past, conv.weight, conv.bias, 1, 0, conv.dilation, C
            )  # [B, C, T]: no padding, the past is in front
            h = h + act(y)
        return h.transpose(1, 2), new_past


class GatedFSMN(nn.Module):
    """Gated FSMN: W_o(SiLU(W_v x) * memory(W_u x)), MossFormer2-style.

    Arguments
    ---------
    dim : int
        Input and output channels.
    hidden : int
        Channels of the memory and the gate.
    kernel_size : int
        Taps per memory convolution (odd).
    depth : int
        Memory convolutions (dilations 1, 2, 4, ...).
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
        self, x: Tensor, past: list[Tensor] | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        """Causal `forward` of x [batch, time, dim] after the frames behind
        ``past`` (see `DilatedMemory.forward_chunk`); returns y, new past."""
        u, v = self.to_memory_and_gate(x).chunk(2, dim=-1)
        memory, past = self.memory.forward_chunk(u, past)
        return self.out(memory * F.silu(v)), past


class WindowAttention(nn.Module):
    """Self-attention inside windows of W frames, optionally shifted by W/2.

    The windows are a reshape of the time axis (no mask, one batched kernel
    call over all windows): the input is zero-padded at the end to whole
    windows and, shifted, with W / 2 zero frames in front (windows start at
    -W/2 + kW). Time O(T W dim), memory O(T dim) on the flash/SDPA kernels.

    Arguments
    ---------
    dim : int
        Model dimension.
    nhead : int
        Attention heads.
    window_size : int
        Window length W (even).
    shifted : bool
        Windows start at -W/2 + kW instead of kW.
    causal : bool
        Causal attention inside each window.
    dropout : float
        Attention dropout.
    backend : str
        Backend of `lobes.attention.attend`.

    Example
    -------
    >>> attn = WindowAttention(16, nhead=2, window_size=10, shifted=True,
    ...     causal=True)
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
        backend: str = "auto",
    ):
        super().__init__()
        self.window_size = window_size
        self.shifted = shifted
        self.causal = causal
        self.attn = MultiHeadAttention(dim, nhead, dropout, backend)

    def forward(self, x: Tensor) -> Tensor:
        """Attends within windows of x [B, T, dim] (same shape out)."""
        B, T, D = x.shape
        W = self.window_size
        shift = W // 2 if self.shifted else 0
        h = F.pad(x, (0, 0, shift, -(T + shift) % W))  # [B, S' W, D]
        h = self.attn(h.view(-1, W, D), causal=self.causal)  # [B S', W, D]
        return h.view(B, -1, D)[:, shift : shift + T]

    def forward_chunk(
        self, x: Tensor, past: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Causal `forward` of one block of W frames (fewer at the end).

        Shifted, the block completes the window that began W / 2 frames
        before it, whose first half is ``past``, and opens the next one:
        attention over 2W frames, ``past`` recomputed (SDPA's causal mask
        is top-left aligned, so queries cannot skip it).

        Arguments
        ---------
        x : torch.Tensor
            [batch, time <= W, dim], starting at a multiple of W.
        past : torch.Tensor, optional
            The previous block's last W / 2 frames (shifted; 0 frames
            otherwise) [batch, shift, dim]; None: zeros (start of input).

        Returns
        -------
        y : torch.Tensor
            [batch, time, dim]
        past : torch.Tensor
            x's last ``shift`` frames, for the next block.
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
    """The global path: attention over window means, broadcast back.

    Non-causal, window s receives its summary's attention over all
    summaries. Causal, window s receives the output at summary s - 1,
    computed causally over summaries 0..s-1 (window 0 receives zeros): a
    frame never sees its own, unfinished window. A short last window is
    averaged over its real frames. Time O(T dim + S^2 dim + S dim^2) for
    S = T / W windows, memory O(T dim) (flash/SDPA: no S x S matrix).

    Arguments
    ---------
    dim : int
        Model dimension.
    nhead : int
        Attention heads.
    window_size : int
        Window length W.
    causal : bool
        Only earlier windows' summaries reach a window.
    dropout : float
        Attention dropout.
    backend : str
        Backend of `lobes.attention.attend`.

    Example
    -------
    >>> path = WindowSummaryAttention(16, nhead=2, window_size=10,
    ...     causal=True)
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
        backend: str = "auto",
    ):
        super().__init__()
        self.window_size = window_size
        self.causal = causal
        self.attn = MultiHeadAttention(dim, nhead, dropout, backend)

    def forward(self, x: Tensor) -> Tensor:
        """Global context [B, T, dim] for x [B, T, dim]."""
        B, T, D = x.shape
        W = self.window_size
        S = -(-T // W)
        windows = F.pad(x, (0, 0, 0, S * W - T)).view(B, S, W, D)
        frames = (T - W * torch.arange(S, device=x.device)).clamp(max=W)
        summaries = windows.sum(2) / frames.unsqueeze(1)  # [B, S, D] means
        g = self.attn(summaries, causal=self.causal)  # [B, S, D]
        if self.causal:  # window s gets what summary s - 1 gathered
            g = F.pad(g, (0, 0, 1, -1))
        # [B, S, D] -> [B, S, W, D] -> [B, T, D]
        return g.unsqueeze(2).expand(-1, -1, W, -1).reshape(B, S * W, D)[:, :T]

    def forward_chunk(
        self, x: Tensor, previous: Tensor | None, cache: KVCache
    ) -> tuple[Tensor, Tensor]:
        """Causal `forward` of one window x [batch, time <= W, dim].

        One attention step: the previous window's summary, over the cached
        keys/values of every summary before it (O(windows so far)).

        Arguments
        ---------
        x : torch.Tensor
            [batch, time, dim], one window.
        previous : torch.Tensor or None
            The previous window's summary [batch, 1, dim]; None for the
            first window (which receives zeros).
        cache : KVCache
            Keys/values of the summaries before ``previous``; appended to.

        Returns
        -------
        g : torch.Tensor
            Global context [batch, time, dim].
        summary : torch.Tensor
            x's summary [batch, 1, dim], the next window's ``previous``.
        """
        if previous is None:
            g = x.new_zeros(x.shape[0], 1, x.shape[2])
        else:
            g = self.attn(previous, causal=True, cache=cache)  # [B, 1, D]
        return g.expand_as(x), x.mean(1, keepdim=True)


@dataclass
class LayerStreamState:
    """What one causal `FlashFormerLayer` keeps between windows.

    Arguments
    ---------
    fsmn : list of torch.Tensor, optional
        Per FSMN convolution i, its last (K - 1) 2^i input frames
        [batch, fsmn_hidden, (K - 1) 2^i]; None before the first window.
    window : torch.Tensor, optional
        Shifted layers: the last W / 2 attention inputs [batch, W/2, dim]
        (0 frames otherwise); None before the first window.
    summary : torch.Tensor, optional
        The last window's summary [batch, 1, dim]; None before it.
    cache : KVCache
        Global path's keys/values of every summary before ``summary``.
    """

    fsmn: list[Tensor] | None = None
    window: Tensor | None = None
    summary: Tensor | None = None
    cache: KVCache = field(default_factory=KVCache)


class FlashFormerLayer(nn.Module):
    """Pre-norm FSMN, then window + summary attention, then FFN.

    x += FSMN(LN(x)); x += Local(LN(x)) + Global(LN(x)) (one LayerNorm
    for both attentions); x += FFN(LN(x)).

    Arguments
    ---------
    dim : int
        Model dimension.
    nhead : int
        Attention heads.
    d_ffn : int
        Feed-forward hidden dimension.
    window_size : int
        Attention window W (even).
    shifted : bool
        Windows shifted by W / 2.
    fsmn_hidden : int
        Channels of the gated FSMN.
    fsmn_kernel_size : int
        Taps per FSMN convolution (odd).
    fsmn_depth : int
        FSMN convolutions (dilations 1, 2, 4, ...).
    dropout : float
        Dropout on attention weights, residual branches and FFN hidden.
    causal : bool
        Causal variant of every sublayer.
    backend : str
        Backend of `lobes.attention.attend`.

    Example
    -------
    >>> layer = FlashFormerLayer(16, nhead=2, d_ffn=32, window_size=10,
    ...     shifted=False, fsmn_hidden=32, fsmn_kernel_size=3, fsmn_depth=2)
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
        backend: str = "auto",
    ):
        super().__init__()
        self.fsmn_norm = nn.LayerNorm(dim, eps=1e-6)
        self.fsmn = GatedFSMN(
            dim, fsmn_hidden, fsmn_kernel_size, fsmn_depth, causal
        )
        self.attention_norm = nn.LayerNorm(dim, eps=1e-6)
        self.local_attention = WindowAttention(
            dim, nhead, window_size, shifted, causal, dropout, backend
        )
        self.global_attention = WindowSummaryAttention(
            dim, nhead, window_size, causal, dropout, backend
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

    def forward_chunk(self, x: Tensor, state: LayerStreamState) -> Tensor:
        """Causal `forward` of one window x [batch, time <= W, dim] (same
        shape out), after the windows behind ``state`` (updated)."""
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
    """What `FlashFormer.forward_chunk` keeps between windows.

    Per layer, a constant (K - 1)(2^D - 1) FSMN frames of fsmn_hidden
    channels, W / 2 attention inputs (shifted layers) and one summary,
    plus the global path's keys/values, one per past window. No position:
    windows are aligned by the calls themselves, and nothing else in the
    causal model looks across time.

    Arguments
    ---------
    layers : list of LayerStreamState
        One per layer.
    closed : bool
        A short, final window was consumed: the stream has ended.
    """

    layers: list[LayerStreamState]
    closed: bool = False


class FlashFormer(nn.Module):
    """FlashFormer masknet: FSMN + windowed flash attention + global path.

    Masknet contract of `Dual_Path_Model`: encoder output [B, N, L] in,
    masks [num_spks, B, N, L] out, any L (the attentions zero-pad to whole
    windows inside). See the module docstring for the design.

    Complexity (see the module docstring): time and memory O(L) per
    layer, plus an O((L / W)^2 d) term in the global path that stays
    negligible up to hours of audio.

    Causal (``causal=True``): no frame sees a later one. Algorithmic
    latency 0 frames; with the encoder's kernel 16 / stride 8, an output
    sample waits for at most 15 input samples, 1.9 ms at 8 kHz. It streams
    by `forward_chunk`, ``stream_frames`` (= W) frames per call.

    The default size costs 6.2 GMACs per second of 8 kHz audio with the
    encoder and decoder (RE-SepFormer: 6.3) for 6.2 M parameters.

    Arguments
    ---------
    in_channels : int
        Encoder channels N (the model dimension).
    num_spks : int
        Number of speakers (masks).
    num_layers : int
        FlashFormer layers; odd ones have shifted windows.
    nhead : int
        Attention heads.
    d_ffn : int
        Feed-forward hidden dimension.
    window_size : int
        Attention window W in frames (even).
    fsmn_hidden : int
        Channels of the gated FSMN.
    fsmn_kernel_size : int
        Taps per FSMN convolution (odd).
    fsmn_depth : int
        FSMN convolutions per layer (dilations 1, 2, 4, ...).
    dropout : float
        Dropout rate.
    causal : bool
        Causal model (see above).
    backend : str
        Backend of `lobes.attention.attend` (``auto``, ``flash_attn``,
        ``sdpa``, ``math``).

    Example
    -------
    >>> from speechbrain.lobes.models.dual_path import Encoder, Decoder
    >>> encoder = Encoder(kernel_size=16, out_channels=64)
    >>> masknet = FlashFormer(64, num_layers=2, nhead=4, d_ffn=128,
    ...     window_size=50, fsmn_hidden=64)
    >>> decoder = Decoder(in_channels=64, out_channels=1, kernel_size=16,
    ...     stride=8, bias=False)
    >>> mix = torch.randn(2, 8000)
    >>> h = encoder(mix)
    >>> masks = masknet(h)
    >>> masks.shape
    torch.Size([2, 2, 64, 999])
    >>> sources = torch.stack([decoder(h * m) for m in masks], -1)
    >>> sources.shape
    torch.Size([2, 8000, 2])
    """

    linear_in_length = True  # time and memory O(L): see Complexity

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
        backend: str = "auto",
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
                backend,
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
        h = x.transpose(1, 2)  # [B, L, N]
        for layer in self.layers:
            h = layer(h)
        return self._masks(h)

    @property
    def stream_frames(self) -> int:
        """Encoder frames per `forward_chunk` call: one window, W. Each call
        then completes one attention window and one window summary, so the
        state and the cost per call stay constant (bar the global path)."""
        return self.window_size

    @torch.no_grad()
    def forward_chunk(
        self, x: Tensor, state: FlashStreamState | None = None
    ) -> tuple[Tensor, FlashStreamState]:
        """Streams a causal model one window at a time.

        Feed consecutive blocks of exactly ``stream_frames`` (= W) encoder
        frames (the last one may be shorter, which ends the stream); the
        masks equal the offline causal `forward` of the concatenated
        input. Each call costs what `forward` costs per W frames, except
        that shifted layers attend over 2W frames and that the global path
        attends over the cached summaries of every past window: O(windows
        so far) per call, like RE-SepFormer's memory. The rest of the
        state, `FlashStreamState`, does not grow.

        Arguments
        ---------
        x : torch.Tensor
            Encoder frames [B, N, T], T == stream_frames (<= it at the end).
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
        >>> model = FlashFormer(16, num_layers=2, nhead=2, d_ffn=32,
        ...     window_size=10, fsmn_hidden=16, fsmn_kernel_size=3,
        ...     causal=True).eval()
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
        for layer, layer_state in zip(self.layers, state.layers, strict=True):
            h = layer.forward_chunk(h, layer_state)
        state.closed = T < W
        return self._masks(h), state

    def _masks(self, h: Tensor) -> Tensor:
        """Mask head: [B, T, N] -> ReLU(W PReLU(LN(h)) + b) [spks, B, N, T]."""
        return mask_head(self.norm(h), self.head_act, self.head, self.num_spks)
