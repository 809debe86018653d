"""Tests of lobes.latent_xattn: the masknet
contract, gradients, causality and its latency, use of the latents and of
the long pass, and agreement of the cross-attention with torch's
reference."""

import pytest
import torch
import torch.nn as nn

from lobes.latent_xattn import CrossAttention, LatentSepFormer

DIM, CHUNK = 16, 10
LATENCY = CHUNK - 1  # documented look-ahead, frames


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    """Reproducible test input."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def tiny(causal=False, **kwargs) -> LatentSepFormer:
    torch.manual_seed(0)
    config = dict(
        byte_channels=8,
        chunk_size=CHUNK,
        num_repeats=2,
        num_latents=4,
        latent_dim=8,
        attention_dim=16,
        nhead=2,
        d_ffn=32,
        latent_d_ffn=16,
        num_global_latents=3,
        global_dim=16,
        global_d_ffn=32,
        causal=causal,
    )
    return LatentSepFormer(DIM, **{**config, **kwargs}).eval()


VARIANTS = {
    "offline": {},
    "causal": {"causal": True},
    "no-long-pass": {"long_pass": False},
    "tied": {"num_repeats": 3, "tied_repeats": True},
}


@pytest.fixture(params=VARIANTS.values(), ids=VARIANTS.keys())
def variant(request):
    return request.param


# shorter than a chunk, one chunk, multiples, ragged
LENGTHS = [1, 3, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 7, 57]


@pytest.mark.parametrize("length", LENGTHS)
def test_masknet_contract(variant, length):
    model = tiny(**variant)
    x = randn(2, DIM, length)
    with torch.no_grad():
        masks = model(x)
    assert masks.shape == (2, 2, DIM, length)
    assert torch.isfinite(masks).all() and (masks >= 0).all()
    assert masks.amax() > 0  # ReLU did not kill everything


def test_batch_items_are_independent(variant):
    model = tiny(**variant)
    x = randn(3, DIM, 4 * CHUNK + 3)
    with torch.no_grad():
        expected = torch.cat([model(item[None]) for item in x], 1)
        torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("group_chunks", [1, 3, 100])
def test_grouped_inference_equals_whole_pass(variant, group_chunks):
    """Under no_grad the chunk-local steps run group by group, in place
    (and the next repeat's short pass runs inside the byte-update loop):
    the masks are those of the whole-tensor pass autograd sees."""
    model = tiny(**variant, group_chunks=group_chunks)
    x = randn(2, DIM, 5 * CHUNK + 3)  # 12 chunks: groups that cross items
    whole = model(x)
    with torch.no_grad():
        grouped = model(x)
    torch.testing.assert_close(grouped, whole, atol=1e-5, rtol=1e-5)


def test_chunks_are_cut_where_documented():
    """Without the long pass a causal model (per-frame norm) separates each
    chunk on its own: running the chunks one at a time is the reference
    for the batched reshapes (chunking, feature tokens, un-chunking)."""
    model = tiny(causal=True, long_pass=False)
    x = randn(2, DIM, 4 * CHUNK + 6)
    with torch.no_grad():
        whole = model(x)
        pieces = torch.cat([model(c) for c in x.split(CHUNK, -1)], -1)
    torch.testing.assert_close(whole, pieces, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS.values(), ids=VARIANTS.keys())
def test_gradients_reach_every_parameter(variant):
    model = tiny(**variant, dropout=0.1).train()
    x = randn(2, DIM, 3 * CHUNK + 4).requires_grad_()
    model(x).square().mean().backward()
    assert x.grad.abs().sum() > 0
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("t", [0, CHUNK - 1, CHUNK, 2 * CHUNK + 3, 4 * CHUNK])
def test_causal_output_ignores_input_after_latency(t):
    """Frames <= t do not move when frames > t + latency change, and the
    latency is reached: the last frame of t's chunk moves frame t (at a
    chunk's first frame t, that is frame t + latency)."""
    model = tiny(causal=True)
    x = randn(1, DIM, 6 * CHUNK + 5)
    future = x.clone()
    after = t + LATENCY + 1
    future[..., after:] = randn(1, DIM, x.shape[-1] - after, seed=1)
    chunk_end = (t // CHUNK + 1) * CHUNK - 1
    edge = x.clone()
    edge[..., chunk_end] += randn(DIM, seed=2)
    with torch.no_grad():
        masks = model(x)
        assert (model(future)[..., : t + 1] == masks[..., : t + 1]).all()
        assert (model(edge) - masks)[..., t].abs().amax() > 1e-4


def test_offline_model_looks_ahead():
    """The same check fails for the non-causal model (it can fail)."""
    model = tiny(causal=False)
    x = randn(1, DIM, 6 * CHUNK)
    future = x.clone()
    future[..., 5 * CHUNK :] += 1.0
    with torch.no_grad():
        moved = (model(future) - model(x))[..., :CHUNK].abs().amax()
    assert moved > 1e-4


@pytest.mark.parametrize("causal", [False, True])
def test_long_pass_carries_information_across_chunks(causal):
    """Swapping two frames of chunk 0 (which keeps the global norm's
    statistics) moves the last chunk's masks through the long pass, and
    (up to rounding in that norm) not at all without it."""
    x = randn(1, DIM, 6 * CHUNK + 3)
    y = x.clone()
    y[..., [1, 4]] = x[..., [4, 1]]

    def last_chunk_change(model):
        with torch.no_grad():
            return (model(y) - model(x))[..., -CHUNK:].abs().amax()

    assert last_chunk_change(tiny(causal)) > 1e-5
    assert last_chunk_change(tiny(causal, long_pass=False)) < 1e-6


@pytest.mark.parametrize("causal", [False, True])
def test_latents_are_used(causal):
    model = tiny(causal)
    x = randn(2, DIM, 3 * CHUNK + 1)
    with torch.no_grad():
        before = model(x)
        latents = [model.initial_latents]
        if not causal:
            latents.append(model.initial_global)
        for parameter in latents:
            saved = parameter.clone()
            parameter.add_(randn(*parameter.shape, seed=3))
            assert (model(x) - before).abs().amax() > 1e-4
            parameter.copy_(saved)
        torch.testing.assert_close(model(x), before)


def test_tied_repeats_share_weights():
    def count(model):
        return sum(p.numel() for p in model.parameters())

    tied = tiny(num_repeats=5, tied_repeats=True)
    assert count(tied) == count(tiny(num_repeats=2))
    assert count(tiny(num_repeats=5)) > count(tied)
    # the shared repeat runs R - 1 times: one more repeat changes the output
    x = randn(1, DIM, 25)
    deeper = tiny(num_repeats=6, tied_repeats=True)
    with torch.no_grad():
        assert (deeper(x) - tied(x)).abs().amax() > 1e-5


@pytest.mark.parametrize("causal", [False, True])
def test_cross_attention_matches_torch(causal):
    """Against torch.nn.MultiheadAttention with kdim/vdim (query width equal
    to the attention width, where torch's module applies)."""
    torch.manual_seed(1)
    q_dim, ctx_dim, heads = 24, 24 if causal else 40, 4
    ours = CrossAttention(q_dim, ctx_dim, q_dim, heads)
    ref = nn.MultiheadAttention(
        q_dim, heads, kdim=ctx_dim, vdim=ctx_dim, batch_first=True
    )
    k_w, v_w = ours.to_kv.weight.chunk(2)
    k_b, v_b = ours.to_kv.bias.chunk(2)
    if ctx_dim == q_dim:  # torch packs the projections then
        ref = nn.MultiheadAttention(q_dim, heads, batch_first=True)
        ref.in_proj_weight.data = torch.cat([ours.to_q.weight, k_w, v_w])
    else:
        ref.q_proj_weight.data = ours.to_q.weight.data
        ref.k_proj_weight.data, ref.v_proj_weight.data = k_w, v_w
    ref.in_proj_bias.data = torch.cat([ours.to_q.bias, k_b, v_b])
    ref.out_proj.load_state_dict(ours.to_out.state_dict())
    x = randn(3, 11, q_dim)
    context = x if causal else randn(3, 17, ctx_dim, seed=1)
    mask = (
        nn.Transformer.generate_square_subsequent_mask(11) if causal else None
    )
    with torch.no_grad():
        expected, _ = ref(
            x, context, context, attn_mask=mask, need_weights=False
        )
        torch.testing.assert_close(
            ours(x, context, causal=causal), expected, atol=1e-5, rtol=1e-5
        )


def test_bad_input_raises():
    model = tiny()
    with pytest.raises(ValueError, match=r"\[batch, 16, frames\]"):
        model(randn(1, 8, 40))
    with pytest.raises(ValueError, match=r"\[batch, 16, frames\]"):
        model(randn(DIM, 40))
    with pytest.raises(ValueError, match="latent_dim=6 is not a multiple"):
        tiny(latent_dim=6, nhead=4)
    with pytest.raises(ValueError, match="num_repeats=0"):
        tiny(num_repeats=0)
