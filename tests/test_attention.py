"""Tests of lobes.attention: backends vs an
explicit softmax reference, dispatch, memory, and the shared Transformer
layer vs SpeechBrain's."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from speechbrain.lobes.models.transformer.Transformer import (
    TransformerEncoderLayer,
)

import lobes.attention as attention
from lobes.attention import (
    FusedMultiheadAttention,
    KVCache,
    TransformerLayer,
    attend,
    attention_backend,
    flash_attn_applicable,
)


def reference(q, k, v, causal=False):
    """softmax(q k^T / sqrt(d)) v in float64, with an explicit causal mask."""
    q, k, v = (t.double() for t in (q, k, v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if causal:
        future = torch.ones(scores.shape[-2:], dtype=torch.bool).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
    return scores.softmax(-1) @ v


def available_backends():
    """Backends that can run here: flash_attn only on a capable GPU."""
    backends = ["auto", "sdpa", "math"]
    if attention.flash_attn_func is not None and torch.cuda.is_available():
        if attention._flash_device(torch.device("cuda")):
            backends.append("flash_attn")
    return backends


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("lengths", [(37, 37), (1, 1), (5, 64)])
def test_backends_match_reference(backend, causal, lengths):
    if causal and lengths[0] != lengths[1]:
        lengths = (lengths[1], lengths[1])
    torch.manual_seed(0)
    device = "cuda" if backend == "flash_attn" else "cpu"
    q = torch.randn(2, 3, lengths[0], 16, device=device)
    k, v = torch.randn(2, 2, 3, lengths[1], 16, device=device).unbind(0)
    with attention_backend(backend):
        out = attend(q, k, v, causal=causal)
    atol = 2e-2 if backend == "flash_attn" else 1e-5  # bf16 kernel
    assert out.dtype == q.dtype and out.shape == q.shape
    torch.testing.assert_close(
        out.double().cpu(), reference(q, k, v, causal).cpu(), atol=atol, rtol=0
    )


def test_strided_inputs_match_reference():
    # FusedMultiheadAttention passes views of the packed projection
    qkv = torch.randn(2, 50, 3, 4, 8)
    q, k, v = qkv.permute(2, 0, 3, 1, 4)
    assert not q.is_contiguous()
    out = attend(q, k, v, causal=True)
    torch.testing.assert_close(
        out.double(), reference(q, k, v, True), atol=1e-5, rtol=0
    )


def test_bad_arguments_raise_clear_errors():
    q = torch.randn(1, 2, 8, 4)
    with pytest.raises(ValueError, match="backend='xformers'"):
        with attention_backend("xformers"):
            attend(q, q, q)
    with pytest.raises(ValueError, match=r"\[batch, heads, length"):
        attend(q[0], q[0], q[0])
    with pytest.raises(ValueError, match="causal attention needs"):
        attend(q, torch.randn(1, 2, 9, 4), torch.randn(1, 2, 9, 4), True)


def test_flash_backend_without_flash_attn(monkeypatch):
    monkeypatch.setattr(attention, "flash_attn_func", None)
    q = torch.randn(1, 2, 8, 4)
    with pytest.raises(RuntimeError, match="flash-attn package"):
        with attention_backend("flash_attn"):
            attend(q, q, q)
    assert not flash_attn_applicable(q.half())
    # auto never needs it
    torch.testing.assert_close(
        attend(q, q, q).double(), reference(q, q, q), atol=1e-5, rtol=0
    )


def test_flash_backend_off_gpu(monkeypatch):
    monkeypatch.setattr(attention, "flash_attn_func", lambda *a, **k: None)
    q = torch.randn(1, 2, 8, 4)
    with pytest.raises(RuntimeError, match="compute capability"):
        with attention_backend("flash_attn"):
            attend(q, q, q)


def test_flash_dispatch_layout_and_casts(monkeypatch):
    """With a stand-in for flash_attn_func (same contract: [B, L, H, d],
    fp16/bf16 only), check when auto picks it, the layout and the casts."""
    calls = []

    def fake_flash(q, k, v, dropout_p=0.0, causal=False):
        assert q.dtype in attention.FLASH_DTYPES and q.shape[1] == 40
        calls.append(q.dtype)
        # [B, L, H, d] -> reference on [B, H, L, d] -> back
        out = reference(*(t.transpose(1, 2) for t in (q, k, v)), causal)
        return out.transpose(1, 2).to(q.dtype)

    monkeypatch.setattr(attention, "flash_attn_func", fake_flash)
    monkeypatch.setattr(attention, "_flash_device", lambda device: True)
    q, k, v = torch.randn(3, 2, 4, 40, 16).unbind(0)

    out = attend(q, k, v, causal=True)  # fp32: auto keeps exact SDPA
    assert calls == [] and out.dtype == torch.float32

    with attention_backend("flash_attn"):  # fp32: cast in and out
        out = attend(q, k, v, causal=True)
    assert calls == [torch.bfloat16] and out.dtype == torch.float32
    torch.testing.assert_close(
        out.double(), reference(q, k, v, True), atol=5e-2, rtol=0
    )

    out = attend(*(t.half() for t in (q, k, v)))  # fp16: auto picks flash
    assert calls[-1] == torch.float16 and out.dtype == torch.float16
    torch.testing.assert_close(
        out.double(), reference(q, k, v), atol=1e-2, rtol=0
    )


PEAK_SCRIPT = """
import json, torch
from lobes.attention import attend, attention_backend

