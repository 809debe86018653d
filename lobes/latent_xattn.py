"""LatentSepFormer: a learned latent cross-attends to the chunked encoder
output, replacing SepFormer's intra/inter Transformers.

Source: the note "SepFormer modified with Persistence"
(``seeds/latent-cross-attention-notes.txt``). Names below: encoder channels
F, byte channels F', frames L, chunk length K, chunks S, latent per chunk
[a, b], persistent global latents [m, d_g], attention width d.

What follows the note as written:

1. The byte array is the chunked encoder output h' [F', K, S] (the note's
   B_{A x B x C}); the short pass views it as tokens (feature, chunk) with
   the within-chunk time as embedding (B_{(A x C) x B}), exactly the
   note's permutation, so each feature's K-frame trajectory is one token
   and the key/value weights map K -> d (the note's W_{B x b}).
2. A learned latent L_{a x b x c} queries it: a latent tokens of size b
   per chunk with b < K (the note's "Idea 1: make the latent a smaller
   chunk size than the byte chunk"), softmax(Q K^T / sqrt(d)) V with
   queries from the latent (the note's W_{b x b}): "Short Cross
   Attention".
3. "Short Latent Transformation": self-attention among the a latents of a
   chunk, then "Long Cross Attention" across chunks and "Long Latent
   Transformation", in this order, the whole repeated R times ("repeat
   N-times" of the SepFormer block); the latent state persists across the
   repeats (the "Persistence" of the title).
4. Decoder: masks M, M * h, transposed convolution (the encoder/decoder of
   `speechbrain.lobes.models.dual_path`, outside this module).

What was changed, and why:

5. Short pass restricted to the chunk. Written literally, Q_{(a x c) x b}
   K^T_{b x (A x C)} lets every latent of every chunk attend to every
   feature of every chunk: O(S^2) and not causal. The note calls it the
   short (intra) pass, so latents of chunk s attend to the features of
   chunk s only (a batch of B*S small attentions).
6. Long pass over chunk tokens, not with the chunk axis as embedding. The
   note's long pass permutes to [(a x b) x c] and applies W_{c x c}: a
   weight on the chunk axis, whose size S grows with the input, cannot
   exist (Linformer's fixed-length limit). Instead each chunk's latent,
   flattened to [a*b], is one token of a sequence of S tokens, and the
   long pass reads these tokens instead of the bytes (they already
   summarise their chunk; reading the bytes again would cost a second
   K -> d projection of the whole input).
7. Persistent global latents (Perceiver / Set Transformer ISAB / Luna
   "pack and unpack"): m learned latents G [m, d_g] cross-attend to the
   chunk tokens (long cross-attention, "pack"), self-attend (long latent
   transformation), and the chunk tokens cross-attend back to them
   ("unpack"). Cost O(S m) instead of O(S^2); G is carried across repeats
   like the chunk latents. No position code on the chunk axis: the global
   latents summarise the set of chunks (speaker identities, the cue for a
   consistent speaker order across chunks), and a position code (the
   reference design adds one) would be out of range on inputs longer than
   the training crops.
8. Full-resolution masks. One small latent cannot carry a mask of F x L
   values, so the latent lives per chunk (item 2) and the masks are
   decoded Perceiver-IO style: in every repeat, the byte tokens (queries,
   K -> d) cross-attend to their chunk's latents (d -> K back onto the
   bytes, residual), then a feed-forward network mixes the F' channels of
   each frame (the feature-as-token view never mixes channels within a
   frame; SepFormer's position-wise FFN does). The next repeat reads the
   updated bytes. A learned feature-identity embedding E_f [F', K] is
   added to the bytes once, since attention over feature tokens is
   otherwise blind to which feature is which.
9. Attention width d (default 160, 4 heads) instead of the note's b:
   queries b -> d, keys/values K -> d, output d -> b, and back onto the
   bytes d -> K. With d >= K the byte update can take any time course
   within the chunk; with the note's width b < K it would be confined to
   a b-dimensional subspace.
10. Pre-norm residual blocks (LayerNorm before every attention and FFN,
    a residual around each), the usual way to train deep stacks (R = 16
    by default); the note does not specify normalisation.
11. Input and output as `Dual_Path_Model`: norm, 1x1 conv F -> F',
    non-overlapping chunks (as RE-SepFormer: half the cost of SepFormer's
    50 % overlap), and its head (PReLU, 1x1 conv to F' per speaker,
    tanh * sigmoid gate, 1x1 conv F' -> F, ReLU).
12. Causal variant (not in the note): per-frame LayerNorm instead of the
    global norm, and the long pass becomes causal attention among the
    chunk tokens (chunk s reads chunks 0..s; no global latents). A causal
    pack needs for every chunk s its own summary of chunks 0..s: with
    queries from the carried global latents that is O(S^2) attention of
    m queries each, and a linear prefix softmax (a cumulative scan with
    fixed queries) is no fused attention kernel, so it would be a second
    attention beside `lobes.attention`. Causal attention over the chunk
    tokens is exact, runs in those kernels and costs O(S^2 d_g) with a
    small constant (see the class). Everything inside a chunk still mixes,
    hence a look-ahead of up to one chunk.

Authors
 * sepformer-lobes contributors 2026
"""

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
    """Multi-head attention from queries of one width to a context of another.

    Queries ``query_dim -> dim``, keys/values ``context_dim -> dim``,
    output ``dim -> query_dim``: the note's W_{b x b} / W_{B x b} maps,
    without first projecting both sides to a common width (which
    `lobes.attention.MultiHeadAttention` needs, and which would cost a
    second projection of every byte token). Attention runs through
    `lobes.attention.attend`.

    Arguments
    ---------
    query_dim : int
        Width of the query tokens (and of the output).
    context_dim : int
        Width of the context tokens.
    dim : int
        Attention width (a multiple of ``nhead``).
    nhead : int
        Attention heads.
    dropout : float
        Dropout on the attention weights while training.
    backend : str
        Backend of `lobes.attention.attend`.

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
        backend: str = "auto",
    ):
        super().__init__()
        if dim % nhead:
            raise ValueError(f"dim={dim} is not a multiple of nhead={nhead}.")
        self.nhead = nhead
        self.dropout = dropout
        self.backend = backend
        self.to_q = nn.Linear(query_dim, dim)
        self.to_kv = nn.Linear(context_dim, 2 * dim)
        self.to_out = nn.Linear(dim, query_dim)

    def forward(
        self, x: Tensor, context: Tensor, causal: bool = False
    ) -> Tensor:
        """Attends from x to context.

        Arguments
        ---------
        x : torch.Tensor
            Queries [batch, length, query_dim].
        context : torch.Tensor
            Keys/values source [batch, context_length, context_dim].
        causal : bool
            Query i sees context positions <= i (same lengths).

        Returns
        -------
        torch.Tensor
            [batch, length, query_dim]
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
        out = attend(q, k, v, causal, dropout, self.backend)
        # [B, H, T, dim/H] -> [B, T, dim]
        return self.to_out(out.transpose(1, 2).reshape(B, T, -1))


