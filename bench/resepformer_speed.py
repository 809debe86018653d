"""RE-SepFormer masknet speed and peak memory: ours vs upstream SpeechBrain.

Paper configuration (N=128, 8+8 layers, 8 heads, d_ffn 1024, chunk 150),
upstream ``ResourceEfficientSeparator`` as its recipe builds it, ours with
the converted weights; CPU, inference (no grad). Each point runs in a fresh
process: wall time of the masknet on the encoder output of 1, 4, 16, 64 s
of 8 kHz audio (median of runs after a warm-up; 256 s ours only) and the
process's peak RSS. Then one hour of audio separated in one call
(encoder, masknet, decoder) with ours.

Usage::

    python bench/resepformer_speed.py            # full (~15 min on 2 cores)
    python bench/resepformer_speed.py --quick    # 1, 4, 16 s, no hour
    python bench/resepformer_speed.py --profile  # also profile ours at 16 s

On a machine shared with other busy processes, OpenMP's spin-waiting makes
every multi-threaded op wait for descheduled threads (ours runs more,
smaller ops than upstream and suffers more): measure on a quiet machine,
or with OMP_WAIT_POLICY=PASSIVE for both.

Prints a Markdown table and writes bench/results/resepformer_speed.csv.
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import torch
from speechbrain.lobes.models.dual_path import Decoder, Encoder
from speechbrain.lobes.models.resepformer import (
    ResourceEfficientSeparator,
    SBTransformerBlock_wnormandskip,
)

from lobes.resepformer import RESepFormer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    RESULTS,
    markdown_table,
    median,
    report,
    run_point,
    set_threads,
    time_calls,
    write_csv,
)

SAMPLE_RATE, KERNEL, STRIDE, N = 8000, 16, 8, 128
GB = 1e9


def frames(seconds: float) -> int:
    """Encoder frames of ``seconds`` of audio (kernel 16, stride 8)."""
    return (int(seconds * SAMPLE_RATE) - KERNEL) // STRIDE + 1


def upstream_model() -> ResourceEfficientSeparator:
    """Upstream RE-SepFormer exactly as recipes/WSJ0Mix resepformer.yaml."""

    def block():
        return SBTransformerBlock_wnormandskip(
            num_layers=8,
            d_model=N,
            nhead=8,
            d_ffn=1024,
            dropout=0,
            use_positional_encoding=True,
            norm_before=True,
            use_norm=True,
            use_skip=True,
        )

    return ResourceEfficientSeparator(
        input_dim=N,
        num_spk=2,
        causal=False,
        unit=256,
        segment_size=150,
        layer=2,
        mem_type="av",
        seg_model=block(),
        mem_model=block(),
    ).eval()


def load_model(name: str, weights: str) -> torch.nn.Module:
    """Upstream or ours, holding the weights saved by the parent."""
    state_dict = torch.load(weights)
    if name == "ours":
        return RESepFormer.from_upstream_state_dict(state_dict).eval()
    model = upstream_model()
    model.load_state_dict(state_dict, strict=False)  # pe buffers: fixed
    return model


def masknet_point(spec: dict) -> dict:
    """Times one masknet on the encoder output of spec['seconds']."""
    model = load_model(spec["model"], spec["weights"])
    x = torch.randn(1, N, frames(spec["seconds"]))
    with torch.no_grad():
        times = time_calls(lambda: model(x), spec["repeats"], warmup=1)
    return {"time": median(times), "times": times}


def hour_point(spec: dict) -> dict:
    """Separates spec['seconds'] of audio in one call, ours end to end."""
    masknet = load_model("ours", spec["weights"])
    encoder = Encoder(kernel_size=KERNEL, out_channels=N)
    decoder = Decoder(N, 1, kernel_size=KERNEL, stride=STRIDE, bias=False)

    def separate(mix: torch.Tensor) -> torch.Tensor:
        """[1, samples] -> [spk, samples], holding at most h and the masks."""
        h = encoder(mix)
        masked = masknet(h).mul_(h)  # masks applied in place
        del h
        return torch.cat([decoder(m) for m in masked])

    mix = torch.randn(1, int(spec["seconds"] * SAMPLE_RATE))
    with torch.no_grad():
        separate(mix[:, :SAMPLE_RATE])  # warm-up
        time = time_calls(lambda: separate(mix), repeats=1, warmup=0)[0]
    return {"time": time}


def profile_ours(weights: str, seconds: float) -> str:
    """torch.profiler table of our masknet on ``seconds`` of audio."""
    from torch.profiler import profile

    model = load_model("ours", weights)
    x = torch.randn(1, N, frames(seconds))
    with torch.no_grad():
        model(x)
        with profile() as prof:
            model(x)
    return prof.key_averages().table(
        sort_by="self_cpu_time_total", row_limit=15
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1, 4, 16 s")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--point", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.point:  # child process: one measurement
        spec = json.loads(args.point)
        set_threads(spec["threads"])
        torch.manual_seed(0)
        point = hour_point if spec["model"] == "ours-hour" else masknet_point
        report(point(spec))
        return

    load = os.getloadavg()[0]
    both = [1, 4, 16] if args.quick else [1, 4, 16, 64]
    ours_only = [] if args.quick else [256]
    repeats = 1 if args.quick else args.repeats
    torch.manual_seed(0)
    upstream = upstream_model()
    with tempfile.TemporaryDirectory() as tmp:
        weights = str(Path(tmp) / "upstream_masknet.pt")
        state = {
            k: v
            for k, v in upstream.state_dict().items()
            if not k.endswith(".pe")
        }
        torch.save(state, weights)

        # the two agree on these weights
        x = torch.randn(1, N, frames(4))
        ours = RESepFormer.from_upstream(upstream)
        with torch.no_grad():
            max_diff = (ours(x) - upstream(x)).abs().max().item()
        del ours, upstream

        def measure(model, seconds, reps=repeats):
            spec = dict(model=model, seconds=seconds, weights=weights)
            print(f"measuring {model} on {seconds} s ...", file=sys.stderr)
            result = run_point(
                __file__, {**spec, "repeats": reps}, args.threads
            )
            return {k: v for k, v in result.items() if k != "weights"}

        points = [measure(m, s) for s in both for m in ("upstream", "ours")]
        points += [measure("ours", s) for s in ours_only]
        if not args.quick:
            points.append(measure("ours-hour", 3600, 1))
        if args.profile:
            profile = profile_ours(weights, 16)

    write_csv(points, RESULTS / "resepformer_speed.csv")
    by = {(p["model"], p["seconds"]): p for p in points}
    rows = []
    for s in both + ours_only:
        up, us = by.get(("upstream", s)), by[("ours", s)]
        row = {
            "audio (s)": s,
            "frames": frames(s),
            "upstream (s)": up and up["time"],
            "ours (s)": us["time"],
            "speed-up": up and up["time"] / us["time"],
            "upstream peak RSS (GB)": up and up["peak_rss"] / GB,
            "ours peak RSS (GB)": us["peak_rss"] / GB,
            "RSS ours/upstream": up and us["peak_rss"] / up["peak_rss"],
        }
        rows.append(row)
    print(
        f"\nRE-SepFormer masknet, paper config, CPU, {args.threads} threads, "
        f"median of {repeats} run(s) after a warm-up; peak RSS of a fresh "
        f"process per point. max |ours - upstream| on 4 s: {max_diff:.1e}. "
        f"Load average before: {load:.2f}; OMP_WAIT_POLICY="
        f"{os.environ.get('OMP_WAIT_POLICY', 'unset')}.\n"
    )
    print(markdown_table(rows))
    for name in ("upstream", "ours"):
        if (name, 64) in by:
            ratio = by[(name, 64)]["time"] / by[(name, 16)]["time"]
            print(f"\n{name}: t(64 s) / t(16 s) = {ratio:.2f}")
    if ("ours-hour", 3600) in by:
        hour = by[("ours-hour", 3600)]
        print(
            f"\nOne hour of audio in one call (encoder + ours + decoder): "
            f"{hour['time']:.0f} s (real-time factor "
            f"{hour['time'] / 3600:.3f}), peak RSS "
            f"{hour['peak_rss'] / GB:.2f} GB"
        )
    if args.profile:
        print("\nProfile of ours on 16 s:\n\n" + profile)


if __name__ == "__main__":
    main()
