"""Where an RE-SepFormer layer's time goes on the CPU, op by op.

Issue 17 asks for our RE-SepFormer at 2.5 times upstream's speed at 64 s in
fp32. Almost all of its time is its Transformer layers run over inference
groups of chunks (`lobes.attention.inference_chunk_group`), so this times
one real layer of the registry's model (`TransformerLayer`, paper size) on
one such group: each op in turn (forward hooks on the layer's modules; CPU
ops are synchronous), the median over calls, per chunk, with each op's
FLOPs, its rate and its share of the machine's fp32 matrix-product peak
measured in the same run (`bench.peak.matmul_peak`). ``torch.profiler``
is not used: on a loaded group it books the first write into a fresh
feed-forward output to ``aten::copy_`` at several times its real cost.

Below the layer's rows, its attention (SDPA, `lobes.attention.attend`) is
set against the same product as three separate ops (batched matrix
product, softmax, batched matrix product), each timed alone: the floor of
what plain torch ops can do there. ``--compile`` also times the layer
under ``torch.compile`` (Inductor, which fuses the element-wise ops and
generates C++ for the CPU).

Usage, from the checkout root::

    python -m bench.layer_ops                 # paper size, 2 threads
    python -m bench.layer_ops --compile --threads 1 --csv out.csv
"""

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from bench.machine import machine_info, set_threads
from bench.peak import matmul_peak
from bench.suite.models import MODELS
from bench.tables import markdown_table, write_csv
from bench.timing import median, time_calls
from lobes.attention import TransformerLayer, inference_chunk_group

# the layer's modules timed by hooks, in the order they run
OPS = {
    "norm1": "LayerNorm",
    "attn.qkv": "q, k, v projection",
    "attn.out": "output projection",
    "norm2": "LayerNorm",
    "ffn.0": "feed-forward in (128 -> d_ffn, bias)",
    "ffn.1": "ReLU",
    "ffn.3": "feed-forward out (d_ffn -> 128, bias)",
}
# what each row of the table is
WHAT = {
    **OPS,
    "attn": "attention module (projections included)",
    "layer": "the whole layer",
    "attention": "attention kernel: the module less its projections",
    "residual": "residual additions: the layer less its modules",
    "layer (eager)": "the layer, interleaved with the next row",
    "layer (torch.compile)": "the layer under torch.compile (Inductor)",
    "sdpa": "SDPA alone, the layer's q, k, v",
    "q k^T (bmm)": "attention as 3 ops: scores",
    "softmax": "attention as 3 ops: softmax",
    "p v (bmm)": "attention as 3 ops: weighted sum",
    "three ops": "attention as 3 ops: their sum",
}


def op_times(
    layer: TransformerLayer, x: torch.Tensor, repeats: int
) -> dict[str, float]:
    """Median seconds per call of each of the layer's ops on x.

    Besides `OPS`: ``attention`` (the attention module less its two
    projections: the SDPA call and its reshapes), ``residual`` (the layer
    less its modules: the two residual additions) and ``layer``.

    Arguments
    ---------
    layer : TransformerLayer
        The layer (eval mode).
    x : torch.Tensor
        Its input [chunks, frames, dim].
    repeats : int
        Timed calls, after one warm-up call.

    Returns
    -------
    dict
        Op name -> median seconds.

    Example
    -------
    >>> layer = TransformerLayer(16, nhead=2, d_ffn=32).eval()
    >>> t = op_times(layer, torch.randn(2, 10, 16), repeats=3)
    >>> sorted(t) == sorted([*OPS, "attn", "attention", "residual", "layer"])
    True
    """
    seconds: dict[str, list[float]] = {}
    started: dict[str, float] = {}
    modules = dict(layer.named_modules())
    handles = []
    for name in [*OPS, "attn"]:

        def pre(module, args, name=name) -> None:
            started[name] = time.perf_counter()

        def post(module, args, out, name=name) -> None:
            elapsed = time.perf_counter() - started[name]
            seconds.setdefault(name, []).append(elapsed)

        handles.append(modules[name].register_forward_pre_hook(pre))
        handles.append(modules[name].register_forward_hook(post))
    try:
        with torch.no_grad():
            seconds["layer"] = time_calls(lambda: layer(x), repeats)
    finally:
        for handle in handles:
            handle.remove()
    times = {name: median(t[-repeats:]) for name, t in seconds.items()}
    times["attention"] = times["attn"] - times["attn.qkv"] - times["attn.out"]
    parts = ("norm1", "attn", "norm2", "ffn.0", "ffn.1", "ffn.3")
    times["residual"] = times["layer"] - sum(times[p] for p in parts)
    return times


