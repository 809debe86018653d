"""Streaming through ONNX Runtime (`lobes.inference.onnx_stream`,
`lobes.inference.onnx_runtime.OnnxStream`): ``lobes.export --onnx`` writes
``stream.onnx`` for a causal model, and its stream equals the torch stream
and the offline separation within 1e-4, from the API and the command
line."""

import shutil
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import soundfile as sf
import torch
from test_export import fake_run

from hparams import MODELS
from lobes.inference.cli import export_main, separate_main
from lobes.inference.onnx_export import ONNX_FILE, checkpoints_digest
from lobes.inference.onnx_runtime import OnnxSeparator, OnnxStream
from lobes.inference.onnx_stream import (
    DECODED,
    NEXT,
    SAMPLES,
    STREAM_FILE,
    export_stream_onnx,
)
from lobes.inference.separator import Separator
from lobes.inference.streaming import BlockStream

pytestmark = pytest.mark.usefixtures("one_thread")

CAUSAL = ["resepformer", "fsmn_flash"]
ATOL = 1e-4
# 601 encoder frames: 30 steps of 20 frames (tiny chunk and window), the
# caches growing at each, then a last step of one frame
LENGTH = 16 + 8 * 600 + 3


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """A pretrained folder per causal lobe (tiny) from a recipe run: the
    RE-SepFormer's written by ``lobes.export --onnx`` (model.onnx and
    stream.onnx), the FlashFormer's by ``lobes.export`` and then
    `export_stream_onnx` alone (its model.onnx, a 40 s export, is tested
    in test_onnx.py)."""
    root = tmp_path_factory.mktemp("onnx_stream")
    made = {}
    for name in CAUSAL:
        run, made[name] = root / f"run_{name}", root / name
        fake_run(run, name, MODELS[name].tiny | {"causal": True})
        flags = ["--onnx"] if name == "resepformer" else []
        assert export_main([str(run), str(made[name]), *flags]) == 0
    folder = made["fsmn_flash"]
    digest = {"checkpoints": checkpoints_digest(folder)}
    path = folder / STREAM_FILE
    model = Separator.from_pretrained(folder).model
    assert export_stream_onnx(model, path, 8000, metadata=digest) == path
    return made


def onnx_stream(folder: Path) -> BlockStream:
    """A new ONNX stream of ``folder``: through `OnnxSeparator.stream`
    where the folder has its model.onnx."""
    if (folder / ONNX_FILE).is_file():
        return OnnxSeparator.from_pretrained(folder).stream()
    return OnnxStream(folder / STREAM_FILE)


def blocks(mix: torch.Tensor, seed: int) -> list[torch.Tensor]:
    """``mix`` in irregular blocks, empty ones and single samples among
    them."""
    rng = np.random.default_rng(seed)
    out, start = [], 0
    while start < len(mix):
        n = int(rng.choice([0, 1, 7, 64, 150, 333, 1000]))
        out.append(mix[start : start + n])
        start += n
    return out


@pytest.mark.parametrize("name", CAUSAL)
def test_export_writes_a_stream_graph_with_its_state(name, exported):
    """stream.onnx beside model.onnx: samples and the state in, decoded
    samples and the next state out; only the samples and the caches have
    dynamic axes, and each state input has its next value as an output."""
    folder = exported[name]
    assert (folder / STREAM_FILE).is_file()
    session = onnxruntime.InferenceSession(str(folder / STREAM_FILE))
    inputs = session.get_inputs()
    outputs = session.get_outputs()
    assert inputs[0].name == SAMPLES and isinstance(inputs[0].shape[0], str)
    assert outputs[0].name == DECODED and outputs[0].shape[0] == 2
    state = inputs[1:]
    assert [o.name for o in outputs[1:]] == [NEXT + i.name for i in state]
    growing = [
        i.name for i in state if any(isinstance(d, str) for d in i.shape)
    ]
    assert growing and all(n.endswith(("_keys", "_values")) for n in growing)
    meta = session.get_modelmeta().custom_metadata_map
    assert (meta["kernel"], meta["stride"], meta["stream_frames"]) == (
        "16",
        "8",
        "20",
    )
    assert meta["causal"] == "True" and meta["sample_rate"] == "8000"


@pytest.mark.parametrize("name", CAUSAL)
def test_onnx_stream_equals_torch_stream_and_offline(name, exported):
    folder = exported[name]
    reference = Separator.from_pretrained(folder)
    mix = torch.randn(LENGTH, generator=torch.Generator().manual_seed(1))
    torch_stream, ours = reference.stream(), onnx_stream(folder)
    assert ours.latency_samples == torch_stream.latency_samples
    got, expected = [], []
    received = emitted = 0
    for block in blocks(mix, seed=len(name)):
        got.append(ours.push(block))
        expected.append(torch_stream.push(block))
        assert got[-1].shape == expected[-1].shape
        received += len(block)
        emitted += len(got[-1])
        assert received - emitted <= ours.latency_samples
    # the caches grew by one position a step (30 steps so far)
    caches = [s for s in ours._state if s.ndim == 4]
    assert caches and all(c.shape[2] == 30 for c in caches)
    got.append(ours.flush())
    expected.append(torch_stream.flush())
    got, expected = torch.cat(got), torch.cat(expected)
    assert got.shape == (LENGTH, 2)
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)
    offline = reference.separate_whole(mix)
    torch.testing.assert_close(got, offline, atol=ATOL, rtol=0)
    assert expected.abs().max() > 100 * ATOL  # not a comparison of zeros
    with pytest.raises(RuntimeError, match="flushed already"):
        ours.flush()


def test_cli_streams_through_onnx_as_through_torch(exported, tmp_path):
    """``lobes.separate --stream --runtime onnx`` writes what ``--runtime
    torch`` writes."""
    mix = tmp_path / "mix.wav"
    rng = np.random.default_rng(0)
    sf.write(mix, rng.uniform(-0.5, 0.5, 2 * 8000 + 5), 8000)
    written = {}
    for runtime in ("torch", "onnx"):
        out = tmp_path / runtime
        model = str(exported["resepformer"])
        argv = [str(mix), "--model", model, "--out", str(out)]
        flags = ["--stream", "--block", "0.03", "--runtime", runtime]
        assert separate_main(argv + flags) == 0
        written[runtime] = [sf.read(out / f"mix_s{k}.wav")[0] for k in (1, 2)]
    for got, expected in zip(written["onnx"], written["torch"], strict=True):
        assert got.shape == expected.shape == (2 * 8000 + 5,)
        assert np.abs(got - expected).max() < ATOL


def test_missing_or_stale_stream_graph_is_explained(exported, tmp_path, capsys):
    """A causal folder exported before stream.onnx existed, or one whose
    stream.onnx is another model's: one line, nothing written."""
    folder = shutil.copytree(exported["resepformer"], tmp_path / "old")
    (folder / STREAM_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="has no stream.onnx: export"):
        OnnxSeparator.from_pretrained(folder).stream()
    mix = tmp_path / "mix.wav"
    sf.write(mix, np.zeros(800), 8000)
    out = tmp_path / "out"
    argv = [str(mix), "--model", str(folder), "--out", str(out), "--stream"]
    assert separate_main(argv + ["--runtime", "onnx"]) == 2
    assert "has no stream.onnx" in capsys.readouterr().err
    assert not out.exists()
    other = exported["fsmn_flash"] / STREAM_FILE
    shutil.copyfile(other, folder / STREAM_FILE)
    with pytest.raises(ValueError, match="exported from other weights"):
        OnnxSeparator.from_pretrained(folder).stream()
