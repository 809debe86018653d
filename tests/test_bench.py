"""Tests of the benchmarks (`bench`): the suite's model set is the
paper's, a tiny run writes sane CSV/Markdown/figures, one point runs in a
fresh process, and points that cannot run are recorded, not fatal; the
quality benchmark compares models at equal compute. No timing is asserted
beyond "a longer input takes longer". (The bench modules' docstring
examples run as doctests: ``bench`` is among pytest's testpaths.)"""

import csv
import os
import tempfile
from pathlib import Path

import pytest
import torch

from bench import quality
from bench.machine import machine_info
from bench.points import failure_reason, run_point
from bench.spread import spread_table, summarize
from bench.suite import measure
from bench.suite.cli import config_from_args, main, parse_args
from bench.suite.combine import write_combined
from bench.suite.models import MODELS
from bench.suite.plan import SuiteConfig, counted_gmacs, run_suite
from bench.suite.report import markdown_report, write_outputs
from bench.suite.skips import predict_peak, skip_reason
from bench.tables import format_value, write_csv
from hparams import MODELS as REGISTRY
from lobes.errors import CommandError
from lobes.training.brain import LOSS

# RE-SepFormer paper, Tables 1, 3 and 4; ours as documented in README.md
PARAMS_M = {
    "resepformer": 8.0,
    "latent_xattn": 20.7,
    "fsmn_flash": 6.2,
    "sepformer": 25.7,
    "sepformer-light": 6.4,
    "sb-resepformer": 8.0,
    "sb-skim": 14.5,
}
TINY_LENGTHS = [0.25, 4.0]


def tiny_config(tmp_path: Path, models: list[str], **kwargs) -> SuiteConfig:
    """A tiny in-process run of the suite writing into tmp_path."""
    config = dict(
        models=models,
        lengths=TINY_LENGTHS,
        threads=1,
        repeats=3,
        tiny=True,
        macs_seconds=(0.25,),
        isolate=False,
        out=tmp_path,
        name="suite_tiny",
        command="pytest",
        machine=machine_info(),
    )
    return SuiteConfig(**(config | kwargs))


def test_model_set_is_the_papers():
    """Default configurations (built on the meta device): parameter counts
    of the paper's Table 3 for the upstream models (SepFormer 25.7 M,
    SepFormer-Light 6.4 M, RE-SepFormer 8.0 M, SkiM 14.5 M) and of our
    documented sizes; SepFormer's 69.6 GMACs per second of audio."""
    for name, params in PARAMS_M.items():
        with torch.device("meta"):
            model = MODELS[name].build(False)
        count = sum(p.numel() for p in model.parameters()) / 1e6
        assert count == pytest.approx(params, rel=0.01), name
    info = measure.info_point(
        dict(model="sepformer", tiny=False, macs_seconds=[1], device="cpu")
    )
    assert info["gmacs_per_s"]["1"] == pytest.approx(69.6, rel=0.02)


def test_suite_models_are_the_registrys():
    """Every registry model is benchmarked, at its registry tiny size, the
    lobes and SepFormer under their registry names and labels, upstream
    RE-SepFormer as sb-resepformer; SepFormer-Light is the sepformer
    definition."""
    definitions = {m.definition for m in MODELS.values()}
    assert definitions == {*REGISTRY, None}  # None: SkiM, built in bench
    for name, suite_model in MODELS.items():
        if suite_model.definition is None:
            continue
        definition = REGISTRY[suite_model.definition]
        model = suite_model.build(True)
        assert type(model.masknet) is definition.masknet, name
        tiny = definition.build(definition.tiny)
        assert model.state_dict().keys() == tiny.state_dict().keys(), name
        assert all(
            a.shape == b.shape
            for a, b in zip(model.parameters(), tiny.parameters(), strict=True)
        ), name
        if name in REGISTRY:
            assert suite_model.definition == name
    assert [MODELS[m].label for m in ("resepformer", "fsmn_flash")] == [
        "RESepFormer",
        "FlashFormer",
    ]
    upstream = MODELS["sb-resepformer"]
    assert (upstream.definition, upstream.label) == (
        "resepformer_sb",
        "RE-SepFormer",
    )
    assert upstream.source == "SpeechBrain"
    light = MODELS["sepformer-light"]
    assert (light.label, light.source) == ("SepFormer-Light", "SpeechBrain")
    assert type(light.build(True).masknet) is REGISTRY["sepformer"].masknet