class CrossAttentionLayer(nn.Module):
    """x + CrossAttention(LN(x), LN(context)): a pre-norm read.

    Arguments
    ---------
    query_dim : int
        Width of x.
    context_dim : int
        Width of the context.
    dim : int
        Attention width.
    nhead : int
        Attention heads.
    dropout : float
        Dropout on attention weights and on the residual branch.
    backend : str
        Backend of `lobes.attention.attend`.

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
        backend: str = "auto",
    ):
        super().__init__()
        self.norm = nn.LayerNorm(query_dim, eps=LN_EPS)
        self.context_norm = nn.LayerNorm(context_dim, eps=LN_EPS)
        self.attn = CrossAttention(
            query_dim, context_dim, dim, nhead, dropout, backend
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        """Updates x [batch, length, query_dim] from context.

        Arguments
        ---------
        x : torch.Tensor
            [batch, length, query_dim]
        context : torch.Tensor
            [batch, context_length, context_dim]

        Returns
        -------
        torch.Tensor
            [batch, length, query_dim]
        """
        update = self.attn(self.norm(x), self.context_norm(context))
        return x + self.dropout(update)


class ResidualFeedForward(nn.Module):
    """x + FFN(LN(x)), position-wise on the last axis.

    Arguments
    ---------
    dim : int
        Width of x.
    d_ffn : int
        Hidden width.
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
    """Long pass through m persistent latents: pack, transform, unpack.

    G += CrossAttention(LN(G), LN(U)) (pack: the global latents read every
    chunk token), G = TransformerLayer(G) (long latent transformation),
    U += CrossAttention(LN(U), LN(G)) (unpack: every chunk token reads the
    global latents). Time O(S m d_g + m^2 d_g) for S chunk tokens; looks at
    every chunk, so non-causal only.

    Arguments
    ---------
    token_dim : int
        Width of a chunk token (a * b).
    dim : int
        Width d_g of the global latents (and of both attentions).
    nhead : int
        Attention heads.
    d_ffn : int
        Hidden width of the latent transformation's FFN.
    dropout : float
        Dropout rate.
    backend : str
        Backend of `lobes.attention.attend`.

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
        backend: str = "auto",
    ):
        super().__init__()
        self.pack = CrossAttentionLayer(
            dim, token_dim, dim, nhead, dropout, backend
        )
        self.transform = TransformerLayer(dim, nhead, d_ffn, dropout, backend)
        self.unpack = CrossAttentionLayer(
            token_dim, dim, dim, nhead, dropout, backend
        )

    def forward(self, tokens: Tensor, latents: Tensor) -> tuple[Tensor, Tensor]:
        """Exchanges information between all chunk tokens of a sequence.

        Arguments
        ---------
        tokens : torch.Tensor
            Chunk tokens U [batch, S, token_dim].
        latents : torch.Tensor
            Global latents G [batch, m, dim].

        Returns
        -------
        tokens : torch.Tensor
            Updated U [batch, S, token_dim].
        latents : torch.Tensor
            Updated G [batch, m, dim].
        """
        latents = self.transform(self.pack(latents, tokens))
        return self.unpack(tokens, latents), latents


class CausalChunkAttention(nn.Module):
    """Causal long pass: U += CausalAttention(LN(U)) over chunk tokens.

    Chunk token s reads chunk tokens 0..s through causal attention of
    width d_g. Time O(S^2 d_g) for S chunks (fused attention: memory
    O(S d_g)).

    Arguments
    ---------
    token_dim : int
        Width of a chunk token (a * b).
    dim : int
        Attention width d_g.
    nhead : int
        Attention heads.
    dropout : float
        Dropout rate.
    backend : str
        Backend of `lobes.attention.attend`.

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
        backend: str = "auto",
    ):
        super().__init__()
        self.norm = nn.LayerNorm(token_dim, eps=LN_EPS)
        self.attn = CrossAttention(
            token_dim, token_dim, dim, nhead, dropout, backend
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: Tensor) -> Tensor:
        """Returns the updated chunk tokens [batch, S, token_dim]."""
        normed = self.norm(tokens)
        return tokens + self.dropout(self.attn(normed, normed, causal=True))


