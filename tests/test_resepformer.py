"""Tests of lobes.resepformer: agreement with
SpeechBrain's ResourceEfficientSeparator, streaming, causality, the two
inference paths, and the MAC count."""

import pytest
import torch
from speechbrain.lobes.models.resepformer import (
    ResourceEfficientSeparator,
    SBTransformerBlock_wnormandskip,
)
from speechbrain.lobes.models.transformer.Transformer import (
    PositionalEncoding,
)

from lobes.attention import count_macs
from lobes.resepformer import RESepFormer, sinusoidal_positions
from lobes.resepformer_upstream import (
    convert_upstream_state_dict,
    from_upstream,
    from_upstream_state_dict,
    upstream_config,
)

DIM, CHUNK = 32, 10


def upstream_separator(causal, seg_layers=2, mem_layers=2, mem_ffn=48):
    """A tiny upstream RE-SepFormer as the published recipe builds it, with
    norm parameters moved away from identity so a wrong mapping shows."""

    def block(layers, d_ffn):
        return SBTransformerBlock_wnormandskip(
            layers,
            DIM,
            4,
            d_ffn,
            dropout=0,
            use_positional_encoding=True,
            norm_before=True,
            causal=causal,
            norm_type="cln" if causal else "gln",
        )

    upstream = ResourceEfficientSeparator(
        DIM,
        causal=causal,
        num_spk=2,
        segment_size=CHUNK,
        layer=2,
        mem_type="av",
        seg_model=block(seg_layers, 64),
        mem_model=block(mem_layers, mem_ffn),
    ).eval()
    with torch.no_grad():
        for name, p in upstream.named_parameters():
            if "norm" in name or "output_fc" in name:
                p.add_(0.3 * torch.randn_like(p))
    return upstream


@pytest.fixture(scope="module", params=[False, True], ids=["offline", "causal"])
def pair(request):
    torch.manual_seed(0)
    upstream = upstream_separator(request.param)
    ours = from_upstream(upstream, group_chunks=2)
    return upstream, ours


# shorter than a chunk, one chunk, multiples, ragged, several groups
LENGTHS = [1, 7, CHUNK, 2 * CHUNK, 3 * CHUNK + 7, 6 * CHUNK + 3]


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("grad", [False, True], ids=["grouped", "whole"])
def test_matches_upstream(pair, length, grad):
    upstream, ours = pair
    torch.manual_seed(length)
    x = torch.randn(1, DIM, length)
    with torch.no_grad():
        expected = upstream(x)
    with torch.set_grad_enabled(grad):
        masks = ours(x)
    assert masks.shape == (2, 1, DIM, length)
    torch.testing.assert_close(masks, expected, atol=1e-4, rtol=0)


def test_batch_items_are_independent(pair):
    """Upstream runs its memory over batch x chunks as one sequence, so
    compare each item with upstream on that item alone."""
    upstream, ours = pair
    x = torch.randn(3, DIM, 4 * CHUNK + 5)
    with torch.no_grad():
        expected = torch.cat([upstream(item[None]) for item in x], 1)
        torch.testing.assert_close(ours(x), expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(ours(x), expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("group_chunks", [1, 3, 100])
def test_grouped_inference_equals_whole_pass(pair, group_chunks):
    _, ours = pair
    ours.group_chunks = group_chunks
    x = torch.randn(2, DIM, 5 * CHUNK)  # chunk_size divides L: a pad chunk
    whole = ours(x)
    with torch.no_grad():
        grouped = ours(x)
    ours.group_chunks = 2
    torch.testing.assert_close(grouped, whole, atol=1e-5, rtol=0)


def test_from_state_dict_alone(pair):
    upstream, ours = pair
    rebuilt = from_upstream_state_dict(
        upstream.state_dict(), nhead=4, chunk_size=CHUNK
    )
    assert rebuilt.causal == ours.causal
    x = torch.randn(1, DIM, 33)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), ours(x))


def test_config_read_from_weights():
    upstream = upstream_separator(True, seg_layers=3, mem_layers=1, mem_ffn=24)
    config = upstream_config(upstream.state_dict(), nhead=4, chunk_size=7)
    assert config == dict(
        in_channels=DIM,
        num_spks=2,
        chunk_size=7,
        intra_layers=3,
        memory_layers=1,
        nhead=4,
        intra_d_ffn=64,
        memory_d_ffn=24,
        causal=True,
    )
    converted = convert_upstream_state_dict(upstream.state_dict())
    assert converted.keys() == RESepFormer(**config).state_dict().keys()


