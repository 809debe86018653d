"""The one attention primitive of every lobe, and the Transformer layer on it.

`attend` dispatches to flash-attn's ``flash_attn_func`` where it applies
(CUDA, compute capability >= 8.0, fp16/bf16 inputs) and to
``torch.nn.functional.scaled_dot_product_attention`` everywhere else. SDPA
picks its own fused kernel: FlashAttention / memory-efficient / cuDNN on
CUDA, and on CPU a blocked flash kernel that never materialises the
L x L score matrix. No ``attn_mask`` is ever passed (a mask rules the flash
kernels out): lobes express locality by reshaping into windows and
causality with ``causal=True``.

`FusedMultiheadAttention`, `FeedForward` and `TransformerLayer` are the building
blocks the lobes share (with `mask_head`, `check_frames` and
`inference_chunk_group`): pre-norm Transformer layers whose parameters map
one to one onto SpeechBrain's ``TransformerEncoderLayer`` (packed
``in_proj`` like ``torch.nn.MultiheadAttention``), with an optional
`KVCache` for step-by-step causal inference.

Authors
 * sepformer-lobes contributors 2026
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

try:  # optional: flash-attn's kernels (CUDA only)
    from flash_attn import flash_attn_func
except ImportError:  # pragma: no cover - depends on the environment
    flash_attn_func = None

try:  # torch >= 2.3
    from torch.nn.attention import SDPBackend, sdpa_kernel

    def _math_kernel():
        """SDPA restricted to its unfused reference kernel."""
        return sdpa_kernel(SDPBackend.MATH)

except ImportError:  # torch 2.1, 2.2: the global switches (CPU and CUDA)

    @contextmanager
    def _math_kernel():
        """SDPA restricted to its unfused reference kernel."""
        cuda = torch.backends.cuda
        flash, efficient = (
            cuda.flash_sdp_enabled(),
            cuda.mem_efficient_sdp_enabled(),
        )
        cuda.enable_flash_sdp(False)
        cuda.enable_mem_efficient_sdp(False)
        try:
            yield
        finally:
            cuda.enable_flash_sdp(flash)
            cuda.enable_mem_efficient_sdp(efficient)


BACKENDS = ("auto", "flash_attn", "sdpa", "math")
FLASH_DTYPES = (torch.float16, torch.bfloat16)
_BACKEND: ContextVar[str] = ContextVar("attention_backend", default="auto")


@contextmanager
def attention_backend(backend: str) -> Iterator[None]:
    """Runs every `attend` call in the block on one backend (to compare
    kernels in tests and benchmarks; models never need to set it).

    Arguments
    ---------
    backend : str
        ``auto`` (the default: flash-attn where it applies, else SDPA),
        ``flash_attn`` (fp32 inputs are cast to bf16 and back), ``sdpa``
        (SDPA picks its kernel) or ``math`` (SDPA's unfused reference
        kernel, which builds the score matrix).

    Example
    -------
    >>> q = torch.randn(1, 2, 10, 8)
    >>> with attention_backend("math"):
    ...     reference = attend(q, q, q, causal=True)
    >>> torch.allclose(attend(q, q, q, causal=True), reference, atol=1e-6)
    True
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}: choose one of {BACKENDS}.")
    token = _BACKEND.set(backend)
    try:
        yield
    finally:
        _BACKEND.reset(token)


def flash_attn_applicable(q: Tensor) -> bool:
    """Whether ``flash_attn_func`` can run on tensors like ``q`` as they are.

    Arguments
    ---------
    q : torch.Tensor
        A query tensor.

    Returns
    -------
    bool
        True when flash-attn is installed, ``q`` is on a CUDA device of
        compute capability 8.0 or more and its dtype is fp16 or bf16.

    Example
    -------
    >>> flash_attn_applicable(torch.randn(1, 2, 4, 8))  # CPU tensor
    False
    """
    return (
        flash_attn_func is not None
        and q.dtype in FLASH_DTYPES
        and _flash_device(q.device)
    )


def _flash_device(device: torch.device) -> bool:
    """CUDA with compute capability >= 8.0 (Ampere and later)."""
    return (
        device.type == "cuda"
        and torch.cuda.get_device_capability(device)[0] >= 8
    )


def attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    causal: bool = False,
    dropout: float = 0.0,
) -> Tensor:
    """Scaled dot-product attention softmax(q k^T / sqrt(d)) v, fused.

    Time O(Lq Lk d) per head; memory O((Lq + Lk) d) on every backend but
    ``math``, which materialises the Lq x Lk score matrix (reference only;
    see `attention_backend`).

    Arguments
    ---------
    q : torch.Tensor
        Queries [batch, heads, Lq, head_dim].
    k : torch.Tensor
        Keys [batch, heads, Lk, head_dim].
    v : torch.Tensor
        Values [batch, heads, Lk, head_dim].
    causal : bool
        Query i attends to keys 0..i only (needs Lq == Lk).
    dropout : float
        Dropout probability on the attention weights (training only).

    Returns
    -------
    torch.Tensor
        Attention output [batch, heads, Lq, head_dim], dtype of ``q``.

    Example
    -------
    >>> q, k, v = torch.randn(3, 2, 4, 100, 16).unbind(0)
    >>> attend(q, k, v, causal=True).shape
    torch.Size([2, 4, 100, 16])
    """
    backend = _BACKEND.get()
    if q.dim() != 4 or k.dim() != 4 or v.dim() != 4:
        raise ValueError(
            "attend expects q, k, v as [batch, heads, length, head_dim]; "
            f"got shapes {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}."
        )
    if causal and q.shape[2] != k.shape[2]:
        raise ValueError(
            f"causal attention needs as many queries as keys (got {q.shape[2]}"
            f" and {k.shape[2]}): a query that extends a cached prefix sees "
            "every cached key, call it with causal=False."
        )
    if backend == "flash_attn" or (
        backend == "auto" and flash_attn_applicable(q)
    ):
        return _flash_attend(q, k, v, causal, dropout)
    if backend == "math":
        with _math_kernel():
            return F.scaled_dot_product_attention(
                q, k, v, dropout_p=dropout, is_causal=causal
            )
    return F.scaled_dot_product_attention(
        q, k, v, dropout_p=dropout, is_causal=causal
    )


def _flash_attend(
    q: Tensor, k: Tensor, v: Tensor, causal: bool, dropout: float
) -> Tensor:
    """flash-attn's kernel on [batch, heads, L, d] tensors, any float dtype."""
    if flash_attn_func is None:
        raise RuntimeError(
            "backend='flash_attn' needs the flash-attn package (CUDA "
            "only: pip install flash-attn), or use backend='auto'."
        )
    if not _flash_device(q.device):
        raise RuntimeError(
            "backend='flash_attn' runs on CUDA GPUs of compute capability "
            ">= 8.0 only; use backend='auto' or 'sdpa' here."
        )
    dtype = q.dtype if q.dtype in FLASH_DTYPES else torch.bfloat16
    # [batch, heads, L, d] -> [batch, L, heads, d], the layout flash-attn wants
    qf, kf, vf = (t.transpose(1, 2).to(dtype) for t in (q, k, v))
    out = flash_attn_func(qf, kf, vf, dropout_p=dropout, causal=causal)
    return out.transpose(1, 2).to(q.dtype)