def op_flops(layer: TransformerLayer, x: torch.Tensor) -> dict[str, float]:
    """FLOPs of the layer's matrix products on x (2 per multiply-add).

    Arguments
    ---------
    layer : TransformerLayer
        The layer.
    x : torch.Tensor
        Its input [chunks, frames, dim].

    Returns
    -------
    dict
        Op name -> FLOPs, for the projections, the feed-forward and
        ``attention`` (q k^T and the weighted sum of v).

    Example
    -------
    >>> layer = TransformerLayer(16, nhead=2, d_ffn=32)
    >>> op_flops(layer, torch.randn(2, 10, 16))["attention"]
    12800.0
    """
    chunks, frames, dim = x.shape
    rows = chunks * frames
    flops = {
        name: 2.0 * rows * module.in_features * module.out_features
        for name, module in layer.named_modules()
        if name in OPS and isinstance(module, torch.nn.Linear)
    }
    flops["attention"] = 4.0 * chunks * frames * frames * dim
    return flops


def three_op_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, repeats: int
) -> dict[str, float]:
    """Median seconds of attention as SDPA and as three separate ops
    (checked to compute SDPA's result first).

    Arguments
    ---------
    q, k, v : torch.Tensor
        [batch, heads, frames, head_dim], as the layer makes them.
    repeats : int
        Timed calls of each op, after one warm-up call.

    Returns
    -------
    dict
        ``sdpa``, ``q k^T (bmm)``, ``softmax``, ``p v (bmm)`` and their
        sum ``three ops``.

    Example
    -------
    >>> q, k, v = torch.randn(3, 2, 4, 10, 8)
    >>> sorted(three_op_attention(q, k, v, repeats=2))
    ['p v (bmm)', 'q k^T (bmm)', 'sdpa', 'softmax', 'three ops']
    """
    frames, head_dim = q.shape[-2:]
    q3, k3, v3 = (t.reshape(-1, frames, head_dim) for t in (q, k, v))
    q3 = q3 * head_dim**-0.5  # SDPA's scale, applied before the timing
    with torch.no_grad():
        scores = torch.bmm(q3, k3.transpose(1, 2))
        weights = torch.softmax(scores, -1)
        torch.testing.assert_close(  # the same product as SDPA's
            torch.bmm(weights, v3).view_as(q),
            F.scaled_dot_product_attention(q, k, v),
        )
    calls: dict[str, Callable[[], object]] = {
        "sdpa": lambda: F.scaled_dot_product_attention(q, k, v),
        "q k^T (bmm)": lambda: torch.bmm(q3, k3.transpose(1, 2)),
        "softmax": lambda: torch.softmax(scores, -1),
        "p v (bmm)": lambda: torch.bmm(weights, v3),
    }
    with torch.no_grad():
        times = {n: median(time_calls(f, repeats)) for n, f in calls.items()}
    times["three ops"] = sum(t for n, t in times.items() if n != "sdpa")
    return times