def test_tiny_suite_end_to_end(tmp_path):
    """Ours and the two upstream references, two lengths: CSV, Markdown
    and both figures written; one ok row per point, time grows with the
    length, and the ratio columns are the quotients of the time and
    memory columns."""
    models = ["resepformer", "sepformer", "sb-resepformer"]
    config = tiny_config(tmp_path, models)
    infos, rows = run_suite(config)
    paths = write_outputs(infos, rows, config)

    assert set(paths) == {"csv", "md", "time", "memory"}
    for key in ("time", "memory"):
        assert paths[key].read_bytes().startswith(b"\x89PNG")
    with open(paths["csv"]) as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(models) * len(TINY_LENGTHS)
    assert {r["status"] for r in table} == {"ok"}, [r["reason"] for r in table]
    by = {(r["model"], float(r["seconds"])): r for r in table}
    for name in models:
        short, long = (by[(name, s)] for s in TINY_LENGTHS)
        assert float(long["time_s"]) > float(short["time_s"]), name
        assert float(short["peak_mem_gb"]) > 0
        assert float(short["params_m"]) == infos[name]["params"] / 1e6
    ref = "sepformer"
    for (name, seconds), row in by.items():
        other = by[(ref, seconds)]
        if name == ref:
            assert row[f"time_vs_{ref}"] == ""
            continue
        assert float(row[f"time_vs_{ref}"]) == pytest.approx(
            float(row["time_s"]) / float(other["time_s"])
        )
        assert float(row[f"mem_vs_{ref}"]) == pytest.approx(
            float(row["peak_mem_gb"]) / float(other["peak_mem_gb"])
        )
    peaks = config.machine["peak_gflops"]
    assert set(peaks) == {"fp32", "bf16"} and peaks["fp32"] > 0
    for (name, seconds), row in by.items():  # 2 x MACs / time / peak
        macs = counted_gmacs(infos[name]["gmacs_per_s"], seconds) * seconds
        assert float(row["peak_fraction"]) == pytest.approx(
            2 * macs / float(row["time_s"]) / peaks["fp32"]
        )
    report = paths["md"].read_text()
    for heading in (
        "## Models",
        "## Inference time",
        "## Share of the fp32 matrix-product peak",
        "## Peak memory",
    ):
        assert heading in report
    assert "against upstream RE-SepFormer" in report
    assert "fig3_time_tiny.png" in report
    assert all(MODELS[m].label in report for m in models)


def test_point_in_a_fresh_process():
    """The parent/child protocol: one point runs as ``python -m
    bench.suite --point`` in a child process."""
    spec = dict(
        kind="measure",
        model="resepformer",
        tiny=True,
        seconds=0.5,
        device="cpu",
        dtype="fp32",
        repeats=1,
        warmup_seconds=None,
        profile=False,
    )
    result = run_point("bench.suite", spec, threads=1, check=False)
    assert result["status"] == "ok", result.get("stderr")
    assert result["peak_mem"] >= result["base_mem"] > 0
    # on CPU the point's peak memory is the process's high-water mark
    # (VmHWM), read again when the child reports: the same counter, which
    # the few objects made in between may push up by a page or two, not by
    # the megabytes between the current RSS and the peak
    assert 0 <= result["peak_rss"] - result["peak_mem"] <= 256 * 1024
    assert result["time_s"] > 0


def test_failed_point_skips_the_longer_ones(tmp_path, monkeypatch):
    """A point that fails is recorded with its reason, the model's longer
    points are skipped, and the report lists both."""
    measure_point = measure.measure_point

    def failing(spec):
        if spec["seconds"] == 0.5:
            raise RuntimeError("boom")
        return measure_point(spec)

    monkeypatch.setattr(measure, "measure_point", failing)
    config = tiny_config(
        tmp_path, ["resepformer"], lengths=[0.25, 0.5, 1.0], repeats=1
    )
    infos, rows = run_suite(config)
    assert [r["status"] for r in rows] == ["ok", "failed", "skipped"]
    assert "boom" in rows[1]["reason"]
    assert "0.5 s point ended in failed" in rows[2]["reason"]
    report = markdown_report(infos, rows, config)
    assert "## Points not measured" in report


