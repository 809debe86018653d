"""Tests of lobes.fsmn_flash: the masknet contract,
gradients, causality, what each path (FSMN memory, windows, window
summaries) carries, streaming, backend parity and the grouped inference
path."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode

from lobes.attention import attention_backend
from lobes.fsmn_flash import (
    DilatedMemory,
    FlashFormer,
    FlashStreamState,
    WindowAttention,
    WindowSummaryAttention,
)

DIM, WINDOW, LAYERS = 16, 8, 2
KERNEL, DEPTH = 3, 3  # FSMN taps at dilations 1, 2, 4
# frames one layer's FSMN memory spans: each side when centred, all in the
# past when causal (so a change travels that far ahead)
SPAN = 2**DEPTH - 1  # sum of the dilations
FSMN_REACH = {False: (KERNEL - 1) // 2 * SPAN, True: (KERNEL - 1) * SPAN}


def tiny(causal: bool, **kwargs) -> FlashFormer:
    torch.manual_seed(0)
    return FlashFormer(
        DIM,
        num_layers=LAYERS,
        nhead=2,
        d_ffn=32,
        window_size=WINDOW,
        fsmn_hidden=16,
        fsmn_kernel_size=KERNEL,
        fsmn_depth=DEPTH,
        causal=causal,
        **kwargs,
    ).eval()


def switch_off(model: FlashFormer, *paths: str) -> FlashFormer:
    """Zeroes the output projection of the named sublayer in every layer,
    so that it adds exactly nothing to the residual stream."""
    for layer in model.layers:
        for path in paths:
            sublayer = getattr(layer, path)
            out = sublayer.out if path == "fsmn" else sublayer.attn.out
            torch.nn.init.zeros_(out.weight)
            torch.nn.init.zeros_(out.bias)
    return model


def change(model: FlashFormer, t: int, length: int = 16 * WINDOW) -> Tensor:
    """Per output frame, how much the masks move when input frame t does."""
    torch.manual_seed(1)
    x = torch.randn(1, DIM, length)
    y = x.clone()
    y[..., t] += torch.randn(DIM)  # not uniform: LayerNorm would erase it
    with torch.no_grad():
        return (model(x) - model(y)).abs().amax(dim=(0, 1, 2))


CAUSAL = pytest.mark.parametrize(
    "causal", [False, True], ids=["offline", "causal"]
)


@CAUSAL
@pytest.mark.parametrize(
    "length", [1, 5, WINDOW - 1, WINDOW, WINDOW + 1, 3 * WINDOW + 5, 101]
)
def test_masknet_contract(causal, length):
    model = tiny(causal)
    x = torch.rand(2, DIM, length)
    masks = model(x)
    assert masks.shape == (2, 2, DIM, length)
    assert masks.isfinite().all() and (masks >= 0).all()
    assert masks.std() > 0


@CAUSAL
def test_batch_items_are_independent(causal):
    model = tiny(causal)
    x = torch.randn(3, DIM, 5 * WINDOW + 3)
    with torch.no_grad():
        expected = torch.cat([model(item[None]) for item in x], 1)
        torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=0)


@CAUSAL
def test_gradients_reach_every_parameter(causal):
    model = tiny(causal, dropout=0.1).train()
    x = torch.randn(2, DIM, 5 * WINDOW + 3, requires_grad=True)
    model(x).square().mean().backward()
    assert x.grad.abs().sum() > 0
    no_grad = [
        name
        for name, p in model.named_parameters()
        if p.grad is None or p.grad.abs().sum() == 0
    ]
    assert not no_grad


@pytest.mark.parametrize("t", [0, 3, WINDOW, 5 * WINDOW + 4, 16 * WINDOW - 1])
def test_causal_model_never_looks_ahead(t):
    """Latency 0 frames: moving input frame t moves no earlier mask, and
    moves the mask at t itself."""
    delta = change(tiny(causal=True), t)
    assert delta[:t].eq(0).all()
    assert delta[t] > 1e-4


@pytest.mark.parametrize("length", [1, WINDOW - 3, 2 * WINDOW, 5 * WINDOW + 3])
def test_causal_masks_of_a_prefix_are_a_prefix(length):
    """What a causal model says about the first frames does not depend on
    what comes later, nor on where padding starts (it can stream)."""
    model = tiny(causal=True)
    x = torch.randn(2, DIM, 7 * WINDOW + 2)
    with torch.no_grad():
        torch.testing.assert_close(
            model(x[..., :length]), model(x)[..., :length], atol=1e-5, rtol=0
        )


def stream(model: FlashFormer, x: Tensor) -> tuple[Tensor, FlashStreamState]:
    """Masks of x fed block by block, and the final state."""
    state, masks = None, []
    for block in x.split(model.stream_frames, dim=-1):
        m, state = model.forward_chunk(block, state)
        masks.append(m)
    return torch.cat(masks, -1), state


@pytest.mark.parametrize(
    "length", [1, WINDOW - 3, WINDOW, 3 * WINDOW, 6 * WINDOW + 5]
)
def test_streaming_equals_offline_causal(length):
    """Block by block (the FSMN reaches 2 (2^3 - 1) = 14 frames back, more
    than one block; the shifted windows and the summaries cross block
    edges), the masks of the whole input."""
    model = tiny(causal=True)
    x = torch.randn(3, DIM, length)
    masks, state = stream(model, x)
    assert model.stream_frames == WINDOW
    with torch.no_grad():
        torch.testing.assert_close(masks, model(x), atol=1e-5, rtol=0)
    windows = -(-length // WINDOW)
    assert len(state.layers[0].cache) == windows - 1
    assert state.closed == (length % WINDOW > 0)


def test_streaming_state_does_not_grow():
    """After every call, the FSMN keeps (K - 1) 2^i frames per convolution
    and no gate waiting (causal: no look-ahead), the shifted windows W / 2
    frames; only the summaries' cache grows."""
    model = tiny(causal=True)
    fsmn = [(2, (KERNEL - 1) * 2**i, 16) for i in range(DEPTH)] + [(2, 0, 16)]
    state = None
    for calls in range(1, 7):
        _, state = model.forward_chunk(torch.randn(2, DIM, WINDOW), state)
        for i, layer in enumerate(state.layers):
            assert [tuple(p.shape) for p in layer.fsmn] == fsmn
            assert layer.window.shape == (2, i % 2 * WINDOW // 2, DIM)
            assert layer.summary.shape == (2, 1, DIM)
            assert len(layer.cache) == calls - 1


def test_streaming_misuse_raises():
    with pytest.raises(ValueError, match="needs a causal model"):
        tiny(causal=False).forward_chunk(torch.randn(1, DIM, WINDOW))
    model = tiny(causal=True)
    with pytest.raises(ValueError, match=rf"\[batch, {DIM}, <= {WINDOW}\]"):
        model.forward_chunk(torch.randn(1, DIM + 1, WINDOW))
    with pytest.raises(ValueError, match=f"stream_frames={WINDOW} frames"):
        model.forward_chunk(torch.randn(1, DIM, WINDOW + 1))
    _, state = model.forward_chunk(torch.randn(1, DIM, WINDOW))
    with pytest.raises(ValueError, match="batch size 1"):
        model.forward_chunk(torch.randn(2, DIM, WINDOW), state)
    _, state = model.forward_chunk(torch.randn(1, DIM, 3), state)
    with pytest.raises(ValueError, match="after the last block"):
        model.forward_chunk(torch.randn(1, DIM, WINDOW), state)


def reach(delta: Tensor, t: int) -> tuple[int, int]:
    """Frames before and after t where the masks moved."""
    moved = delta.nonzero().flatten()
    return int(t - moved.min()), int(moved.max() - t)


@CAUSAL
def test_fsmn_memory_reach_is_its_receptive_field(causal):
    """With both attentions off, a change travels exactly as far as the
    dilated convolutions reach, across window boundaries."""
    t = 8 * WINDOW + 2
    delta = change(
        switch_off(tiny(causal), "local_attention", "global_attention"), t
    )
    back = 0 if causal else LAYERS * FSMN_REACH[False]
    assert reach(delta, t) == (back, LAYERS * FSMN_REACH[causal])


@CAUSAL
def test_each_local_path_widens_the_reach(causal):
    """Global path off. The windows alone carry a change through t's window
    (layer 0) and the two shifted windows overlapping it (layer 1); the
    FSMN carries it further, within the local receptive field."""
    t = 8 * WINDOW + 2
    windows = change(switch_off(tiny(causal), "global_attention", "fsmn"), t)
    start = t // WINDOW * WINDOW  # of t's window
    half = WINDOW // 2
    back = 0 if causal else t - (start - half)
    assert reach(windows, t) == (back, start + WINDOW + half - 1 - t)
    both = change(switch_off(tiny(causal), "global_attention"), t)
    assert sum(reach(both, t)) > sum(reach(windows, t))
    local = LAYERS * (WINDOW - 1 + FSMN_REACH[causal])
    assert max(reach(both, t)) <= local


@CAUSAL
def test_global_path_reaches_every_window(causal):
    """The summaries carry a change to every window (causal: every later
    window) beyond the local receptive field; with the path off, nothing
    beyond it moves."""
    t, length = 3 * WINDOW + 2, 24 * WINDOW
    local = LAYERS * (WINDOW - 1 + FSMN_REACH[causal])
    first = (t // WINDOW + 1) * WINDOW if causal else 0
    far = [i for i in range(first, length) if abs(i - t) > local]
    assert len(far) > 8 * WINDOW
    assert change(tiny(causal), t, length)[far].min() > 1e-5
    off = change(switch_off(tiny(causal), "global_attention"), t, length)
    assert off[far].eq(0).all()


@CAUSAL
def test_backends_agree(causal):
    """The fused SDPA kernel and the unfused reference give the same masks
    and gradients."""
    x = torch.randn(2, DIM, 4 * WINDOW + 5)
    results = []
    for backend in ("sdpa", "math"):
        model = tiny(causal).train()  # same seed: same weights
        with attention_backend(backend):
            masks = model(x)
            masks.square().mean().backward()
        grads = [p.grad for p in model.parameters()]
        results.append((masks, grads))
    (masks, grads), (ref_masks, ref_grads) = results
    torch.testing.assert_close(masks, ref_masks, atol=1e-5, rtol=1e-4)
    for g, ref in zip(grads, ref_grads):
        torch.testing.assert_close(g, ref, atol=1e-5, rtol=1e-3)


@CAUSAL
@pytest.mark.parametrize("shifted", [False, True], ids=["aligned", "shifted"])
def test_window_attention_equals_a_loop_over_windows(causal, shifted):
    """Reference: each window cut out one by one, zero-padded to W frames
    where it overhangs the input, attended to on its own."""
    torch.manual_seed(0)
    attn = WindowAttention(DIM, 2, WINDOW, shifted, causal)
    x = torch.randn(2, 3 * WINDOW + 5, DIM)
    T, shift = x.shape[1], WINDOW // 2 if shifted else 0
    expected = []
    for start in range(-shift, T, WINDOW):
        frames = x[:, max(start, 0) : start + WINDOW]
        front = max(-start, 0)
        window = torch.nn.functional.pad(
            frames, (0, 0, front, WINDOW - front - frames.shape[1])
        )
        out = attn.attn(window, causal=causal)
        expected.append(out[:, front : front + frames.shape[1]])
    with torch.no_grad():
        torch.testing.assert_close(attn(x), torch.cat(expected, 1))


@CAUSAL
def test_summary_attention_equals_a_loop_over_windows(causal):
    """Reference: the mean of each window's real frames, attention over
    them, and (causal) window s given the output at s - 1."""
    torch.manual_seed(0)
    path = WindowSummaryAttention(DIM, 2, WINDOW, causal)
    x = torch.randn(2, 4 * WINDOW + 3, DIM)
    windows = x.split(WINDOW, dim=1)
    summaries = torch.stack([w.mean(1) for w in windows], 1)
    g = path.attn(summaries, causal=causal)
    if causal:
        g = torch.cat([torch.zeros_like(g[:, :1]), g[:, :-1]], 1)
    expected = torch.cat(
        [g[:, s, None].expand_as(w) for s, w in enumerate(windows)], 1
    )
    with torch.no_grad():
        torch.testing.assert_close(path(x), expected)


def test_bad_configuration_and_input_raise():
    with pytest.raises(ValueError, match="multiple of nhead"):
        FlashFormer(30, nhead=4)
    with pytest.raises(ValueError, match="window_size=7 must be even"):
        FlashFormer(32, nhead=4, window_size=7)
    with pytest.raises(ValueError, match="kernel_size=4 must be odd"):
        FlashFormer(32, nhead=4, fsmn_kernel_size=4)
    with pytest.raises(ValueError, match=r"\[batch, 16, frames\]"):
        tiny(False)(torch.randn(1, 8, 40))


@CAUSAL
@pytest.mark.parametrize("cuts", [(), (1,), (5, 6, 30), (20, 21, 22, 60)])
def test_memory_in_pieces_equals_whole(causal, cuts):
    """Fed piece by piece (a piece may be shorter than the look-ahead:
    nothing comes out yet), the memory of a sequence is its whole memory."""
    torch.manual_seed(0)
    memory = DilatedMemory(8, kernel_size=5, depth=3, causal=causal)
    x = torch.randn(2, 61, 8)
    past, pieces = None, []
    for start, stop in zip((0, *cuts), (*cuts, 61)):
        y, past = memory.forward_chunk(x[:, start:stop], past, stop == 61)
        pieces.append(y)
    with torch.no_grad():
        torch.testing.assert_close(torch.cat(pieces, 1), memory(x))


@CAUSAL
@pytest.mark.parametrize("group_windows", [1, 2, 100])
@pytest.mark.parametrize("length", [1, WINDOW - 3, WINDOW, 9 * WINDOW + 5])
def test_grouped_inference_equals_whole_pass(causal, group_windows, length):
    """Under no_grad the layers run group by group in place; the masks are
    those of the whole pass autograd sees, whatever the group (1 window is
    shorter than the FSMN's reach: its context spans several groups)."""
    model = tiny(causal, group_windows=group_windows)
    x = torch.randn(2, DIM, length)
    whole = model(x)  # grad enabled: the training path
    assert whole.requires_grad
    with torch.no_grad():
        torch.testing.assert_close(model(x), whole, atol=1e-5, rtol=1e-5)


class Allocations(TorchDispatchMode):
    """Elements of every tensor an op allocates (outputs sharing no
    input's storage)."""

    def __init__(self):
        super().__init__()
        self.sizes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        flat = [*args, *(kwargs or {}).values()]
        inputs = {
            t.untyped_storage().data_ptr()
            for t in flat
            if isinstance(t, Tensor)
        }
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if (
                isinstance(t, Tensor)
                and t.untyped_storage().data_ptr() not in inputs
            ):
                self.sizes.append(t.numel())
        return out


@CAUSAL
def test_inference_holds_no_full_length_intermediate(causal):
    """Beyond the frames being transformed ([L, N], once per item) and the
    masks, every tensor of the grouped path is bounded by the group (here
    2 windows plus the FSMN's reach) or is the global path's, over the
    S = L / W window summaries."""
    model = tiny(causal, group_windows=2)
    length = 64 * WINDOW
    x = torch.randn(1, DIM, length)
    with torch.no_grad(), Allocations() as allocations:
        model(x)
    sizes = sorted(allocations.sizes)
    assert sizes[-2:] == [length * DIM, 2 * length * DIM]
    group = (2 * WINDOW + 2 * FSMN_REACH[True]) * 32  # frames x d_ffn
    summaries = length // WINDOW * 3 * DIM  # S x (q, k, v)
    assert sizes[-3] <= max(group, summaries) < length * DIM // 2