class KVCache:
    """Keys and values of past positions, for step-by-step attention.

    Storage grows by doubling, so appending n positions one at a time costs
    O(n) copies in total (concatenating would cost O(n^2)).

    Example
    -------
    >>> cache = KVCache()
    >>> k, v = cache.append(torch.randn(2, 4, 1, 8), torch.randn(2, 4, 1, 8))
    >>> k, v = cache.append(torch.randn(2, 4, 3, 8), torch.randn(2, 4, 3, 8))
    >>> k.shape, len(cache)
    (torch.Size([2, 4, 4, 8]), 4)
    """

    def __init__(self) -> None:
        self.k: Tensor | None = None  # [batch, heads, capacity, head_dim]
        self.v: Tensor | None = None
        self.length = 0

    def __len__(self) -> int:
        return self.length

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Stores k, v [batch, heads, n, head_dim]; returns all keys, values.

        Arguments
        ---------
        k : torch.Tensor
            New keys [batch, heads, n, head_dim].
        v : torch.Tensor
            New values, same shape.

        Returns
        -------
        keys : torch.Tensor
            Every key so far [batch, heads, length, head_dim] (a view).
        values : torch.Tensor
            Every value so far, same shape.
        """
        new_length = self.length + k.shape[2]
        if self.k is None or new_length > self.k.shape[2]:
            capacity = max(16, 2 * new_length)
            grown_k = k.new_empty(*k.shape[:2], capacity, k.shape[3])
            grown_v = v.new_empty(*v.shape[:2], capacity, v.shape[3])
            if self.k is not None:
                grown_k[:, :, : self.length] = self.k[:, :, : self.length]
                grown_v[:, :, : self.length] = self.v[:, :, : self.length]
            self.k, self.v = grown_k, grown_v
        self.k[:, :, self.length : new_length] = k
        self.v[:, :, self.length : new_length] = v
        self.length = new_length
        return self.k[:, :, :new_length], self.v[:, :, :new_length]


class FusedMultiheadAttention(nn.Module):
    """Multi-head attention on [batch, length, dim] through `attend`.

    The packed projection ``qkv`` holds [W_q; W_k; W_v] exactly like
    ``torch.nn.MultiheadAttention.in_proj_weight``, so its weights load as
    they are. Self-attention runs one fused projection; cross-attention
    (``context``) slices the same weights.

    Arguments
    ---------
    dim : int
        Model dimension (a multiple of ``nhead``).
    nhead : int
        Number of heads.
    dropout : float
        Dropout on the attention weights while training.

    Example
    -------
    >>> mha = FusedMultiheadAttention(64, nhead=4)
    >>> x, latents = torch.randn(2, 100, 64), torch.randn(2, 8, 64)
    >>> mha(x, causal=True).shape
    torch.Size([2, 100, 64])
    >>> mha(latents, context=x).shape
    torch.Size([2, 8, 64])
    """

    def __init__(self, dim: int, nhead: int, dropout: float = 0.0):
        super().__init__()
        if dim % nhead:
            raise ValueError(f"dim={dim} is not a multiple of nhead={nhead}.")
        self.nhead = nhead
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(
        self,
        x: Tensor,
        context: Tensor | None = None,
        causal: bool = False,
        cache: KVCache | None = None,
    ) -> Tensor:
        """Attends from x to itself, or to ``context``.

        Arguments
        ---------
        x : torch.Tensor
            Queries [batch, length, dim].
        context : torch.Tensor, optional
            Keys/values source [batch, context_length, dim]; x if None.
        causal : bool
            Position i sees positions <= i only (self-attention).
        cache : KVCache, optional
            Past keys/values: x's are appended and x attends to all of them
            (x must then be one new position when ``causal``).

        Returns
        -------
        torch.Tensor
            [batch, length, dim]
        """
        B, T, D = x.shape
        H = self.nhead
        if context is None:
            # [B, T, 3D] -> 3 x [B, H, T, D/H] as strided views, no copy
            q, k, v = self.qkv(x).view(B, T, 3, H, -1).permute(2, 0, 3, 1, 4)
        else:
            w_q, w_kv = self.qkv.weight.split([D, 2 * D])
            b_q, b_kv = self.qkv.bias.split([D, 2 * D])
            q = F.linear(x, w_q, b_q).view(B, T, H, -1).transpose(1, 2)
            kv = F.linear(context, w_kv, b_kv)
            k, v = kv.view(B, -1, 2, H, D // H).permute(2, 0, 3, 1, 4)
        if cache is not None:
            if causal and T > 1:
                raise ValueError(
                    "a causal step with a KVCache takes one position per call."
                )
            k, v = cache.append(k, v)
            causal = False  # the one query is the last position: sees all
        dropout = self.dropout if self.training else 0.0
        out = attend(q, k, v, causal, dropout)
        # [B, H, T, D/H] -> [B, T, D]
        return self.out(out.transpose(1, 2).reshape(B, T, D))


class FeedForward(nn.Sequential):
    """Position-wise feed-forward: Linear, ReLU, Dropout, Linear.

    Arguments
    ---------
    dim : int
        Model dimension.
    d_ffn : int
        Hidden dimension.
    dropout : float
        Dropout after the activation.

    Example
    -------
    >>> FeedForward(64, 256)(torch.randn(2, 10, 64)).shape
    torch.Size([2, 10, 64])
    """

    def __init__(self, dim: int, d_ffn: int, dropout: float = 0.0):
        super().__init__(
            nn.Linear(dim, d_ffn),
            nn.ReLU(
                inplace=True
            ),  # on addmm's fresh output: safe, saves a copy
            nn.Dropout(dropout),
            nn.Linear(d_ffn, dim),
        )


class TransformerLayer(nn.Module):
    """Pre-norm Transformer layer: x + MHA(LN(x)), then x + FFN(LN(x)).

    Same computation and parameters as SpeechBrain's
    ``TransformerEncoderLayer(normalize_before=True)`` (LayerNorm eps 1e-6).
    Time O(T^2 dim + T dim d_ffn) per sequence of length T.

    Arguments
    ---------
    dim : int
        Model dimension.
    nhead : int
        Number of attention heads.
    d_ffn : int
        Feed-forward hidden dimension.
    dropout : float
        Dropout on attention weights, residual branches and FFN hidden.

    Example
    -------
    >>> layer = TransformerLayer(64, nhead=4, d_ffn=128)
    >>> layer(torch.randn(2, 50, 64), causal=True).shape
    torch.Size([2, 50, 64])
    """

    def __init__(
        self,
        dim: int,
        nhead: int,
        d_ffn: int,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = FusedMultiheadAttention(dim, nhead, dropout)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.ffn = FeedForward(dim, d_ffn, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: Tensor, causal: bool = False, cache: KVCache | None = None
    ) -> Tensor:
        """Transforms x [batch, length, dim] (see `FusedMultiheadAttention`).

        Arguments
        ---------
        x : torch.Tensor
            [batch, length, dim]
        causal : bool
            Causal self-attention.
        cache : KVCache, optional
            Keys/values of the previous positions of this layer.

        Returns
        -------
        torch.Tensor
            [batch, length, dim]
        """
        # residuals added in place to the branch outputs: fresh tensors that
        # no backward reads, so no new allocation per add
        h = self.dropout(self.attn(self.norm1(x), causal=causal, cache=cache))
        x = h.add_(x)
        return self.dropout(self.ffn(self.norm2(x))).add_(x)


def check_frames(
    x: Tensor, channels: int, max_frames: int | None = None
) -> None:
    """Raises a ValueError unless ``x`` is encoder output [batch, channels,
    frames] (with at most ``max_frames`` frames, when given).

    Arguments
    ---------
    x : torch.Tensor
        What a masknet was given.
    channels : int
        The masknet's encoder channels N.
    max_frames : int, optional
        Most frames one call takes (a streaming step).

    Example
    -------
    >>> check_frames(torch.zeros(1, 16, 40), 16)
    >>> x = torch.zeros(1, 8, 40)
    >>> check_frames(x, 16, max_frames=50)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: expected encoder frames [batch, 16, <= 50], got shape (1, 8...
    """
    if x.dim() != 3 or x.shape[1] != channels:
        frames = "frames" if max_frames is None else f"<= {max_frames}"
        raise ValueError(
            f"expected encoder frames [batch, {channels}, {frames}], got "
            f"shape {tuple(x.shape)}."
        )


def mask_head(
    h: Tensor, activation: nn.Module, linear: nn.Linear, num_spks: int
) -> Tensor:
    """Masks from frame features: ReLU(linear(activation(h))), one per
    speaker, as the head of SpeechBrain's ``Dual_Path_Model``.

    Arguments
    ---------
    h : torch.Tensor
        Frame features [B, T, N].
    activation : torch.nn.Module
        Applied first (a PReLU).
    linear : torch.nn.Linear
        N -> num_spks * N, output rows ordered [speaker, channel].
    num_spks : int
        Number of speakers.

    Returns
    -------
    torch.Tensor
        Masks [num_spks, B, N, T], nonnegative.

    Example
    -------
    >>> head = nn.Linear(8, 2 * 8)
    >>> mask_head(torch.randn(3, 50, 8), nn.PReLU(), head, 2).shape
    torch.Size([2, 3, 8, 50])
    """
    B, T, N = h.shape
    # [spk*N, N] @ [B, N, T] -> [B, spk*N, T]: channels-first, no copy
    y = torch.matmul(linear.weight, activation(h).transpose(1, 2))
    y = y.add_(linear.bias.unsqueeze(1)).relu_()  # fresh: in place
    return y.view(B, num_spks, N, T).transpose(0, 1)


def inference_chunk_group(device: torch.device) -> int:
    """Chunks per group when a lobe runs its chunk-local layers group by group
    at inference (working memory bounded whatever the input length).

    8 per CPU thread: every thread gets matrices large enough to be
    efficient, and small enough to stay in its cache; tensors of a few MB
    are also reused by the allocator instead of being mapped afresh (and
    page-faulted in) on every call. 1024 on an accelerator: enough work per
    kernel launch (1024 chunks of 150 frames are 2.6 min of 8 kHz audio).

    Arguments
    ---------
    device : torch.device
        Where the lobe runs.

    Returns
    -------
    int
        Chunks per group.

    Example
    -------
    >>> threads = torch.get_num_threads()
    >>> inference_chunk_group(torch.device("cpu")) == 8 * threads
    True
    >>> inference_chunk_group(torch.device("cuda"))
    1024
    """
    return 8 * torch.get_num_threads() if device.type == "cpu" else 1024


def count_macs(fn: Callable[[], object]) -> float:
    """Multiply-accumulates of ``fn()`` (FLOPs / 2), run without grad.

    ``FlopCounterMode`` does not count SDPA's fused CPU kernel, which
    `attend` runs on CPU; it is mapped to SDPA's FLOP formula here so that
    attention counts the same on every device (and on ``meta``).

    Arguments
    ---------
    fn : callable
        Runs the computation to count.

    Returns
    -------
    float
        Multiply-accumulate operations.

    Example
    -------
    >>> q = torch.randn(1, 2, 10, 8)
    >>> count_macs(lambda: attend(q, q, q))  # 2 matmuls of 2 x 10 x 10 x 8
    3200.0
    """
    cpu_sdpa = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    mapping = {cpu_sdpa: lambda q, k, v, *a, **kw: sdpa_flop_count(q, k, v)}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        with torch.no_grad():
            fn()
    return counter.get_total_flops() / 2