def test_memory_prediction_skips_what_would_not_fit():
    """Growth fitted on the last two points, clamped to [1, 2]."""

    def rows(*points):
        return [
            dict(seconds=s, status="ok", base_mem_gb=1.0, peak_mem_gb=1 + g)
            for s, g in points
        ]

    quadratic = rows((16, 0.5), (64, 8.0))  # x16 over x4: p = 2
    assert predict_peak(quadratic, 256) == pytest.approx(1 + 128)
    assert "would not fit" in skip_reason(quadratic, 256, 24.0)
    linear = rows((16, 0.1), (64, 0.4))
    assert predict_peak(linear, 256) == pytest.approx(1 + 1.6)
    assert skip_reason(linear, 256, 24.0) is None
    assert skip_reason(linear, 256, 0.0) is None  # unknown: run it
    assert predict_peak([], 4) is None


def test_failure_reasons():
    """A SIGKILLed child (the OOM killer) and a failed allocation read as
    out of memory; anything else as a failure with its last line."""
    assert failure_reason(-9, "")[0] == "oom"
    cuda = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate"
    assert failure_reason(1, cuda)[0] == "oom"
    status, reason = failure_reason(1, "Traceback\nKeyError: 'x'\n")
    assert status == "failed" and "KeyError" in reason


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_is_a_clear_error(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--device", "cuda"])
    assert "torch.cuda.is_available() is False" in capsys.readouterr().err


def test_output_names_never_overwrite_the_full_run():
    """Quick, subset, tiny and GPU runs write to their own files."""

    def name(*argv):
        return config_from_args(parse_args(argv)).name

    assert name() == "suite"
    assert name("--quick") == "suite_quick"
    assert name("--models", "resepformer") == "suite_custom"
    assert name("--tiny") == "suite_tiny"
    config = config_from_args(parse_args(["--quick"]))
    assert config.lengths == [1.0, 4.0] and config.dtype == "fp32"
    # other precisions and runtimes: their own files too
    assert name("--models", "resepformer", "--precision", "bf16") == (
        "suite_custom_bf16"
    )
    assert name("--precision", "fp32") == "suite"
    onnx = config_from_args(parse_args(["--quick", "--runtime", "onnx"]))
    assert (onnx.name, onnx.runtime, onnx.dtype) == (
        "suite_quick_onnx",
        "onnx",
        "fp32",
    )


def test_onnx_runtime_needs_fp32_on_the_cpu(capsys):
    """--runtime onnx with bf16 (or fp16) is one clear parser error."""
    for precision in ("bf16", "fp16"):
        with pytest.raises(SystemExit) as exit_info:
            parse_args(["--runtime", "onnx", "--precision", precision])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert "--runtime onnx measures fp32 models on the CPU" in err
    with pytest.raises(ValueError, match="runtime onnx runs fp32"):
        SuiteConfig(models=[], lengths=[], dtype="bf16", runtime="onnx")


def test_tiny_suite_under_onnx_runtime(tmp_path, monkeypatch):
    """--runtime onnx: our lobe is exported once and measured under ONNX
    Runtime (never through torch), upstream RE-SepFormer in torch fp32 in
    the same run; rows record the runtime, the ratios are the quotients,
    the peak share is of the fp32 peak, and no ONNX file is left."""
    measure_point = measure.measure_point

    def torch_only_upstream(spec):
        assert spec["model"] != "resepformer", "ran in torch"
        return measure_point(spec)

    monkeypatch.setattr(measure, "measure_point", torch_only_upstream)
    left = set(Path(tempfile.gettempdir()).glob("bench-onnx-*"))
    models = ["resepformer", "sb-resepformer"]
    config = tiny_config(
        tmp_path, models, runtime="onnx", name="suite_tiny_onnx"
    )
    infos, rows = run_suite(config)
    paths = write_outputs(infos, rows, config)

    with open(paths["csv"]) as f:
        by = {(r["model"], float(r["seconds"])): r for r in csv.DictReader(f)}
    assert {r["status"] for r in by.values()} == {"ok"}, by
    peak = config.machine["peak_gflops"]["fp32"]
    for seconds in TINY_LENGTHS:
        ours = by[("resepformer", seconds)]
        ref = by[("sb-resepformer", seconds)]
        assert (ours["runtime"], ref["runtime"]) == ("onnx", "torch")
        assert ours["dtype"] == ref["dtype"] == "fp32"
        assert float(ours["time_s"]) > 0
        assert float(ours["time_vs_sb-resepformer"]) == pytest.approx(
            float(ours["time_s"]) / float(ref["time_s"])
        )
        macs = counted_gmacs(infos["resepformer"]["gmacs_per_s"], seconds)
        assert float(ours["peak_fraction"]) == pytest.approx(
            2 * macs * seconds / float(ours["time_s"]) / peak
        )
    assert infos["resepformer"]["onnx_export_s"] > 0
    assert "onnx_export_s" not in infos["sb-resepformer"]
    report = paths["md"].read_text()
    assert report.startswith("# Benchmark suite: `suite_tiny_onnx` (ONNX")
    assert "our lobes under ONNX Runtime" in report
    assert not list(tmp_path.rglob("*.onnx"))
    assert set(Path(tempfile.gettempdir()).glob("bench-onnx-*")) == left


def suite_rows(run: str, times: dict, cpu: str = "CPU X") -> list[dict]:
    """Rows of a suite CSV of one run (``fp32``, ``bf16`` or ``onnx``),
    with times {(model, seconds): s}."""
    ours = {"resepformer", "latent_xattn", "fsmn_flash"}
    return [
        dict(
            model=model,
            label=MODELS[model].label,
            source=MODELS[model].source,
            seconds=seconds,
            dtype="fp32" if run == "onnx" else run,
            runtime="onnx" if run == "onnx" and model in ours else "torch",
            threads=2,
            status="ok",
            time_s=time_s,
            peak_fraction=0.1 * time_s,
            peak_gflops_fp32=200.0,
            peak_gflops_bf16=800.0,
            machine=f"{cpu}; 2 cores; 8 GB; torch 2; 2026-01-01",
        )
        for (model, seconds), time_s in times.items()
    ]


def test_combined_table_of_three_runs(tmp_path):
    """fp32, bf16 and ONNX CSVs of one machine: one table, each cell the
    run's time, its quotients by upstream RE-SepFormer's and SkiM's time
    in the same CSV, and its peak share; mixed machines are refused."""
    times = {
        "fp32": {("resepformer", 4.0): 1.0, ("resepformer", 16.0): 4.0},
        "bf16": {("resepformer", 4.0): 0.5, ("resepformer", 16.0): 2.0},
        "onnx": {("resepformer", 4.0): 0.8, ("resepformer", 16.0): 3.0},
    }
    upstream = {"fp32": 2.0, "bf16": 1.0, "onnx": 2.5}  # per 4 s
    paths = []
    for run, ours in times.items():
        for seconds in (4.0, 16.0):
            ours[("sb-resepformer", seconds)] = upstream[run] * seconds / 4
            ours[("sb-skim", seconds)] = 0.4 * seconds / 4
        path = tmp_path / f"{run}.csv"
        rows = suite_rows(run, ours)
        if run == "fp32":  # a CSV of before the runtime column
            for row in rows:
                del row["runtime"]
        paths.append(write_csv(rows, path))

    written = main(["--combine", *map(str, paths), "--out", str(tmp_path)])
    with open(written["csv"]) as f:
        rows = csv.DictReader(f)
        table = {(r["model"], float(r["seconds"])): r for r in rows}
    assert set(table) == {
        (m, s)
        for m in ("resepformer", "sb-resepformer", "sb-skim")
        for s in (4.0, 16.0)
    }
    for run, ours in times.items():
        for seconds in (4.0, 16.0):
            row = table[("resepformer", seconds)]
            time_s = ours[("resepformer", seconds)]
            assert float(row[f"{run}_time_s"]) == time_s
            for ref in ("sb-resepformer", "sb-skim"):
                assert float(row[f"{run}_vs_{ref}"]) == pytest.approx(
                    time_s / ours[(ref, seconds)]
                )
            assert float(row[f"{run}_peak_fraction"]) == pytest.approx(
                0.1 * time_s
            )
    report = written["md"].read_text()
    assert written["md"].name == "suite_precisions.md"
    assert "| model | length | fp32 | bf16 | ONNX |" in report
    # 16 s: fp32 4 s, RE-SepFormer 8 s, SkiM 1.6 s, 40% of the peak
    assert "| RESepFormer | 16 s | 4 (0.50, 2.50; 40%) |" in report
    assert "CPU X" in report and "fp32 200, bf16 800" in report

    other = write_csv(
        suite_rows("bf16", times["bf16"], cpu="CPU Y"), tmp_path / "y.csv"
    )
    with pytest.raises(CommandError, match="combine runs of one machine"):
        write_combined([paths[0], other], tmp_path)
    with pytest.raises(CommandError, match="both bf16 runs"):
        write_combined([paths[1], paths[1]], tmp_path / "o")
    with pytest.raises(SystemExit) as exit_info:  # one line, exit status 2
        main(["--combine", str(tmp_path / "missing.csv")])
    assert exit_info.value.code == 2


def test_quality_benchmark_compares_models_at_equal_compute():
    """bench.quality trains every masknet, and both ablations, at a size
    of nearly the same GMACs per second (its tables claim "equal budget"),
    the registry's small sizes."""
    costs = {
        name: quality.model_cost(run.model, run.sizes)
        for name, run in quality.RUNS.items()
    }
    macs = [cost["GMACs/s"] for cost in costs.values()]
    assert max(macs) / min(macs) < 1.25, costs
    assert all(0.1 < cost["params_M"] < 2 for cost in costs.values())
    # upstream RE-SepFormer beside ours, the same function at the same size
    assert REGISTRY[quality.RUNS["resepformer_sb"].model].upstream
    assert costs["resepformer_sb"] == costs["resepformer"]


def test_quality_scores_read_the_recipe_outputs(tmp_path):
    (tmp_path / "train_log.txt").write_text(
        f"epoch: 1, lr: 1.00e-03 - train {LOSS}: 4.84 - valid {LOSS}: 1.42\n"
        f"epoch: 2, lr: 1.00e-03 - train {LOSS}: -1.5e+00 - valid {LOSS}: 2\n"
        f"Epoch loaded: 2 - test {LOSS}: -1.09e+00\n"
    )
    (tmp_path / "test_results.csv").write_text(
        "snt_id,sdr,sdr_i,si-snr,si-snr_i\na,1,2,3,4\navg,1.5,2.5,3.5,4.5\n"
    )
    expected = {
        "train SI-SNR": 1.5,
        "tested epoch": 2,
        "SI-SNRi": 4.5,
        "SDRi": 2.5,
        "real SI-SNRi": None,  # no real-speech test split: empty cells
        "real SDRi": None,
    }
    assert quality.scores(tmp_path) == expected
    row = {"name": "x", **expected}
    assert quality.markdown_table([row]).endswith("| 4.5 | 2.5 |  |  |")
    # the real-speech test split, scored by the recipe after the test split
    real = tmp_path / "test_results_real.csv"
    real.write_text(
        "snt_id,sdr,sdr_i,si-snr,si-snr_i\nr,1,2,3,4\navg,0.5,1.25,0.75,1.5\n"
    )
    expected |= {"real SI-SNRi": 1.5, "real SDRi": 1.25}
    assert quality.scores(tmp_path) == expected
    # one older than test_results.csv was left by an earlier evaluation
    synthetic = (tmp_path / "test_results.csv").stat().st_mtime_ns
    os.utime(real, ns=(synthetic - 10**9, synthetic - 10**9))
    assert quality.scores(tmp_path)["real SI-SNRi"] is None


def test_quality_tables_give_mean_and_spread_over_seeds():
    """Per run: the mean of each score over the seeds ± half its range,
    real-voice columns included (empty where a corpus had none); one seed
    gives the value alone."""

    def row(name, seed, epoch, *values):
        return {
            "name": name,
            "model": name.upper(),
            "seed": seed,
            "params_M": 0.3,
            "tested epoch": epoch,
            **dict(zip(quality.SCORES, values, strict=True)),
        }

    rows = [
        row("a", 1, 3, 1.0, 2.0, 2.5, 0.5, 1.0),
        row("b", 1, 5, 4.0, 4.5, 5.0, None, None),
        row("a", 2, 4, 2.0, 3.0, 3.5, 1.5, 1.0),
    ]
    a, b = summarize(rows, quality.SCORES, ["tested epoch"])
    assert (a["model"], a["seeds"], a["tested epoch"]) == ("A", "1, 2", "3, 4")
    assert "seed" not in a and a["params_M"] == 0.3
    means = [a[s] for s in quality.SCORES]
    halves = [a[f"{s} ±"] for s in quality.SCORES]
    assert means == [1.5, 2.5, 3.0, 1.0, 1.0]
    assert halves == [0.5, 0.5, 0.5, 0.5, 0.0]
    assert b["seeds"] == "1" and b["SI-SNRi"] == 4.5
    assert b["SI-SNRi ±"] is None and b["real SDRi"] is None
    columns = [*quality.COLUMNS, *quality.SCORES]
    lines = spread_table([a, b], columns, quality.SCORES).splitlines()
    assert lines[0].split(" | ")[-5:] == [*quality.SCORES[:-1], "real SDRi |"]
    assert lines[2] == (
        "| A | 0.3 |  |  | 1, 2 | 3, 4 | 1.5 ± 0.5 | 2.5 ± 0.5 | 3 ± 0.5 | "
        "1 ± 0.5 | 1 ± 0 |"
    )
    assert lines[3] == "| B | 0.3 |  |  | 1 | 5 | 4 | 4.5 | 5 |  |  |"


def test_quality_smoke_trains_every_seed_and_resumes(tmp_path):
    """bench.quality --smoke --seeds 1 2 with upstream RE-SepFormer: the
    WSJ0Mix recipe trains one run per seed, each in its own folder with
    the seed passed on; the CSV has a row per seed and the table their
    mean ± half range; run again, a finished run is only scored again.
    The committed results are left alone."""
    committed = quality.RESULTS / "quality.csv"
    stamp = committed.stat().st_mtime_ns
    out = tmp_path / "quality"
    options = ["--smoke", "--real-voices", "off", "--out", str(out)]
    options += ["--models", "resepformer_sb", "--jobs", "2"]
    quality.main([*options, "--seeds", "1", "2"])

    with open(out / "quality.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["name"], r["seed"]) for r in rows] == [
        ("resepformer_sb", "1"),
        ("resepformer_sb", "2"),
    ]
    for r in rows:
        run = out / "resepformer_sb" / r["seed"]
        hparams = (run / "hyperparams.yaml").read_text().splitlines()
        assert f"seed: {r['seed']}" in hparams
        assert "!new:speechbrain.lobes.models.resepformer." in "".join(hparams)
        assert quality.scores(run)["SI-SNRi"] == float(r["SI-SNRi"])
    # another seed: other initial weights and training mixtures
    assert rows[0]["train SI-SNR"] != rows[1]["train SI-SNR"]
    scores = [float(r["SI-SNRi"]) for r in rows]
    mean, half = sum(scores) / 2, abs(scores[0] - scores[1]) / 2
    table = (out / "quality.md").read_text()
    assert "| RE-SepFormer (upstream) |" in table and "Per seed:" in table
    assert "| 1, 2 | 1, 1 |" in table
    assert f" {format_value(mean)} ± {half:.2g} |" in table
    assert "--seeds 1 2 --models resepformer_sb --smoke" in table

    log = out / "resepformer_sb" / "2" / "train_log.txt"
    epochs = log.read_text().count("epoch: ")
    quality.main([*options, "--seeds", "2"])  # resumes: nothing to train
    assert log.read_text().count("epoch: ") == epochs == 1
    with open(out / "quality.csv", newline="") as f:
        (again,) = csv.DictReader(f)
    assert (
        again["seed"] == "2"
        and again["train SI-SNR"] == rows[1]["train SI-SNR"]
    )
    assert float(again["SI-SNRi"]) == pytest.approx(scores[1], abs=1e-6)
    assert committed.stat().st_mtime_ns == stamp
