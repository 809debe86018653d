"""Precision: separating in bf16 / fp16 (`lobes.inference.precision`), offline
and streaming, against fp32; training the recipes with SpeechBrain's
``--precision=bf16``."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from sepdata import write_corpus

from hparams import MODELS, model_option
from lobes.inference.precision import check_precision
from lobes.inference.separator import Separator
from lobes.inference.streaming import StreamingSeparator

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
LOBES = [name for name, model in MODELS.items() if not model.upstream]
CAUSAL = [
    name
    for name in LOBES
    if hasattr(MODELS[name].masknet, "forward_chunk")  # the streaming lobes
]


def si_snr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """SI-SNR in dB of each column of [T, S] against the same column."""
    estimate = estimate - estimate.mean(0)
    reference = reference - reference.mean(0)
    scale = (estimate * reference).sum(0) / (reference * reference).sum(0)
    target = scale * reference
    noise = estimate - target
    return 10 * torch.log10((target**2).sum(0) / (noise**2).sum(0))


def tiny_separator(name: str, precision: str, causal: bool = False):
    """A tiny model of ``hparams/<name>.yaml`` (same weights every call)."""
    sizes = dict(MODELS[name].tiny)
    if causal:
        sizes["causal"] = True
    torch.manual_seed(0)
    model = MODELS[name].build(sizes)
    return Separator(
        model.encoder, model.masknet, model.decoder, 8000, precision=precision
    )


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
@pytest.mark.parametrize("name", list(MODELS))
def test_low_precision_separation_close_to_fp32(name, precision):
    mix = torch.randn(8000, generator=torch.Generator().manual_seed(1))
    reference = tiny_separator(name, "fp32").separate(mix)
    low = tiny_separator(name, precision).separate(mix)
    assert low.dtype == torch.float32 and low.shape == reference.shape
    assert not torch.equal(low, reference)  # it did run in low precision
    assert (si_snr(low, reference) > 20).all(), si_snr(low, reference)


@pytest.mark.parametrize("name", CAUSAL)
def test_bf16_stream_close_to_fp32(name):
    mix = torch.randn(4000, generator=torch.Generator().manual_seed(2))
    reference = tiny_separator(name, "fp32", causal=True).separate_whole(mix)
    separator = tiny_separator(name, "bf16", causal=True)
    stream = separator.stream()
    assert isinstance(stream, StreamingSeparator)
    assert stream.precision == "bf16"
    out = torch.cat([stream.push(b) for b in mix.split(700)] + [stream.flush()])
    assert out.dtype == torch.float32 and out.shape == reference.shape
    assert not torch.equal(out, reference)
    assert (si_snr(out, reference) > 20).all(), si_snr(out, reference)


def test_precision_is_checked_in_one_line():
    with pytest.raises(ValueError, match="precision='fp64': choose one of"):
        tiny_separator("resepformer", "fp64")
    model = MODELS["resepformer"].build(
        MODELS["resepformer"].tiny | {"causal": True}
    )
    with pytest.raises(ValueError, match="choose one of fp32, bf16, fp16"):
        StreamingSeparator(
            model.encoder, model.masknet, model.decoder, precision="half"
        )
    check_precision("bf16", "cpu")  # this torch runs bf16 autocast on CPU


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("wsj0-2mix")
    return write_corpus(folder, "wsj0-2mix", n_mixtures=(2, 1, 1))


@pytest.mark.parametrize("name", LOBES)
def test_recipe_trains_in_bf16(name, corpus, tmp_path):
    """SpeechBrain's own flags, as a user passes them: a few steps of
    training, validation and test, all under bf16 autocast on the CPU."""
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "train.py",
            f"hparams/{name}.yaml",
            f"--model={model_option(MODELS[name].tiny)}",
            "--dataloader_opts={batch_size: 2, num_workers: 0}",
            "--eval_dataloader_opts={batch_size: 1, num_workers: 0}",
            "--noprogressbar",
            f"--data_folder={corpus}",
            f"--output_folder={out}",
            "--N_epochs=1",
            "--precision=bf16",
            "--eval_precision=bf16",
        ],
        cwd=ROOT / "recipes" / "WSJ0Mix",
        env=os.environ | {"OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    log = (out / "log.txt").read_text()
    assert "Using training precision: `--precision=bf16`" in log
    assert "Using evaluation precision: `--eval_precision=bf16`" in log
    train_log = (out / "train_log.txt").read_text()
    assert "epoch: 1" in train_log and "nan" not in train_log.lower()
    results = (out / "test_results.csv").read_text().splitlines()
    assert results[-1].startswith("avg,") and "nan" not in results[-1]