def test_unsupported_upstream_is_refused():
    upstream = upstream_separator(False)
    upstream.model.mem_type = "hc"
    with pytest.raises(ValueError, match="mem_type='hc'"):
        from_upstream(upstream)
    upstream = upstream_separator(False)
    for block in upstream.model.seg_model:  # causal attention with gLN
        block.causal = True
    with pytest.raises(ValueError, match="differ in causality"):
        from_upstream(upstream)
    upstream.model.mem_model[0].causal = True
    with pytest.raises(ValueError, match="causal with gLN"):
        from_upstream(upstream)
    upstream = upstream_separator(False)
    upstream.model.mem_model[0].norm = torch.nn.GroupNorm(1, DIM)  # "ln"
    with pytest.raises(ValueError, match="GroupNorm norm"):
        from_upstream(upstream)
    with pytest.raises(ValueError, match="not a RE-SepFormer"):
        upstream_config({"model.output_fc.1.weight": torch.zeros(4, 2, 1)})


def test_bad_input_raises():
    model = RESepFormer(DIM, chunk_size=CHUNK, intra_layers=1, nhead=4)
    with pytest.raises(ValueError, match=r"\[batch, 32, frames\]"):
        model(torch.randn(1, 16, 40))
    with pytest.raises(ValueError, match="multiple of nhead"):
        RESepFormer(30, nhead=4)


def tiny(causal, **kwargs):
    torch.manual_seed(0)
    return RESepFormer(
        DIM,
        chunk_size=CHUNK,
        intra_layers=2,
        memory_layers=2,
        nhead=4,
        intra_d_ffn=64,
        memory_d_ffn=48,
        causal=causal,
        **kwargs,
    ).eval()


@pytest.mark.parametrize("length", [3, CHUNK, 4 * CHUNK, 7 * CHUNK + 4])
def test_streaming_equals_offline_causal(length):
    model = tiny(causal=True)
    x = torch.randn(2, DIM, length)
    state, masks = None, []
    for chunk in x.split(CHUNK, dim=-1):
        m, state = model.forward_chunk(chunk, state)
        masks.append(m)
    assert state.chunks == -(-length // CHUNK)
    assert len(state.caches[0]) == state.chunks
    with torch.no_grad():
        offline = model(x)
    torch.testing.assert_close(torch.cat(masks, -1), offline, atol=1e-4, rtol=0)


def test_streaming_misuse_raises():
    with pytest.raises(ValueError, match="needs a causal model"):
        tiny(causal=False).forward_chunk(torch.randn(1, DIM, CHUNK))
    model = tiny(causal=True)
    _, state = model.forward_chunk(torch.randn(1, DIM, 4))
    with pytest.raises(ValueError, match="after the last chunk"):
        model.forward_chunk(torch.randn(1, DIM, CHUNK), state)
    with pytest.raises(ValueError, match=f"exactly {CHUNK} frames"):
        model.forward_chunk(torch.randn(1, DIM, CHUNK + 1))


@pytest.mark.parametrize("causal", [False, True])
def test_latency_is_the_rest_of_the_chunk(causal):
    """Changing frame t changes no mask before t's chunk when causal; in
    the offline model it changes the masks of every chunk."""
    model = tiny(causal)
    x = torch.randn(1, DIM, 6 * CHUNK)
    t = 3 * CHUNK + 4
    y = x.clone()
    y[..., t] += torch.randn(DIM)  # not uniform: LayerNorm would erase it
    with torch.no_grad():
        change = (model(x) - model(y)).abs().amax(dim=(0, 1, 2))
    assert change[3 * CHUNK :].max() > 1e-3  # its own chunk and later
    past = change[: 3 * CHUNK].max()
    assert past == 0 if causal else past > 1e-3


def test_training_path_backpropagates():
    model = tiny(causal=False, dropout=0.1).train()
    x = torch.randn(2, DIM, 25, requires_grad=True)
    masks = model(x)
    assert masks.shape == (2, 2, DIM, 25) and (masks >= 0).all()
    masks.square().mean().backward()
    assert x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters())


def test_positions_equal_speechbrain():
    expected = PositionalEncoding(DIM, max_len=5000).pe[0]
    torch.testing.assert_close(
        sinusoidal_positions(0, 5000, DIM), expected, atol=0, rtol=0
    )
    torch.testing.assert_close(
        sinusoidal_positions(4000, 7, DIM), expected[4000:4007], atol=0, rtol=0
    )


def test_macs_equal_upstream_count():
    """Our MAC count is upstream's, op for op (its attention runs as bmm)."""
    torch.manual_seed(0)
    upstream = upstream_separator(False)
    ours = from_upstream(upstream)
    x = torch.randn(1, DIM, 57)
    assert count_macs(lambda: ours(x)) == count_macs(lambda: upstream(x))
