"""Upstream SpeechBrain RE-SepFormer weights as `RESepFormer`'s.

Converts the masknet of SpeechBrain's
``speechbrain.lobes.models.resepformer.ResourceEfficientSeparator`` into
the arguments and state_dict of
`lobes.resepformer.RESepFormer`. Supported: the
published recipe's configuration, ``SBTransformerBlock_wnormandskip``
seg/mem models (positional encoding, norm_before, norm, skip, relu),
``mem_type="av"``, two blocks, ReLU masks, gLN (non-causal) or per-frame
norms (causal). The converted model's masks agree with upstream's within
1e-4 (batch 1). `from_upstream` and `from_upstream_state_dict` build the
`RESepFormer` in one call.

Authors
 * sepformer-lobes contributors 2026
"""

from __future__ import annotations

import torch.nn as nn
from speechbrain.lobes.models.dual_path import (
    CumulativeLayerNorm,
    GlobalLayerNorm,
)
from speechbrain.lobes.models.resepformer import (
    ResourceEfficientSeparator,
    SBTransformerBlock_wnormandskip,
)
from torch import Tensor

from lobes.resepformer import RESepFormer

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
        See `from_upstream`.

    Returns
    -------
    dict
        Keyword arguments of `RESepFormer` (plain values, e.g. to write a
        hyperparameter file).

    Example
    -------
    >>> def block(d_ffn):
    ...     return SBTransformerBlock_wnormandskip(
    ...         1,
    ...         32,
    ...         4,
    ...         d_ffn,
    ...         dropout=0,
    ...         use_positional_encoding=True,
    ...         norm_before=True,
    ...     )
    >>> upstream = ResourceEfficientSeparator(
    ...     32,
    ...     causal=False,
    ...     segment_size=10,
    ...     layer=2,
    ...     mem_type="av",
    ...     seg_model=block(64),
    ...     mem_model=block(48),
    ... )
    >>> config = upstream_module_config(upstream)
    >>> config["chunk_size"], config["nhead"], config["memory_d_ffn"]
    (10, 4, 48)
    >>> state_dict = convert_upstream_state_dict(upstream.state_dict())
    >>> state_dict["head.weight"].shape
    torch.Size([64, 32])
    """
    _check_upstream(upstream)
    layer = upstream.model.seg_model[0].mdl.layers[0]
    config = upstream_config(
        upstream.state_dict(),
        nhead=layer.self_att.att.num_heads,
        chunk_size=upstream.segment_size,
    )
    return {**config, "dropout": float(layer.dropout1.p)}


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
        elif not isinstance(b.norm, (GlobalLayerNorm, CumulativeLayerNorm)):
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


def from_upstream(
    upstream: ResourceEfficientSeparator, **kwargs
) -> RESepFormer:
    """Builds the RE-SepFormer that computes what ``upstream`` computes.

    Arguments
    ---------
    upstream : ResourceEfficientSeparator
        SpeechBrain's separator, in the configuration of the published
        recipe (see the module docstring).
    **kwargs
        Extra `RESepFormer` arguments (group_chunks).

    Returns
    -------
    RESepFormer
        With upstream's weights, in upstream's train/eval mode.

    Example
    -------
    >>> import torch
    >>> def block():
    ...     return SBTransformerBlock_wnormandskip(
    ...         1,
    ...         32,
    ...         4,
    ...         64,
    ...         dropout=0,
    ...         use_positional_encoding=True,
    ...         norm_before=True,
    ...     )
    >>> upstream = ResourceEfficientSeparator(
    ...     32,
    ...     causal=False,
    ...     segment_size=10,
    ...     layer=2,
    ...     mem_type="av",
    ...     seg_model=block(),
    ...     mem_model=block(),
    ... ).eval()
    >>> ours = from_upstream(upstream)
    >>> h = torch.rand(1, 32, 45)
    >>> torch.allclose(ours(h), upstream(h), atol=1e-5)
    True
    """
    model = RESepFormer(**upstream_module_config(upstream), **kwargs)
    model.load_state_dict(convert_upstream_state_dict(upstream.state_dict()))
    return model.train(upstream.training)


def from_upstream_state_dict(
    state_dict: dict[str, Tensor],
    nhead: int = 8,
    chunk_size: int = 150,
    **kwargs,
) -> RESepFormer:
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
        Extra `RESepFormer` arguments (dropout, group_chunks).

    Returns
    -------
    RESepFormer
        Holding the converted weights.
    """
    config = upstream_config(state_dict, nhead, chunk_size)
    model = RESepFormer(**config, **kwargs)
    model.load_state_dict(convert_upstream_state_dict(state_dict))
    return model
