"""RE-SepFormer: the Resource-Efficient Separation Transformer masknet.

Della Libera, Subakan, Ravanelli, Cornell, Lepoutre, Grondin,
"Resource-Efficient Separation Transformer", ICASSP 2024, section 2.3.
The encoder output is cut into non-overlapping chunks of C frames;
IntraTransformer1 runs inside each chunk; each chunk is summarised by its
time average; the MemoryTransformer runs over the summaries (chunk axis);
its output is added back to every frame of its chunk; IntraTransformer2
runs inside each chunk; PReLU, a pointwise linear layer and ReLU give one
mask per speaker.

The computation is the one of SpeechBrain's
``speechbrain.lobes.models.resepformer.ResourceEfficientSeparator`` with
``SBTransformerBlock_wnormandskip`` seg/mem models and ``mem_type="av"``
(the published recipe), and its weights load through
`convert_upstream_state_dict` / `RESepFormer.from_upstream`. Differences:
every attention goes through `lobes.attention.attend` (fused, never the
C x C weights upstream returns), the layout stays [chunks, time, channels]
(no permute per block), inference runs the chunk-local transformers over
bounded groups of chunks (working memory independent of the input length,
matrices that stay in cache), and the memory transformer attends within
each batch item (upstream folds the batch into its sequence axis, so with
batch > 1 its chunks attend to other items' chunks; with batch 1 the two
agree).

Authors
 * sepformer-lobes contributors 2026
"""

import math
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from speechbrain.lobes.models.dual_path import (
    CumulativeLayerNorm,
    GlobalLayerNorm,
)
from speechbrain.lobes.models.resepformer import (
    ResourceEfficientSeparator,
    SBTransformerBlock_wnormandskip,
)
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


