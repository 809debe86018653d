"""A causal masknet's stream state as a flat tuple of tensors, and one
streaming step as a module of tensors (`StreamStep`), for
`lobes.inference.onnx_stream`'s graph.

The lobes keep their stream states in Python objects; a thin adapter per
lobe (`state_adapter`) flattens them into named tensors and back, so that
the lobes' own ``forward_chunk`` runs inside the graph:

- `lobes.resepformer.RESepFormer` (`RESepFormerState`): per memory layer
  the keys and values of every past chunk summary, [1, heads, chunks,
  head_dim], the chunk axis dynamic; the chunk count that positions the
  sinusoidal codes is that axis's length (the graph takes it from the
  shape).
- `lobes.fsmn_flash.FlashFormer` (`FlashFormerState`): per layer the
  FSMN's past inputs, the shifted windows' last W / 2 inputs (fixed
  sizes), the global context the next window receives, [1, 1, dim], and
  the keys and values of the window summaries so far (dynamic). The lobe
  keeps the last summary and attends from it at the next window, a Python
  branch at the first one; here the same attention runs one window earlier
  and its output waits in the state (`PendingContext`), so that the first
  window is no special case.

The caches grow by one position a step, copied into the next state
(`ConcatCache`; the torch stream grows them in place): a step costs
O(steps so far) either way, in the attention over the cache.

Authors
 * sepformer-lobes contributors 2026
"""

from __future__ import annotations

import itertools

import torch
import torch.nn as nn
from torch import Tensor

from lobes.fsmn_flash import FlashFormer, FlashStreamState, LayerStreamState
from lobes.inference.streaming import decode_step
from lobes.model import EncoderMaskerDecoder
from lobes.resepformer import RESepFormer, StreamState


class ConcatCache:
    """A `lobes.attention.KVCache` for a graph: past keys and values
    given as tensors, the new ones concatenated (no storage grown in
    place), the result the next state.

    Arguments
    ---------
    k, v : torch.Tensor
        Past keys and values [batch, heads, length, head_dim].

    Example
    -------
    >>> cache = ConcatCache(torch.zeros(1, 2, 0, 4), torch.zeros(1, 2, 0, 4))
    >>> k, v = cache.append(torch.ones(1, 2, 1, 4), torch.ones(1, 2, 1, 4))
    >>> k.shape, len(cache)
    (torch.Size([1, 2, 1, 4]), 1)
    """

    def __init__(self, k: Tensor, v: Tensor):
        self.k, self.v = k, v

    def __len__(self) -> int:
        return self.k.shape[2]

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Appends k, v [batch, heads, n, head_dim]; returns all of them."""
        self.k = torch.cat([self.k, k], 2)
        self.v = torch.cat([self.v, v], 2)
        return self.k, self.v


class PendingContext(nn.Module):
    """FlashFormer's global path stepped one window ahead: `forward_chunk`
    returns the context that the lobe's
    `lobes.fsmn_flash.WindowSummaryAttention.forward_chunk` would compute at
    the next window (from this window's summary, over the cache), and takes
    the one computed at the previous window (zeros at the first).

    Arguments
    ---------
    path : WindowSummaryAttention
        The lobe's global path (its attention is used as it is).
    """

    def __init__(self, path: nn.Module):
        super().__init__()
        self.path = path

    def forward_chunk(
        self, x: Tensor, context: Tensor, cache: ConcatCache
    ) -> tuple[Tensor, Tensor]:
        """The context of window x [B, T, dim] (given) and of the next one.

        Arguments
        ---------
        x : torch.Tensor
            The window [B, T <= W, dim].
        context : torch.Tensor
            What it receives [B, 1, dim].
        cache : ConcatCache
            Keys and values of the summaries before x's, appended to.

        Returns
        -------
        context : torch.Tensor
            [B, T, dim]
        next_context : torch.Tensor
            [B, 1, dim]
        """
        summary = x.mean(1, keepdim=True)
        after = self.path.attn(summary, causal=True, cache=cache)
        return context.expand_as(x), after


class StateAdapter:
    """A masknet's stream state as named tensors: ``specs`` (name and
    shape at batch 1, None on the growing axis), `flatten` and `unflatten`.
    """

    specs: list[tuple[str, tuple[int | None, ...]]]

    def flatten(self, state: object) -> list[Tensor]:
        """The state's tensors in the order of ``specs``."""
        raise NotImplementedError

    def unflatten(self, tensors: tuple[Tensor, ...]) -> object:
        """The lobe's state object holding ``tensors``."""
        raise NotImplementedError

    def initial(self) -> list[Tensor]:
        """The state of a new stream: zeros, growing axes empty.

        Returns
        -------
        list of torch.Tensor
        """
        return [torch.zeros([n or 0 for n in shape]) for _, shape in self.specs]