class LatentRepeat(nn.Module):
    """One repeat: short pass, long pass, byte update.

    S1 latents += read(bytes) and FFN; S2 self-attention among the a
    latents of each chunk; L the long pass over chunk tokens
    (`GlobalLatents`, or `CausalChunkAttention` when causal; none when
    ``long_pass`` is False); D bytes += read(latents) (Perceiver-IO
    decode), then a channel-mixing FFN over the F' features of each frame.

    Arguments
    ---------
    byte_channels : int
        Byte features F' (tokens of the short pass).
    chunk_size : int
        Chunk length K (embedding width of a byte token).
    num_latents : int
        Latent tokens per chunk a.
    latent_dim : int
        Width b of a latent token.
    attention_dim : int
        Width d of the byte <-> latent attentions.
    nhead : int
        Attention heads (of every attention).
    d_ffn : int
        Hidden width of the channel-mixing FFN.
    latent_d_ffn : int
        Hidden width of the latent FFNs.
    long_pass : bool
        Whether chunks exchange information (the global path).
    global_dim : int
        Width d_g of the long pass.
    global_d_ffn : int
        Hidden width of the global latents' FFN.
    dropout : float
        Dropout rate.
    causal : bool
        Causal long pass.
    backend : str
        Backend of `lobes.attention.attend`.

    Example
    -------
    >>> block = LatentRepeat(byte_channels=8, chunk_size=10, num_latents=4,
    ...     latent_dim=8, attention_dim=16, nhead=2, d_ffn=32,
    ...     latent_d_ffn=16, long_pass=True, global_dim=16, global_d_ffn=32)
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
        backend: str = "auto",
    ):
        super().__init__()
        K, b, d = chunk_size, latent_dim, attention_dim
        self.read = CrossAttentionLayer(b, K, d, nhead, dropout, backend)
        self.read_ffn = ResidualFeedForward(b, latent_d_ffn, dropout)
        self.short = TransformerLayer(b, nhead, latent_d_ffn, dropout, backend)
        token_dim = num_latents * latent_dim
        if not long_pass:
            self.long = None
        elif causal:
            self.long = CausalChunkAttention(
                token_dim, global_dim, nhead, dropout, backend
            )
        else:
            self.long = GlobalLatents(
                token_dim, global_dim, nhead, global_d_ffn, dropout, backend
            )
        self.write = CrossAttentionLayer(K, b, d, nhead, dropout, backend)
        self.byte_ffn = ResidualFeedForward(byte_channels, d_ffn, dropout)

    def forward(
        self,
        bytes_: Tensor,
        latents: Tensor,
        glob: Tensor | None,
        batch_size: int,
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """Runs one repeat over all chunks of a batch at once.

        Arguments
        ---------
        bytes_ : torch.Tensor
            Byte tokens [B*S, F', K].
        latents : torch.Tensor
            Chunk latents [B*S, a, b].
        glob : torch.Tensor or None
            Global latents [B, m, d_g] (non-causal long pass only).
        batch_size : int
            B.

        Returns
        -------
        bytes_, latents, glob
            Updated, same shapes.
        """
        latents = self.short_pass(bytes_, latents)
        latents, glob = self.long_range(latents, glob, batch_size)
        return self.decode(bytes_, latents), latents, glob

    def short_pass(self, bytes_: Tensor, latents: Tensor) -> Tensor:
        """S1, S2: the latents of each chunk read its bytes, then mix.

        Chunk-local: any subset of chunks can go through on its own.

        Arguments
        ---------
        bytes_ : torch.Tensor
            Byte tokens [chunks, F', K].
        latents : torch.Tensor
            Chunk latents [chunks, a, b].

        Returns
        -------
        torch.Tensor
            Updated chunk latents [chunks, a, b].
        """
        return self.short(self.read_ffn(self.read(latents, bytes_)))

    def long_range(
        self, latents: Tensor, glob: Tensor | None, batch_size: int
    ) -> tuple[Tensor, Tensor | None]:
        """L: the chunk latents of each sequence exchange information.

        Arguments
        ---------
        latents : torch.Tensor
            Chunk latents [B*S, a, b].
        glob : torch.Tensor or None
            Global latents [B, m, d_g] (non-causal long pass only).
        batch_size : int
            B.

        Returns
        -------
        latents, glob
            Updated, same shapes.
        """
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
        """D: the bytes read their chunk's latents, then mix channels.

        Chunk-local: any subset of chunks can go through on its own.

        Arguments
        ---------
        bytes_ : torch.Tensor
            Byte tokens [chunks, F', K].
        latents : torch.Tensor
            Chunk latents [chunks, a, b].

        Returns
        -------
        torch.Tensor
            Updated byte tokens [chunks, F', K].
        """
        bytes_ = self.write(bytes_, latents)
        # channel mixing per frame: [chunks, F', K] -> [chunks, K, F'] and back
        return self.byte_ffn(bytes_.mT).mT


class LatentSepFormer(nn.Module):
    """Latent cross-attention masknet (see the module docstring).

    Encoder output x [B, F, L] -> norm, 1x1 conv -> bytes [B, F', L] ->
    zero-padded to S = ceil(L / K) non-overlapping chunks -> byte tokens
    [B*S, F', K] (+ feature embedding E_f [F', K]); chunk latents
    [B*S, a, b] start from a learned L0 [a, b], global latents [B, m, d_g]
    from a learned G0 [m, d_g]; R repeats of `LatentRepeat`; per-frame
    LayerNorm, then `Dual_Path_Model`'s head: masks [num_spks, B, F, L].

    Complexity for L frames (S = L / K chunks), per repeat: time
    O(L F' (d + d_ffn)) for the byte projections and the channel FFN,
    O(S a (F' d + b^2 + b d_ffn_latent)) in the chunk latents,
    O(S (a b + m) d_g + m^2 d_g) in the long pass: linear in L. Memory
    O(L (F' + F spks)) for the bytes and the masks; under
    ``torch.no_grad()`` the short pass, the byte update and the head run
    ``group_chunks`` chunks at a time, in place, so working memory beyond
    that is O(group_chunks K d_ffn) instead of O(L d_ffn), and stays in
    cache.
    Causal: the long pass adds O(S^2 d_g) time (memory stays O(S d_g),
    fused attention); with the defaults (K = 150, d_g = 128, R = 16) that
    term, counted as full attention, is 0.2 % of the MACs on 64 s of audio
    and 11 % on one hour (half that in the causal kernel, which skips
    masked blocks).

    Causal (``causal=True``): per-frame LayerNorm instead of the global
    norm, and causal attention over chunk tokens in the long pass. Within a
    chunk everything mixes (the K -> d maps see the whole chunk), so a
    frame depends on the past and on the rest of its own chunk: the
    algorithmic latency is K - 1 frames of look-ahead, 149 frames for
    K = 150; with the encoder of kernel 16 and stride 8, an output sample
    waits for (K - 1) * 8 + 16 - 1 = 1207 input samples, 150.9 ms at 8 kHz
    (the same as RE-SepFormer's with its C = 150).

    The chunk length is part of the weights (byte tokens embed the K frames
    of their chunk), so a trained model keeps its ``chunk_size``.

    Arguments
    ---------
    in_channels : int
        Encoder channels F.
    byte_channels : int
        Channels F' of the byte array (1x1 conv F -> F').
    num_spks : int
        Number of speakers (masks).
    chunk_size : int
        Chunk length K in frames.
    num_repeats : int
        Repeats R.
    num_latents : int
        Latent tokens per chunk a.
    latent_dim : int
        Width b of a latent token (the note's latent chunk, b < K).
    attention_dim : int
        Width d of the byte <-> latent attentions.
    nhead : int
        Heads of every attention (divides latent_dim, attention_dim and
        global_dim).
    d_ffn : int
        Hidden width of the channel-mixing FFN of the bytes.
    latent_d_ffn : int
        Hidden width of the chunk latents' FFNs.
    num_global_latents : int
        Persistent global latents m (non-causal long pass).
    global_dim : int
        Width d_g of the global latents / of the causal long pass.
    global_d_ffn : int
        Hidden width of the global latents' FFN.
    long_pass : bool
        Global path on (chunks exchange information) or off (ablation:
        every chunk is separated on its own).
    tied_repeats : bool
        Repeats 2..R share their weights (as in Perceiver).
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
    >>> encoder = Encoder(kernel_size=16, out_channels=32)
    >>> masknet = LatentSepFormer(32, byte_channels=16, chunk_size=50,
    ...     num_repeats=2, num_latents=4, latent_dim=16, attention_dim=32,
    ...     nhead=4, d_ffn=64, latent_d_ffn=32, num_global_latents=4,
    ...     global_dim=32, global_d_ffn=64)
    >>> decoder = Decoder(in_channels=32, out_channels=1, kernel_size=16,
    ...     stride=8, bias=False)
    >>> mix = torch.randn(2, 8000)
    >>> h = encoder(mix)
    >>> masks = masknet(h)
    >>> masks.shape
    torch.Size([2, 2, 32, 999])
    >>> sources = torch.stack([decoder(h * m) for m in masks], -1)
    >>> sources.shape
    torch.Size([2, 8000, 2])
    """

    linear_in_length = True  # time and memory O(L): see Complexity

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
        backend: str = "auto",
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
        # small initial values: the first read (queries LN(L0), LN(G0))
        # does not depend on their scale, and what it reads then dominates
        # the latents' residual stream instead of a constant shared by all
        # chunks
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
                backend,
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
        """Estimates the masks.

        Arguments
        ---------
        x : torch.Tensor
            Encoder output [B, F, L].

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
        """Inference: the chunk-local steps over groups of ``group_chunks``
        chunks, updating bytes and latents in place, so that beyond the
        bytes and the masks working memory does not grow with the length.

        Returns the masks [B*S, K, spks, F].
        """
        G = self.group_chunks or inference_chunk_group(bytes_.device)
        groups = [slice(s, s + G) for s in range(0, len(bytes_), G)]
        masks = bytes_.new_empty(
            len(bytes_), self.chunk_size, self.num_spks, self.in_channels
        )
        blocks = self._blocks()
        for g in groups:
            latents[g] = blocks[0].short_pass(bytes_[g], latents[g])
        for block, following in zip(blocks, [*blocks[1:], None], strict=True):
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