class GlobalNorm(nn.Module):
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
    >>> y = GlobalNorm(8)(torch.randn(2, 10, 8) * 3 + 1)
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
    backend : str
        Backend of `lobes.attention.attend`.

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
        backend: str = "auto",
    ):
        super().__init__()
        self.causal = causal
        self.layers = nn.ModuleList(
            TransformerLayer(dim, nhead, d_ffn, dropout, backend)
            for _ in range(num_layers)
        )
        self.final_norm = nn.LayerNorm(dim, eps=1e-6)
        self.norm = (
            nn.LayerNorm(dim, eps=NORM_EPS) if causal else GlobalNorm(dim)
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

    Complexity for L frames, chunk C, dimension d, S = L / C chunks:
    time O(L (C d + d d_ffn)) in the chunk transformers plus
    O(S^2 d + S d d_ffn) in the memory transformer, whose S^2 attention
    term stays below the chunk transformers' cost while
    S < C (2 C + 4 d + 2 d_ffn) intra_layers / memory_layers (about 18
    hours of audio in the paper's configuration); memory O(L d). Under
    ``torch.no_grad()`` the chunk transformers run ``group_chunks`` chunks
    at a time: beyond the input and the output, working memory is
    O(group_chunks C d_ffn + S d_ffn).

    Causal (``causal=True``): causal attention inside chunks and across
    summaries, per-frame LayerNorm instead of gLN. A frame then depends on
    the past and on the rest of its own chunk (through the chunk summary),
    so the algorithmic latency is C - 1 = 149 frames of look-ahead; with
    the paper's encoder (kernel 16, stride 8) an output sample waits for
    (C - 1) * 8 + 16 - 1 = 1207 input samples, 150.9 ms at 8 kHz. Use
    `forward_chunk` to stream.

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
    backend : str
        Backend of `lobes.attention.attend`.

    Example
    -------
    >>> from speechbrain.lobes.models.dual_path import Encoder, Decoder
    >>> encoder = Encoder(kernel_size=16, out_channels=64)
    >>> masknet = RESepFormer(64, chunk_size=50, intra_layers=1,
    ...     memory_layers=1, nhead=4, intra_d_ffn=128, memory_d_ffn=128)
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
        chunk_size: int = 150,
        intra_layers: int = 8,
        memory_layers: int = 8,
        nhead: int = 8,
        intra_d_ffn: int = 1024,
        memory_d_ffn: int = 1024,
        dropout: float = 0.0,
        causal: bool = False,
        group_chunks: int | None = None,
        backend: str = "auto",
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
                in_channels, layers, nhead, d_ffn, dropout, causal, backend
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
        """Inference, group_chunks chunks at a time (bounded working set).

        The IntraTransformer1 output waits for pass 2 in the storage of the
        last speaker's masks, in the same [B, N, L] layout, so each group's
        masks only overwrite frames pass 2 has already read. The last
        chunk's padding frames (which IntraTransformer2 attends to) are
        kept aside.
        """
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

        The streaming protocol of the causal masknets: feed consecutive
        blocks of exactly ``stream_frames`` frames (the last may be
        shorter). A chunk is the unit of the model's look-ahead, so
        streaming adds no latency beyond the algorithmic one.

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
        `forward` of the concatenated input. Each call costs one chunk of
        the intra transformers plus one memory step over the cached
        summaries' keys and values.

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
        >>> model = RESepFormer(16, chunk_size=10, intra_layers=1,
        ...     memory_layers=1, nhead=2, intra_d_ffn=32, memory_d_ffn=32,
        ...     causal=True).eval()
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

    @classmethod
    def from_upstream(
        cls, upstream: ResourceEfficientSeparator, **kwargs
    ) -> "RESepFormer":
        """Builds the RE-SepFormer that computes what ``upstream`` computes.

        Arguments
        ---------
        upstream : ResourceEfficientSeparator
            SpeechBrain's separator with ``SBTransformerBlock_wnormandskip``
            seg/mem models (positional encoding, norm_before, norm, skip,
            relu), ``mem_type="av"``, two blocks, ReLU masks.
        **kwargs
            Extra `RESepFormer` arguments (group_chunks, backend).

        Returns
        -------
        RESepFormer
            With upstream's weights, in upstream's train/eval mode.

        Example
        -------
        >>> def block():
        ...     return SBTransformerBlock_wnormandskip(1, 32, 4, 64,
        ...         dropout=0, use_positional_encoding=True,
        ...         norm_before=True)
        >>> upstream = ResourceEfficientSeparator(32, causal=False,
        ...     segment_size=10, layer=2, mem_type="av",
        ...     seg_model=block(), mem_model=block()).eval()
        >>> ours = RESepFormer.from_upstream(upstream)
        >>> h = torch.rand(1, 32, 45)
        >>> torch.allclose(ours(h), upstream(h), atol=1e-5)
        True
        """
        model = cls(**upstream_module_config(upstream), **kwargs)
        model.load_state_dict(
            convert_upstream_state_dict(upstream.state_dict())
        )
        return model.train(upstream.training)

    @classmethod
    def from_upstream_state_dict(
        cls,
        state_dict: dict[str, Tensor],
        nhead: int = 8,
        chunk_size: int = 150,
        **kwargs,
    ) -> "RESepFormer":
        """Builds a RE-SepFormer from an upstream masknet checkpoint alone.

        Arguments
        ---------
        state_dict : dict
            ``ResourceEfficientSeparator.state_dict()``, e.g. the
            ``masknet.ckpt`` of a published upstream model.
        nhead : int
            Attention heads (weights do not tell; the recipe uses 8).
        chunk_size : int
            Chunk size (weights do not tell; the recipe uses 150).
        **kwargs
            Extra `RESepFormer` arguments (dropout, group_chunks, backend).

        Returns
        -------
        RESepFormer
            Holding the converted weights.
        """
        config = upstream_config(state_dict, nhead, chunk_size)
        model = cls(**config, **kwargs)
        model.load_state_dict(convert_upstream_state_dict(state_dict))
        return model


# ours <- upstream, per Transformer layer / per block
_LAYER_KEYS = {
    "norm1.weight": "norm1.norm.weight",
    "norm1.bias": "norm1.norm.bias",
    "attn.qkv.weight": "self_att.att.in_proj_weight",
    "attn.qkv.bias": "self_att.att.in_proj_bias",
    "attn.out.weight": "self_att.att.out_proj.weight",
    "attn.out.bias": "self_att.att.out_proj.bias",
    "norm2.weight": "norm2.norm.weight",
    "norm2.bias": "norm2.norm.bias",
    "ffn.0.weight": "pos_ffn.ffn.0.weight",
    "ffn.0.bias": "pos_ffn.ffn.0.bias",
    "ffn.3.weight": "pos_ffn.ffn.3.weight",
    "ffn.3.bias": "pos_ffn.ffn.3.bias",
}
_BLOCKS = {
    "intra1": "model.seg_model.0",
    "memory": "model.mem_model.0",
    "intra2": "model.seg_model.1",
}


def _num_layers(state_dict: dict[str, Tensor], block: str) -> int:
    prefix = f"{block}.mdl.layers."
    return len(
        {
            k[len(prefix) :].split(".")[0]
            for k in state_dict
            if k.startswith(prefix)
        }
    )


def upstream_config(
    state_dict: dict[str, Tensor], nhead: int = 8, chunk_size: int = 150
) -> dict:
    """`RESepFormer` arguments matching an upstream masknet state_dict.

    Sizes, layer counts and causality come from the weights (a per-frame
    LayerNorm, i.e. upstream ``norm_type="cln"``, with [dim] weights, marks
    a causal model; gLN, with [dim, 1] weights, a non-causal one); the head
    count and chunk size do not show in weights and are passed through.

    Arguments
    ---------
    state_dict : dict
        ``ResourceEfficientSeparator.state_dict()``.
    nhead : int
        Attention heads.
    chunk_size : int
        Chunk size.

    Returns
    -------
    dict
        Keyword arguments of `RESepFormer`.
    """
    ffn = {
        b: f"{p}.mdl.layers.0.pos_ffn.ffn.0.weight" for b, p in _BLOCKS.items()
    }
    missing = [
        k
        for k in [*ffn.values(), "model.output_fc.1.weight"]
        if k not in state_dict
    ]
    if missing:
        raise ValueError(
            "not a RE-SepFormer ResourceEfficientSeparator state_dict "
            "(mem_type 'av', SBTransformerBlock_wnormandskip seg/mem models)"
            f": missing {missing}."
        )
    d_ffn = {b: state_dict[k].shape[0] for b, k in ffn.items()}
    layers = {b: _num_layers(state_dict, p) for b, p in _BLOCKS.items()}
    if (layers["intra1"], d_ffn["intra1"]) != (
        layers["intra2"],
        d_ffn["intra2"],
    ):
        raise ValueError("the two upstream seg models differ in size.")
    dim = state_dict[ffn["intra1"]].shape[1]
    norm_shapes = {
        state_dict[f"{p}.norm.weight"].dim() for p in _BLOCKS.values()
    }
    if norm_shapes != {1} and norm_shapes != {2}:
        raise ValueError(
            "upstream mixes gLN and per-frame norms between its seg and mem "
            "models; RESepFormer uses gLN (non-causal) or per-frame norms "
            "(causal) throughout."
        )
    return dict(
        in_channels=dim,
        num_spks=state_dict["model.output_fc.1.weight"].shape[0] // dim,
        chunk_size=chunk_size,
        intra_layers=layers["intra1"],
        memory_layers=layers["memory"],
        nhead=nhead,
        intra_d_ffn=d_ffn["intra1"],
        memory_d_ffn=d_ffn["memory"],
        causal=norm_shapes == {1},
    )


def upstream_module_config(upstream: ResourceEfficientSeparator) -> dict:
    """`RESepFormer` arguments computing what an upstream separator computes.

    Like `upstream_config`, with the head count, chunk size and dropout
    read from the module, after checking that it is a configuration
    `RESepFormer` reproduces.

    Arguments
    ---------
    upstream : ResourceEfficientSeparator
        See `RESepFormer.from_upstream`.

    Returns
    -------
    dict
        Keyword arguments of `RESepFormer` (plain values, e.g. to write a
        hyperparameter file).
    """
    _check_upstream(upstream)
    layer = upstream.model.seg_model[0].mdl.layers[0]
    config = upstream_config(
        upstream.state_dict(),
        nhead=layer.self_att.att.num_heads,
        chunk_size=upstream.segment_size,
    )
    return config | {"dropout": float(layer.dropout1.p)}


def convert_upstream_state_dict(
    state_dict: dict[str, Tensor],
) -> dict[str, Tensor]:
    """Converts an upstream RE-SepFormer masknet state_dict to ours.

    Arguments
    ---------
    state_dict : dict
        ``ResourceEfficientSeparator.state_dict()`` (mem_type "av",
        ``SBTransformerBlock_wnormandskip`` seg/mem models).

    Returns
    -------
    dict
        A state_dict for `RESepFormer` (built with `upstream_config`).
    """
    config = upstream_config(state_dict)
    ours = {}
    for block, prefix in _BLOCKS.items():
        for i in range(_num_layers(state_dict, prefix)):
            for key, up_key in _LAYER_KEYS.items():
                up = f"{prefix}.mdl.layers.{i}.{up_key}"
                ours[f"{block}.layers.{i}.{key}"] = state_dict[up]
        for name in ("weight", "bias"):
            ours[f"{block}.final_norm.{name}"] = state_dict[
                f"{prefix}.mdl.norm.norm.{name}"
            ]
            # gLN stores [dim, 1]
            ours[f"{block}.norm.{name}"] = state_dict[
                f"{prefix}.norm.{name}"
            ].reshape(-1)
    N, spk = config["in_channels"], config["num_spks"]
    # upstream's conv output channel n * spk + s -> our row s * N + n
    weight = state_dict["model.output_fc.1.weight"].reshape(N, spk, N)
    bias = state_dict["model.output_fc.1.bias"].reshape(N, spk)
    ours["head.weight"] = weight.transpose(0, 1).reshape(spk * N, N)
    ours["head.bias"] = bias.T.reshape(spk * N)
    ours["head_act.weight"] = state_dict["model.output_fc.0.weight"]
    return ours


def _check_upstream(upstream: ResourceEfficientSeparator) -> None:
    """Raises a ValueError if upstream computes something we do not."""
    pipeline = upstream.model
    problems = []
    if pipeline.mem_type != "av":
        problems.append(f"mem_type={pipeline.mem_type!r} (need 'av')")
    if pipeline.num_blocks != 2:
        problems.append(f"layer={pipeline.num_blocks} (need 2)")
    if not isinstance(upstream.nonlinear, nn.ReLU):
        problems.append("nonlinear is not 'relu'")
    blocks = [*pipeline.seg_model, *pipeline.mem_model]
    for b in blocks:
        if not isinstance(b, SBTransformerBlock_wnormandskip):
            problems.append(f"{type(b).__name__} seg/mem model")
            continue
        layer = b.mdl.layers[0]
        if not (b.use_positional_encoding and b.use_norm and b.use_skip):
            problems.append(
                "seg/mem model without positional encoding, norm or skip"
            )
        elif not isinstance(b.norm, GlobalLayerNorm | CumulativeLayerNorm):
            problems.append(f"{type(b.norm).__name__} norm (need gln/cln)")
        elif b.causal != isinstance(b.norm, CumulativeLayerNorm):
            problems.append(
                "causal with gLN, or non-causal with per-frame norm "
                "(RESepFormer pairs causal with norm_type='cln', non-causal "
                "with 'gln')"
            )
        if not layer.normalize_before:
            problems.append("norm_before=False")
        if not isinstance(layer.pos_ffn.ffn[1], nn.ReLU):
            problems.append("activation other than relu")
    if len({getattr(b, "causal", None) for b in blocks}) > 1:
        problems.append("seg and mem models differ in causality")
    if problems:
        raise ValueError(
            "cannot convert this upstream RE-SepFormer: "
            + "; ".join(dict.fromkeys(problems))
        )