def peak():  # VmHWM: this process's own high-water mark (ru_maxrss
    # would carry the parent's over exec)
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if "VmHWM" in l)

torch.set_num_threads(2)
L, heads, d = {length}, 2, 16
q, k, v = torch.randn(3, 1, heads, L, d).unbind(0)
attend(q[:, :, :256], k[:, :, :256], v[:, :, :256])  # load kernels, threads
before = peak()
with attention_backend("{backend}"):
    out = attend(q, k, v, causal={causal})
growth = peak() - before
print(json.dumps({{"growth": growth, "finite": bool(out.isfinite().all())}}))
"""


def peak_growth(length, causal, backend="auto"):
    """Peak-RSS growth of a fresh process during one attend call."""
    script = PEAK_SCRIPT.format(length=length, causal=causal, backend=backend)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["finite"]
    return measured["growth"]


@pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads Linux's VmHWM"
)
@pytest.mark.parametrize("causal", [False, True])
def test_default_cpu_path_never_builds_the_score_matrix(causal):
    """L = 20000: the L x L scores of the 2 heads would take 3.2 GB; the
    peak RSS of a fresh process grows by less than 100 MB."""
    assert peak_growth(20000, causal) < 100e6 < 2 * 20000**2 * 4 / 30


@pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads Linux's VmHWM"
)
def test_peak_measure_sees_a_materialised_matrix():
    """The measure is not blind: the math kernel at L = 4000 builds
    2 x 64 MB of scores (and softmax copies) and it shows."""
    assert peak_growth(4000, False, backend="math") > 2 * 4000**2 * 4


def test_multihead_attention_matches_torch():
    torch.manual_seed(0)
    ours = FusedMultiheadAttention(32, nhead=4)
    theirs = torch.nn.MultiheadAttention(32, 4, batch_first=True)
    with torch.no_grad():
        theirs.in_proj_weight.copy_(ours.qkv.weight)
        theirs.in_proj_bias.copy_(ours.qkv.bias)
        theirs.out_proj.weight.copy_(ours.out.weight)
        theirs.out_proj.bias.copy_(ours.out.bias)
    x, context = torch.randn(2, 30, 32), torch.randn(2, 45, 32)
    mask = torch.ones(30, 30, dtype=torch.bool).triu(1)
    expected = theirs(x, x, x, attn_mask=mask, need_weights=False)[0]
    torch.testing.assert_close(ours(x, causal=True), expected)
    expected = theirs(x, context, context, need_weights=False)[0]
    torch.testing.assert_close(ours(x, context=context), expected)


def test_transformer_layer_matches_speechbrain():
    torch.manual_seed(0)
    sb_layer = TransformerEncoderLayer(64, 4, 32, normalize_before=True).eval()
    ours = TransformerLayer(32, nhead=4, d_ffn=64).eval()
    with torch.no_grad():
        for p in sb_layer.parameters():
            p.add_(0.1 * torch.randn_like(p))  # norms away from identity
    att, ffn = sb_layer.self_att.att, sb_layer.pos_ffn.ffn
    ours.load_state_dict(
        {
            "norm1.weight": sb_layer.norm1.norm.weight,
            "norm1.bias": sb_layer.norm1.norm.bias,
            "attn.qkv.weight": att.in_proj_weight,
            "attn.qkv.bias": att.in_proj_bias,
            "attn.out.weight": att.out_proj.weight,
            "attn.out.bias": att.out_proj.bias,
            "norm2.weight": sb_layer.norm2.norm.weight,
            "norm2.bias": sb_layer.norm2.norm.bias,
            "ffn.0.weight": ffn[0].weight,
            "ffn.0.bias": ffn[0].bias,
            "ffn.3.weight": ffn[3].weight,
            "ffn.3.bias": ffn[3].bias,
        }
    )
    x = torch.randn(3, 25, 32)
    mask = torch.zeros(25, 25).masked_fill(
        torch.ones(25, 25, dtype=torch.bool).triu(1), float("-inf")
    )
    for causal in (False, True):
        expected = sb_layer(x, src_mask=mask if causal else None)[0]
        torch.testing.assert_close(ours(x, causal=causal), expected)


def test_kv_cache_steps_equal_causal_pass():
    torch.manual_seed(0)
    layer = TransformerLayer(16, nhead=2, d_ffn=32).eval()
    x = torch.randn(2, 40, 16)
    cache = KVCache()
    steps = [
        layer(x[:, t : t + 1], causal=True, cache=cache) for t in range(40)
    ]
    assert len(cache) == 40
    torch.testing.assert_close(
        torch.cat(steps, 1), layer(x, causal=True), atol=1e-5, rtol=0
    )
    with pytest.raises(ValueError, match="one position per call"):
        layer(x[:, :2], causal=True, cache=cache)


def test_gradients_flow():
    layer = TransformerLayer(16, nhead=2, d_ffn=32, dropout=0.1)
    x = torch.randn(2, 12, 16, requires_grad=True)
    layer(x, causal=True).square().sum().backward()
    assert x.grad.isfinite().all() and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in layer.parameters())


def test_backend_setting_is_scoped():
    """The setting holds inside its block only, also after an error."""
    q = torch.randn(1, 2, 8, 4)
    with pytest.raises(RuntimeError):
        with attention_backend("flash_attn"):  # no GPU here: fails
            attend(q, q, q)
    assert attention._BACKEND.get() == "auto"
    with attention_backend("math"), attention_backend("sdpa"):
        assert attention._BACKEND.get() == "sdpa"
    assert attention._BACKEND.get() == "auto"


WITHOUT_TORCH_NN_ATTENTION = """
import sys, torch
sys.modules["torch.nn.attention"] = None  # torch < 2.3 has no such module
from lobes.attention import attend, attention_backend
import lobes.resepformer
import lobes.latent_xattn
import lobes.fsmn_flash
q, k, v = torch.randn(3, 1, 2, 50, 8).unbind(0)
with attention_backend("math"):
    math = attend(q, k, v, causal=True)
import lobes.attention as attention
with attention._math_kernel():  # the fallback's switches, set and restored
    inside = torch.backends.cuda.flash_sdp_enabled()
after = torch.backends.cuda.flash_sdp_enabled()
error = float((math - attend(q, k, v, causal=True)).abs().max())
print(inside, after, error)
"""


def test_runs_without_torch_nn_attention():
    """torch 2.1 and 2.2 (SpeechBrain's minimum is 2.1) have no
    torch.nn.attention: the lobes import, and the math kernel still runs
    through torch's older switch."""
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH_NN_ATTENTION],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    inside, after, error = result.stdout.strip().splitlines()[-1].split()
    assert (inside, after) == ("False", "True")
    assert float(error) < 1e-5