def compiled_vs_eager(
    layer: torch.nn.Module, x: torch.Tensor, repeats: int
) -> dict[str, float]:
    """Median seconds of the layer under ``torch.compile`` and eager, their
    calls interleaved so that both see the same machine.

    Arguments
    ---------
    layer : torch.nn.Module
        The layer (eval mode).
    x : torch.Tensor
        Its input.
    repeats : int
        Timed calls of each, after two warm-up calls of the compiled one
        (the first compiles it).

    Returns
    -------
    dict
        ``layer (eager)`` and ``layer (torch.compile)``.
    """
    compiled = torch.compile(layer, dynamic=False)
    eager, fused = [], []
    with torch.no_grad():
        compiled(x)
        compiled(x)
        for _ in range(repeats):
            eager += time_calls(lambda: layer(x), 1, warmup=0)
            fused += time_calls(lambda: compiled(x), 1, warmup=0)
    return {
        "layer (eager)": median(eager),
        "layer (torch.compile)": median(fused),
    }


def rows_for(
    times: dict[str, float],
    flops: dict[str, float],
    chunks: int,
    layer_seconds: float,
    peak: float,
) -> list[dict]:
    """Table rows: per op, microseconds per chunk, share of the layer's
    time, GFLOP/s and share of the fp32 peak (matrix products only).

    Arguments
    ---------
    times : dict
        Op name -> seconds.
    flops : dict
        Op name -> FLOPs (ops without matrix products absent).
    chunks : int
        Chunks in the group the ops ran on.
    layer_seconds : float
        The whole layer's time on that group.
    peak : float
        The machine's fp32 matrix-product peak, GFLOP/s.

    Returns
    -------
    list of dict
        One row per op, in the order of ``times``.

    Example
    -------
    >>> rows = rows_for({"a": 2e-3, "layer": 4e-3}, {"a": 2e8}, 2, 4e-3, 200)
    >>> [(r["op"], r["us_per_chunk"], r["share"], r["of_peak"]) for r in rows]
    [('a', 1000.0, 0.5, 0.5), ('layer', 2000.0, 1.0, None)]
    >>> rows[1]["what"]
    'the whole layer'
    """
    rows = []
    for name, seconds in times.items():
        rate = flops[name] / seconds / 1e9 if name in flops else None
        rows.append(
            {
                "op": name,
                "what": WHAT.get(name, ""),
                "us_per_chunk": round(1e6 * seconds / chunks, 1),
                "share": round(seconds / layer_seconds, 3),
                "gflops": None if rate is None else round(rate, 1),
                "of_peak": None if rate is None else round(rate / peak, 3),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.layer_ops",
        description=__doc__.split("\n")[0],
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--tiny", action="store_true", help="smoke test")
    parser.add_argument(
        "--compile", action="store_true", help="also under torch.compile"
    )
    parser.add_argument("--csv", help="also write the rows to this CSV file")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    torch.manual_seed(0)
    masknet = MODELS["resepformer"].build(args.tiny).eval().masknet
    layer = masknet.intra1.layers[0]
    chunks = inference_chunk_group(torch.device("cpu"))
    x = torch.randn(chunks, masknet.chunk_size, masknet.in_channels)
    peak = matmul_peak("fp32")
    times = op_times(layer, x, args.repeats)
    flops = op_flops(layer, x)
    with torch.no_grad():
        B, T, D = x.shape
        qkv = layer.attn.qkv(layer.norm1(x))
        q, k, v = qkv.view(B, T, 3, layer.attn.nhead, -1).permute(2, 0, 3, 1, 4)
    attention = three_op_attention(q, k, v, args.repeats)
    half = flops["attention"] / 2  # q k^T, then p v
    flops.update(
        {
            "sdpa": 2 * half,
            "three ops": 2 * half,
            "q k^T (bmm)": half,
            "p v (bmm)": half,
        }
    )
    if args.compile:
        times.update(compiled_vs_eager(layer, x, args.repeats))
    rows = rows_for(times, flops, chunks, times["layer"], peak)
    rows += rows_for(attention, flops, chunks, times["layer"], peak)
    info = machine_info()
    print(
        f"{info['cpu']}, {args.threads} threads; one layer on {chunks} "
        f"chunks of {masknet.chunk_size} frames; fp32 peak {peak:.0f} "
        "GFLOP/s\n"
    )
    print(markdown_table(rows))
    if args.csv:
        write_csv(rows, args.csv)


if __name__ == "__main__":
    main()
