"""bench.layer_ops: a layer's time op by op (tiny sizes; no timing asserted
beyond what holds whatever the machine: a call lasts at least as long as
the calls nested in it)."""

import csv

import torch

from bench import layer_ops
from lobes.attention import TransformerLayer, count_macs


def test_op_flops_are_the_flop_counters():
    layer = TransformerLayer(32, nhead=4, d_ffn=64).eval()
    x = torch.randn(3, 20, 32)
    flops = layer_ops.op_flops(layer, x)
    assert set(flops) == {
        "attn.qkv",
        "attn.out",
        "ffn.0",
        "ffn.3",
        "attention",
    }
    # the reference: torch's FlopCounterMode over the whole layer
    assert sum(flops.values()) == 2 * count_macs(lambda: layer(x))


def test_nested_calls_last_at_least_as_long():
    layer = TransformerLayer(32, nhead=4, d_ffn=64).eval()
    times = layer_ops.op_times(layer, torch.randn(3, 20, 32), repeats=5)
    assert all(times[op] > 0 for op in layer_ops.OPS)
    # every call of the layer holds one of each op (medians keep order)
    for op in ("norm1", "attn", "norm2", "ffn.0", "ffn.1", "ffn.3"):
        assert times["layer"] >= times[op]
    assert times["attn"] >= max(times["attn.qkv"], times["attn.out"])
    assert not layer.ffn[0]._forward_hooks  # the hooks are gone


def test_three_ops_time_sdpas_product():
    q, k, v = torch.randn(3, 2, 4, 12, 8)
    times = layer_ops.three_op_attention(q, k, v, repeats=2)  # checks it
    assert times["three ops"] == sum(
        times[op] for op in ("q k^T (bmm)", "softmax", "p v (bmm)")
    )


def test_command_line_writes_every_row(tmp_path, capsys):
    out = tmp_path / "ops.csv"
    layer_ops.main(["--tiny", "--repeats", "2", "--compile", "--csv", str(out)])
    with open(out) as f:
        rows = {row["op"]: row for row in csv.DictReader(f)}
    expected = [*layer_ops.OPS, "attn", "attention", "residual", "layer"]
    expected += ["layer (eager)", "layer (torch.compile)", "sdpa", "softmax"]
    assert set(expected) <= set(rows)
    assert float(rows["layer"]["share"]) == 1.0
    assert rows["ffn.0"]["gflops"] and not rows["norm1"]["gflops"]
    printed = capsys.readouterr().out
    assert "fp32 peak" in printed and "| ffn.3 |" in printed
