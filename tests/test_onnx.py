"""ONNX export (`lobes.inference.onnx_export`) and separation under ONNX
Runtime (`lobes.inference.onnx_runtime`): one graph per lobe, dynamic in
batch and length, equal to torch within 1e-4."""

import shutil
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import soundfile as sf
import torch
from test_export import fake_run

from hparams import MODELS
from lobes.inference import onnx_export
from lobes.inference.cli import export_main, separate_main
from lobes.inference.loading import load_pretrained_modules
from lobes.inference.onnx_export import (
    ONNX_FILE,
    TRACE_SAMPLES,
    add_onnx,
    export_onnx,
)
from lobes.inference.onnx_runtime import OnnxSeparator
from lobes.inference.onnx_stream import STREAM_FILE
from lobes.inference.separator import Separator
from lobes.model import EncoderMaskerDecoder

pytestmark = pytest.mark.usefixtures("one_thread")

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "exported_fc55930"
LOBES = [name for name, model in MODELS.items() if not model.upstream]
# 0.37 s, 1 s, 2.3 s at 8 kHz, one not a multiple of the encoder's stride,
# one of a few frames; none the traced length
LENGTHS = [2960, 8000, 18400, 2963, 100]
ATOL = 1e-4


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """A pretrained folder per lobe, with its model.onnx (`add_onnx`)."""
    root = tmp_path_factory.mktemp("onnx")
    made = {}
    for name in LOBES:
        made[name] = shutil.copytree(FIXTURES / name, root / name)
        assert add_onnx(made[name]) == made[name] / ONNX_FILE
    return made


def torch_model(folder: Path) -> EncoderMaskerDecoder:
    _, modules = load_pretrained_modules(folder)
    return EncoderMaskerDecoder(
        modules["encoder"], modules["masknet"], modules["decoder"]
    ).eval()


@pytest.mark.parametrize("name", LOBES)
def test_onnx_model_equals_torch_at_every_length(name, folders):
    session = onnxruntime.InferenceSession(str(folders[name] / ONNX_FILE))
    (mix_input,) = session.get_inputs()
    (estimates,) = session.get_outputs()
    assert mix_input.name == "mix" and estimates.name == "estimates"
    # batch and time are named dynamic axes, the speakers fixed
    assert all(isinstance(d, str) for d in mix_input.shape)
    assert all(isinstance(d, str) for d in estimates.shape[:2])
    assert estimates.shape[2] == 2
    model = torch_model(folders[name])
    generator = torch.Generator().manual_seed(0)
    assert TRACE_SAMPLES not in LENGTHS
    for length in LENGTHS:
        for batch in (1, 3):
            mix = torch.randn(batch, length, generator=generator)
            with torch.no_grad():
                expected = model.separate(mix)
            (got,) = session.run(["estimates"], {"mix": mix.numpy()})
            assert got.shape == (batch, length, 2) and got.dtype == np.float32
            error = np.abs(got - expected.numpy()).max()
            assert error < ATOL, (name, length, batch, error)


def test_onnx_separator_separates_files_as_torch(folders, tmp_path):
    """Same resampling, trimming, windows and speaker alignment: only the
    model call differs."""
    folder = folders["resepformer"]
    rate = 16000  # the model's 8 kHz after resampling
    t = np.arange(int(3.3 * rate)) / rate
    mix = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 530 * t)
    path = tmp_path / "mix.wav"
    sf.write(path, mix.astype(np.float32), rate)
    options = dict(window_seconds=1.0, overlap_seconds=0.3)
    ours = OnnxSeparator.from_pretrained(folder, **options)
    reference = Separator.from_pretrained(folder, **options)
    assert (ours.sample_rate, ours.num_spks, ours.mode) == (8000, 2, "whole")
    assert ours.min_samples == reference.min_samples
    for mode in ("whole", "windowed"):
        got, got_rate = ours.separate_file(path, mode=mode)
        expected, expected_rate = reference.separate_file(path, mode=mode)
        assert got_rate == expected_rate == rate
        assert got.shape == expected.shape == (len(mix), 2)
        torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)
    with pytest.raises(ValueError, match="too short"):
        ours.separate_whole(torch.zeros(ours.min_samples - 1))
    with pytest.raises(ValueError, match=r"RESepFormer\(causal=False\) can"):
        ours.stream()


def test_missing_or_stale_onnx_model_is_explained(folders, tmp_path):
    folder = shutil.copytree(FIXTURES / "resepformer", tmp_path / "model")
    with pytest.raises(FileNotFoundError, match="has no model.onnx: add one"):
        OnnxSeparator.from_pretrained(folder)
    folder = shutil.copytree(folders["resepformer"], tmp_path / "retrained")
    state = torch.load(folder / "masknet.ckpt", weights_only=True)
    state["head.bias"] += 0.1  # retrained, exported again without --onnx
    torch.save(state, folder / "masknet.ckpt")
    with pytest.raises(ValueError, match="exported from other weights"):
        OnnxSeparator.from_pretrained(folder)


def test_failed_export_loses_nothing_and_leaves_the_model(
    tmp_path, monkeypatch
):
    """A file that fails the check against torch is never put in place: the
    previous file stays, no partial file is left; the model (in training
    mode, with dropout) comes back as it was."""
    sizes = MODELS["resepformer"].tiny | {"causal": True, "dropout": 0.1}
    model = MODELS["resepformer"].build(sizes).train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    path = tmp_path / "model.onnx"
    path.write_bytes(b"the previous export")
    monkeypatch.setattr(onnx_export, "max_onnx_error", lambda *args: 0.5)
    with pytest.raises(ValueError, match="differs from torch's by 5.00e-01"):
        export_onnx(model, path, 8000)
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]
    assert path.read_bytes() == b"the previous export"
    assert model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key])


def test_command_lines_export_and_separate_through_onnx(tmp_path):
    """``lobes.export --onnx`` puts a checked model.onnx in the folder it
    writes; ``lobes.separate --runtime onnx`` writes what ``--runtime
    torch`` writes; flags the ONNX runtime cannot honour, and --stream
    with a model that is not causal, are refused in one line before
    anything is written."""
    fake_run(tmp_path / "run", "resepformer", MODELS["resepformer"].tiny)
    out = tmp_path / "pretrained"
    assert export_main([str(tmp_path / "run"), str(out), "--onnx"]) == 0
    assert (out / ONNX_FILE).is_file()
    assert not (out / STREAM_FILE).exists()  # not causal: no stream graph
    mix = tmp_path / "mix.wav"
    sf.write(mix, np.random.default_rng(0).uniform(-0.5, 0.5, 9001), 8000)
    written = {}
    for runtime in ("torch", "onnx"):
        argv = [str(mix), "--model", str(out), "--out", str(tmp_path / runtime)]
        assert separate_main(argv + ["--runtime", runtime]) == 0
        written[runtime] = [
            sf.read(tmp_path / runtime / f"mix_s{k}.wav")[0] for k in (1, 2)
        ]
    for got, expected in zip(written["onnx"], written["torch"], strict=True):
        assert np.abs(got - expected).max() < ATOL
    argv = [str(mix), "--model", str(out), "--out", str(tmp_path / "no")]
    for flags in (["--stream"], ["--precision", "bf16"]):
        assert separate_main(argv + ["--runtime", "onnx", *flags]) == 2
    assert not (tmp_path / "no").exists()
    bare = shutil.copytree(FIXTURES / "resepformer", tmp_path / "bare")
    argv[2] = str(bare)
    assert separate_main(argv + ["--runtime", "onnx"]) == 2
