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
masks of a prefix are the prefix of the masks (the model can stream).
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

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from lobes.attention import FeedForward, MultiHeadAttention


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
    sample waits for at most 15 input samples, 1.9 ms at 8 kHz.

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
        if x.dim() != 3 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"expected encoder output [batch, {self.in_channels}, frames]"
                f", got shape {tuple(x.shape)}."
            )
        B, N, L = x.shape
        h = x.transpose(1, 2)  # [B, L, N]
        for layer in self.layers:
            h = layer(h)
        h = self.head_act(self.norm(h))
        # [spk*N, N] @ [B, N, L] -> [B, spk*N, L]: channels-first, no copy
        y = torch.matmul(self.head.weight, h.transpose(1, 2))
        y = F.relu(y + self.head.bias.unsqueeze(1))
        return y.view(B, self.num_spks, N, L).transpose(0, 1)
