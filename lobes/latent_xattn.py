"""LatentSepFormer masknet: learned latents cross-attend to the chunked
encoder output, replacing SepFormer's intra/inter Transformers.

Source: the note "SepFormer modified with Persistence" (latent
cross-attention over the chunked representation, short and long passes).
As in the note: (1) byte tokens (feature, chunk) embed the chunk's K frames;
(2) per-chunk latents [a, b], b < K, read them (short cross-attention);
(3) short, then long latent transformations, R repeats, latents persist;
(4) masks M * h and SpeechBrain's decoder (outside this module).
Changed: (5) the latents of a chunk read that chunk only;
(6) long pass over chunk tokens [S, a*b], no weight on the chunk axis;
(7) m persistent global latents pack/unpack the chunk tokens, O(S m);
(8) bytes (+ feature embedding) read back their latents, channel FFN;
(9) attention width d >= K instead of b; (10) pre-norm residual blocks;
(11) `Dual_Path_Model`'s input and head, non-overlapping chunks;
(12) causal variant: causal attention over chunk tokens, per-frame norm.

Authors
 * sepformer-lobes contributors 2026
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from lobes.attention import (
    FeedForward,
    TransformerLayer,
    attend,
    check_frames,
    inference_chunk_group,
)

LN_EPS = 1e-6


class CrossAttention(nn.Module):
    """Multi-head attention from queries [B, T, query_dim] to a context
    [B, Tc, context_dim] of another width, each projected straight to ``dim``.

    Arguments
    ---------
    query_dim, context_dim, dim : int
        Widths of the queries (and output), of the context, of the attention.
    nhead : int
        Attention heads (dividing ``dim``).
    dropout : float
        Dropout on the attention weights.

    Example
    -------
    >>> attn = CrossAttention(query_dim=16, context_dim=40, dim=32, nhead=4)
    >>> attn(torch.randn(2, 5, 16), torch.randn(2, 30, 40)).shape
    torch.Size([2, 5, 16])
    """

    def __init__(
        self,
        query_dim: int,
        context_dim: int,
        dim: int,
        nhead: int,
        dropout: float = 0.0,
    ):
        super().__init__()
        if dim % nhead:
            raise ValueError(f"dim={dim} is not a multiple of nhead={nhead}.")
        self.nhead = nhead
        self.dropout = dropout
        self.to_q = nn.Linear(query_dim, dim)
        self.to_kv = nn.Linear(context_dim, 2 * dim)
        self.to_out = nn.Linear(dim, query_dim)

    def forward(
        self, x: Tensor, context: Tensor, causal: bool = False
    ) -> Tensor:
        """Returns [B, T, query_dim]: queries x [B, T, query_dim] read context
        [B, Tc, context_dim] (if ``causal``, query i sees positions <= i only).
        """
        B, T, _ = x.shape
        H = self.nhead
        # [B, T, dim] -> [B, H, T, dim/H]
        q = self.to_q(x).view(B, T, H, -1).transpose(1, 2)
        # [B, Tc, 2 dim] -> 2 x [B, H, Tc, dim/H]
        k, v = (
            self.to_kv(context)
            .view(B, context.shape[1], 2, H, -1)
            .permute(2, 0, 3, 1, 4)
        )
        dropout = self.dropout if self.training else 0.0
        out = attend(q, k, v, causal, dropout)
        # [B, H, T, dim/H] -> [B, T, dim]
        return self.to_out(out.transpose(1, 2).reshape(B, T, -1))


class CrossAttentionLayer(nn.Module):
    """Pre-norm read: x + CrossAttention(LN(x), LN(context)).

    Arguments
    ---------
    query_dim, context_dim, dim, nhead, dropout
        As `CrossAttention`; ``dropout`` also on the residual branch.

    Example
    -------
    >>> layer = CrossAttentionLayer(16, 40, dim=32, nhead=4)
    >>> layer(torch.randn(2, 5, 16), torch.randn(2, 30, 40)).shape
    torch.Size([2, 5, 16])
    """

    def __init__(
        self,
        query_dim: int,
        context_dim: int,
        dim: int,
        nhead: int,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.norm = nn.LayerNorm(query_dim, eps=LN_EPS)
        self.context_norm = nn.LayerNorm(context_dim, eps=LN_EPS)
        self.attn = CrossAttention(query_dim, context_dim, dim, nhead, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        """Returns x [B, T, query_dim] updated from what it reads in context
        [B, Tc, context_dim].
        """
        update = self.attn(self.norm(x), self.context_norm(context))
        return x + self.dropout(update)


class ResidualFeedForward(nn.Module):
    """x + FFN(LN(x)), position-wise on the last axis.

    Arguments
    ---------
    dim, d_ffn : int
        Width of x; hidden width.
    dropout : float
        Dropout in the FFN and on the residual branch.

    Example
    -------
    >>> ResidualFeedForward(16, 64)(torch.randn(2, 5, 16)).shape
    torch.Size([2, 5, 16])
    """

    def __init__(self, dim: int, d_ffn: int, dropout: float = 0.0):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.ffn = FeedForward(dim, d_ffn, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """Returns x + FFN(LN(x)), same shape as x."""
        return x + self.dropout(self.ffn(self.norm(x)))


class GlobalLatents(nn.Module):
    """Non-causal long pass: m persistent latents G [B, m, dim] read all chunk
    tokens U [B, S, token_dim] (pack), self-attend (transform), and U reads
    them back (unpack). Time O(S m d_g + m^2 d_g) for S chunk tokens.

    Arguments
    ---------
    token_dim, dim : int
        Width of a chunk token (a * b); width d_g of G and of both attentions.
    nhead, d_ffn : int
        Attention heads; hidden width of the transformation's FFN.
    dropout : float
        Dropout rate.

    Example
    -------
    >>> long_pass = GlobalLatents(token_dim=64, dim=32, nhead=4, d_ffn=64)
    >>> tokens, latents = torch.randn(2, 9, 64), torch.randn(2, 4, 32)
    >>> tokens, latents = long_pass(tokens, latents)
    >>> tokens.shape, latents.shape
    (torch.Size([2, 9, 64]), torch.Size([2, 4, 32]))
    """

    def __init__(
        self,
        token_dim: int,
        dim: int,
        nhead: int,
        d_ffn: int,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.pack = CrossAttentionLayer(dim, token_dim, dim, nhead, dropout)
        self.transform = TransformerLayer(dim, nhead, d_ffn, dropout)
        self.unpack = CrossAttentionLayer(token_dim, dim, dim, nhead, dropout)

    def forward(self, tokens: Tensor, latents: Tensor) -> tuple[Tensor, Tensor]:
        """Returns the chunk tokens U [B, S, token_dim] and global latents
        G [B, m, dim] after pack, transform and unpack.
        """
        latents = self.transform(self.pack(latents, tokens))
        return self.unpack(tokens, latents), latents


class CausalChunkAttention(nn.Module):
    """Causal long pass: chunk token s of U [B, S, token_dim] reads tokens 0..s,
    U += CausalAttention(LN(U)). Time O(S^2 d_g), memory O(S d_g) (fused).

    Arguments
    ---------
    token_dim, dim, nhead : int
        Width of a chunk token (a * b); attention width d_g; heads.
    dropout : float
        Dropout rate.

    Example
    -------
    >>> long_pass = CausalChunkAttention(token_dim=64, dim=32, nhead=4)
    >>> long_pass(torch.randn(2, 9, 64)).shape
    torch.Size([2, 9, 64])
    """

    def __init__(
        self,
        token_dim: int,
        dim: int,
        nhead: int,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.norm = nn.LayerNorm(token_dim, eps=LN_EPS)
        self.attn = CrossAttention(token_dim, token_dim, dim, nhead, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: Tensor) -> Tensor:
        """Returns the updated chunk tokens [B, S, token_dim]."""
        normed = self.norm(tokens)
        return tokens + self.dropout(self.attn(normed, normed, causal=True))


class LatentRepeat(nn.Module):
    """One repeat over byte tokens [B*S, F', K] and chunk latents [B*S, a, b]:
    `short_pass` (latents read their chunk, self-attend), `long_range` over
    chunk tokens, `decode` (bytes read their chunk's latents, channel FFN).

    Arguments
    ---------
    byte_channels, chunk_size, num_latents, latent_dim, attention_dim : int
        F', K, a, b and d, as in `LatentSepFormer`.
    nhead, d_ffn, latent_d_ffn, global_dim, global_d_ffn : int
        As in `LatentSepFormer`.
    long_pass, causal : bool
        Whether there is a long pass; whether it is causal.
    dropout : float
        Dropout rate.

    Example
    -------
    >>> block = LatentRepeat(
    ...     byte_channels=8,
    ...     chunk_size=10,
    ...     num_latents=4,
    ...     latent_dim=8,
    ...     attention_dim=16,
    ...     nhead=2,
    ...     d_ffn=32,
    ...     latent_d_ffn=16,
    ...     long_pass=True,
    ...     global_dim=16,
    ...     global_d_ffn=32,
    ... )
    >>> bytes_, latents = torch.randn(2 * 3, 8, 10), torch.randn(2 * 3, 4, 8)
    >>> glob = torch.randn(2, 5, 16)
    >>> bytes_, latents, glob = block(bytes_, latents, glob, batch_size=2)
    >>> bytes_.shape, latents.shape, glob.shape
    (torch.Size([6, 8, 10]), torch.Size([6, 4, 8]), torch.Size([2, 5, 16]))
    """

    def __init__(
        self,
        byte_channels: int,
        chunk_size: int,
        num_latents: int,
        latent_dim: int,
        attention_dim: int,
        nhead: int,
        d_ffn: int,
        latent_d_ffn: int,
        long_pass: bool,
        global_dim: int,
        global_d_ffn: int,
        dropout: float = 0.0,
        causal: bool = False,
    ):
        super().__init__()
        K, b, d = chunk_size, latent_dim, attention_dim
        self.read = CrossAttentionLayer(b, K, d, nhead, dropout)
        self.read_ffn = ResidualFeedForward(b, latent_d_ffn, dropout)
        self.short = TransformerLayer(b, nhead, latent_d_ffn, dropout)
        token_dim = num_latents * latent_dim
        if not long_pass:
            self.long = None
        elif causal:
            self.long = CausalChunkAttention(
                token_dim, global_dim, nhead, dropout
            )
        else:
            self.long = GlobalLatents(
                token_dim, global_dim, nhead, global_d_ffn, dropout
            )
        self.write = CrossAttentionLayer(K, b, d, nhead, dropout)
        self.byte_ffn = ResidualFeedForward(byte_channels, d_ffn, dropout)

    def forward(
        self,
        bytes_: Tensor,
        latents: Tensor,
        glob: Tensor | None,
        batch_size: int,
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """Returns bytes_ [B*S, F', K], latents [B*S, a, b] and glob [B, m, d_g]
        (or None) after one repeat over all chunks of a batch of batch_size B.
        """
        latents = self.short_pass(bytes_, latents)
        latents, glob = self.long_range(latents, glob, batch_size)
        return self.decode(bytes_, latents), latents, glob

    def short_pass(self, bytes_: Tensor, latents: Tensor) -> Tensor:
        """Returns latents [n, a, b] updated from the bytes [n, F', K] of their
        chunk, then mixed (chunk-local: any n chunks).
        """
        return self.short(self.read_ffn(self.read(latents, bytes_)))

    def long_range(
        self, latents: Tensor, glob: Tensor | None, batch_size: int
    ) -> tuple[Tensor, Tensor | None]:
        """Returns latents [B*S, a, b] and glob exchanged across chunks."""
        if self.long is None:
            return latents, glob
        # chunk latents [B*S, a, b] -> chunk tokens [B, S, a*b]
        tokens = latents.reshape(batch_size, -1, latents[0].numel())
        if isinstance(self.long, GlobalLatents):
            tokens, glob = self.long(tokens, glob)
        else:
            tokens = self.long(tokens)
        return tokens.view_as(latents), glob

    def decode(self, bytes_: Tensor, latents: Tensor) -> Tensor:
        """Returns bytes [n, F', K] updated from the latents [n, a, b] of their
        chunk, then channel-mixed (chunk-local: any n chunks).
        """
        bytes_ = self.write(bytes_, latents)
        # channel mixing per frame: [chunks, F', K] -> [chunks, K, F'] and back
        return self.byte_ffn(bytes_.mT).mT


class LatentSepFormer(nn.Module):
    """Latent cross-attention masknet: encoder output [B, F, L] -> byte tokens
    [B*S, F', K] in S = ceil(L / K) chunks -> R `LatentRepeat` with chunk
    latents [B*S, a, b] and global latents [B, m, d_g] -> `Dual_Path_Model`'s
    head -> masks [num_spks, B, F, L].
    Time and memory O(L); causal look-ahead K - 1 frames (149 frames, 150.9 ms
    at 8 kHz with K = 150 and the encoder's kernel 16 / stride 8).

    Arguments
    ---------
    in_channels, byte_channels, num_spks : int
        Encoder channels F; byte channels F' (1x1 conv F -> F'); speakers.
    chunk_size, num_repeats : int
        Chunk length K in frames (fixed by the trained weights); repeats R.
    num_latents, latent_dim, attention_dim : int
        Latents a per chunk; their width b (b < K); byte <-> latent width d.
    nhead : int
        Heads of every attention; divides latent, attention and global dims.
    d_ffn, latent_d_ffn : int
        Hidden widths of the bytes' channel FFN and of the latents' FFNs.
    num_global_latents, global_dim, global_d_ffn : int
        Global latents m; their width d_g (also causal long pass); FFN width.
    long_pass : bool
        Chunks exchange information (False: each on its own, an ablation).
    tied_repeats : bool
        Repeats 2..R share their weights (as in Perceiver).
    dropout : float
        Dropout rate.
    causal : bool
        Per-frame norm and causal long pass.
    group_chunks : int, optional
        Chunks per group under no_grad; None: `inference_chunk_group`.

    Example
    -------
    >>> from speechbrain.lobes.models.dual_path import Encoder, Decoder
    >>> encoder = Encoder(kernel_size=16, out_channels=32)
    >>> masknet = LatentSepFormer(
    ...     32,
    ...     byte_channels=16,
    ...     chunk_size=50,
    ...     num_repeats=2,
    ...     num_latents=4,
    ...     latent_dim=16,
    ...     attention_dim=32,
    ...     nhead=4,
    ...     d_ffn=64,
    ...     latent_d_ffn=32,
    ...     num_global_latents=4,
    ...     global_dim=32,
    ...     global_d_ffn=64,
    ... )
    >>> decoder = Decoder(
    ...     in_channels=32, out_channels=1, kernel_size=16, stride=8, bias=False
    ... )
    >>> mix = torch.randn(2, 8000)
    >>> h = encoder(mix)
    >>> masks = masknet(h)
    >>> masks.shape
    torch.Size([2, 2, 32, 999])
    >>> sources = torch.stack([decoder(h * m) for m in masks], -1)
    >>> sources.shape
    torch.Size([2, 8000, 2])
    """

    linear_in_length = True  # time and memory O(L)

    def __init__(
        self,
        in_channels: int,
        byte_channels: int = 128,
        num_spks: int = 2,
        chunk_size: int = 150,
        num_repeats: int = 16,
        num_latents: int = 16,
        latent_dim: int = 64,
        attention_dim: int = 160,
        nhead: int = 4,
        d_ffn: int = 1024,
        latent_d_ffn: int = 256,
        num_global_latents: int = 16,
        global_dim: int = 128,
        global_d_ffn: int = 512,
        long_pass: bool = True,
        tied_repeats: bool = False,
        dropout: float = 0.0,
        causal: bool = False,
        group_chunks: int | None = None,
    ):
        super().__init__()
        for name, width in (
            ("latent_dim", latent_dim),
            ("attention_dim", attention_dim),
            ("global_dim", global_dim),
        ):
            if width % nhead:
                raise ValueError(
                    f"{name}={width} is not a multiple of nhead={nhead}."
                )
        if num_repeats < 1:
            raise ValueError(f"num_repeats={num_repeats}: need at least 1.")
        self.in_channels = in_channels
        self.num_spks = num_spks
        self.chunk_size = chunk_size
        self.causal = causal
        self.group_chunks = group_chunks
        F_, Fb = in_channels, byte_channels

        # gLN over the whole sequence looks at the future: per frame if causal
        self.norm = (
            nn.LayerNorm(F_, eps=1e-8) if causal else nn.GroupNorm(1, F_, 1e-8)
        )
        self.bottleneck = nn.Conv1d(F_, Fb, 1, bias=False)
        # small initial values, so that what the first read sees dominates
        self.feature_embedding = nn.Parameter(  # E_f
            0.02 * torch.randn(Fb, chunk_size)
        )
        self.initial_latents = nn.Parameter(  # L0
            0.02 * torch.randn(num_latents, latent_dim)
        )
        self.initial_global = (  # G0, the persistent global latents
            nn.Parameter(0.02 * torch.randn(num_global_latents, global_dim))
            if long_pass and not causal
            else None
        )

        def repeat() -> LatentRepeat:
            return LatentRepeat(
                Fb,
                chunk_size,
                num_latents,
                latent_dim,
                attention_dim,
                nhead,
                d_ffn,
                latent_d_ffn,
                long_pass,
                global_dim,
                global_d_ffn,
                dropout,
                causal,
            )

        distinct = min(num_repeats, 2) if tied_repeats else num_repeats
        self.repeats = nn.ModuleList(repeat() for _ in range(distinct))
        self.num_repeats = num_repeats
        self.final_norm = nn.LayerNorm(Fb, eps=LN_EPS)

        # Dual_Path_Model's head, channels-last
        self.head_act = nn.PReLU()
        self.head = nn.Linear(Fb, num_spks * Fb)  # rows [speaker, channel]
        self.gate_tanh = nn.Linear(Fb, Fb)
        self.gate_sigmoid = nn.Linear(Fb, Fb)
        self.out = nn.Linear(Fb, F_, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """Estimates the masks from the encoder output x [B, F, L].

        Returns
        -------
        torch.Tensor
            Masks [num_spks, B, F, L], nonnegative.
        """
        check_frames(x, self.in_channels)
        B, _, L = x.shape
        K = self.chunk_size
        S = max(1, -(-L // K))
        if self.causal:
            h = self.norm(x.mT).mT
        else:
            h = self.norm(x)
        h = F.pad(self.bottleneck(h), (0, S * K - L))  # [B, F', S*K]
        Fb = h.shape[1]
        # [B, F', S, K] -> byte tokens [B*S, F', K]
        bytes_ = h.view(B, Fb, S, K).transpose(1, 2).reshape(B * S, Fb, K)
        bytes_ = bytes_ + self.feature_embedding
        # copies, not expanded views: a view of a parameter made under
        # no_grad trips autograd hooks (e.g. FlopCounterMode's module tracker)
        latents = self.initial_latents.repeat(B * S, 1, 1)
        glob = None
        if self.initial_global is not None:
            glob = self.initial_global.repeat(B, 1, 1)
        if torch.is_grad_enabled():
            for block in self._blocks():
                bytes_, latents, glob = block(bytes_, latents, glob, B)
            masks = self._head(bytes_.mT)
        else:
            masks = self._forward_grouped(bytes_, latents, glob, B)
        # [B*S, K, spks, F] -> [B, S*K, spks, F] -> [spks, B, F, L]
        masks = masks.view(B, S * K, self.num_spks, -1)[:, :L]
        return masks.permute(2, 0, 3, 1)

    def _forward_grouped(
        self, bytes_: Tensor, latents: Tensor, glob: Tensor | None, B: int
    ) -> Tensor:
        """Inference: chunk-local steps group by group, in place; masks
        [B*S, K, spks, F].
        """
        G = self.group_chunks or inference_chunk_group(bytes_.device)
        groups = [slice(s, s + G) for s in range(0, len(bytes_), G)]
        masks = bytes_.new_empty(
            len(bytes_), self.chunk_size, self.num_spks, self.in_channels
        )
        blocks = self._blocks()
        for g in groups:
            latents[g] = blocks[0].short_pass(bytes_[g], latents[g])
        for block, following in zip(blocks, [*blocks[1:], None]):
            latents, glob = block.long_range(latents, glob, B)
            for g in groups:
                bytes_[g] = block.decode(bytes_[g], latents[g])
                # while the group's bytes are in cache: the next repeat's
                # short pass, or the head after the last repeat
                if following is not None:
                    latents[g] = following.short_pass(bytes_[g], latents[g])
                else:
                    masks[g] = self._head(bytes_[g].mT)
        return masks

    def _blocks(self) -> list[LatentRepeat]:
        """The R repeats in order (with tied repeats, 2..R are one)."""
        last = len(self.repeats) - 1
        return [self.repeats[min(r, last)] for r in range(self.num_repeats)]

    def _head(self, h: Tensor) -> Tensor:
        """Frames [..., F'] -> masks [..., spks, F], channels-last."""
        h = self.head(self.head_act(self.final_norm(h)))
        h = h.unflatten(-1, (self.num_spks, -1))  # [..., spks, F']
        h = torch.tanh(self.gate_tanh(h)) * torch.sigmoid(self.gate_sigmoid(h))
        return F.relu(self.out(h))