def _cache_shape(attn: nn.Module, dim: int) -> tuple[int | None, ...]:
    """[1, heads, None, head_dim] of a `FusedMultiheadAttention`."""
    return (1, attn.nhead, None, dim // attn.nhead)


class RESepFormerState(StateAdapter):
    """`lobes.resepformer.StreamState` as tensors: ``memory<i>_keys``,
    ``memory<i>_values`` per memory layer; the chunk count is the chunk
    axis's length."""

    def __init__(self, masknet: RESepFormer):
        layers = masknet.memory.layers
        if not layers:
            raise ValueError(
                "a RESepFormer without memory layers has no cache to count "
                "its chunks: its stream does not export."
            )
        shape = _cache_shape(layers[0].attn, masknet.in_channels)
        self.specs = [
            (f"memory{i}_{kind}", shape)
            for i in range(len(layers))
            for kind in ("keys", "values")
        ]

    def flatten(self, state: StreamState) -> list[Tensor]:
        return [t for cache in state.caches for t in (cache.k, cache.v)]

    def unflatten(self, tensors: tuple[Tensor, ...]) -> StreamState:
        caches = [
            ConcatCache(k, v)
            for k, v in zip(tensors[0::2], tensors[1::2], strict=True)
        ]
        return StreamState(caches, chunks=tensors[0].shape[2])


class FlashFormerState(StateAdapter):
    """`lobes.fsmn_flash.FlashStreamState` as tensors, per layer i:
    ``layer<i>_fsmn<j>`` per FSMN convolution, ``layer<i>_window`` (shifted
    layers), ``layer<i>_context`` (`PendingContext`), ``layer<i>_keys``,
    ``layer<i>_values``. The masknet's global paths must be wrapped in
    `PendingContext` (`StreamStep` does)."""

    def __init__(self, masknet: FlashFormer):
        self.layers = masknet.layers
        D, W = masknet.in_channels, masknet.window_size
        self.specs = []
        for i, layer in enumerate(self.layers):
            convs = layer.fsmn.memory.convs
            self.specs += [
                (f"layer{i}_fsmn{j}", (1, c.padding[0], c.in_channels))
                for j, c in enumerate(convs)
            ]
            if layer.local_attention.shifted:
                self.specs.append((f"layer{i}_window", (1, W // 2, D)))
            shape = _cache_shape(layer.global_attention.attn, D)
            self.specs += [
                (f"layer{i}_context", (1, 1, D)),
                (f"layer{i}_keys", shape),
                (f"layer{i}_values", shape),
            ]

    def flatten(self, state: FlashStreamState) -> list[Tensor]:
        tensors = []
        for layer, s in zip(self.layers, state.layers, strict=True):
            tensors += s.fsmn[:-1]  # the gates waiting: none, causal
            if layer.local_attention.shifted:
                tensors.append(s.window)
            tensors += [s.summary, s.cache.k, s.cache.v]
        return tensors

    def unflatten(self, tensors: tuple[Tensor, ...]) -> FlashStreamState:
        it = iter(tensors)
        states = []
        for layer in self.layers:
            convs = layer.fsmn.memory.convs
            fsmn = list(itertools.islice(it, len(convs)))
            fsmn.append(fsmn[0].new_zeros(1, 0, convs[0].in_channels))
            window = next(it) if layer.local_attention.shifted else None
            context = next(it)
            cache = ConcatCache(next(it), next(it))
            states.append(LayerStreamState(fsmn, window, context, cache))
        return FlashStreamState(states)


def state_adapter(masknet: nn.Module) -> StateAdapter:
    """The `StateAdapter` of a causal masknet.

    Arguments
    ---------
    masknet : torch.nn.Module
        A causal `RESepFormer` or `FlashFormer`.

    Returns
    -------
    StateAdapter
    """
    if isinstance(masknet, RESepFormer) and masknet.causal:
        return RESepFormerState(masknet)
    if isinstance(masknet, FlashFormer) and masknet.causal:
        return FlashFormerState(masknet)
    raise ValueError(
        f"{type(masknet).__name__}(causal={getattr(masknet, 'causal', None)})"
        " has no streaming graph: only causal RESepFormer and FlashFormer "
        "models stream."
    )


class StreamStep(nn.Module):
    """One streaming step as a module of tensors: (samples, *state) ->
    (decoded, *next state) (`lobes.inference.streaming.decode_step`).

    Arguments
    ---------
    model : EncoderMaskerDecoder
        A causal model; used as it is, except that FlashFormer's global
        paths are wrapped in `PendingContext` (pass a copy).

    Example
    -------
    >>> from hparams import MODELS
    >>> sizes = MODELS["fsmn_flash"].tiny | {"causal": True}
    >>> step = StreamStep(MODELS["fsmn_flash"].build(sizes).eval())
    >>> out, *state = step(torch.randn(19 * 8 + 16), *step.adapter.initial())
    >>> out.shape, state[-1].shape  # [spks, samples], the last cache
    (torch.Size([2, 168]), torch.Size([1, 2, 1, 8]))
    """

    def __init__(self, model: EncoderMaskerDecoder):
        super().__init__()
        self.encoder = model.encoder
        self.masknet = model.masknet
        self.decoder = model.decoder
        self.adapter = state_adapter(self.masknet)
        if isinstance(self.masknet, FlashFormer):
            for layer in self.masknet.layers:
                layer.global_attention = PendingContext(layer.global_attention)

    def forward(self, samples: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        """Decoded [num_spks, samples] and the next state tensors."""
        out, after = decode_step(
            self.encoder,
            self.masknet,
            self.decoder,
            samples,
            self.adapter.unflatten(state),
        )
        return (out, *self.adapter.flatten(after))
