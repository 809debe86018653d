"""Tests of separation with pretrained models (lobes.inference, the command
``python -m lobes.separate``): one-pass and windowed separation of long
recordings, speaker order across windows, streaming against the offline
causal separation, and the command line with good and bad files."""

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio
from speechbrain.lobes.models.dual_path import (
    Decoder,
    Dual_Path_Model,
    Encoder,
    SBTransformerBlock,
)

from lobes.fsmn_flash import FlashFormer
from lobes.inference.audio import resample
from lobes.inference.cli import separate_main as main
from lobes.inference.pretrained import hyperparams_text, new_node
from lobes.inference.separator import NonFiniteOutputError, Separator
from lobes.inference.streaming import StreamingSeparator
from lobes.inference.windows import separate_windowed, window_starts
from lobes.latent_xattn import LatentSepFormer
from lobes.model import check_streamable
from lobes.resepformer import RESepFormer

RATE = 8000
DIM = 16
RESEPFORMER = {
    "in_channels": DIM,
    "num_spks": 2,
    "chunk_size": 10,
    "intra_layers": 1,
    "memory_layers": 1,
    "nhead": 2,
    "intra_d_ffn": 32,
    "memory_d_ffn": 32,
}


def codec() -> tuple[Encoder, Decoder]:
    """SpeechBrain's encoder (kernel 16, stride 8) and decoder, tiny."""
    return Encoder(16, DIM), Decoder(DIM, 1, 16, stride=8, bias=False)


def tiny_separator(masknet: torch.nn.Module) -> Separator:
    torch.manual_seed(0)
    encoder, decoder = codec()
    return Separator(
        encoder,
        masknet,
        decoder,
        RATE,
        window_seconds=0.5,
        overlap_seconds=0.1,
    )


def causal_masknets() -> dict[str, torch.nn.Module]:
    """Every lobe that streams, tiny and causal."""
    torch.manual_seed(0)
    return {
        "resepformer": RESepFormer(**RESEPFORMER, causal=True),
        "fsmn_flash": FlashFormer(
            DIM,
            num_layers=2,
            nhead=2,
            d_ffn=32,
            window_size=8,
            fsmn_hidden=16,
            fsmn_kernel_size=3,
            causal=True,
        ),
    }


pytestmark = pytest.mark.usefixtures("one_thread")


# --------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------


@pytest.mark.parametrize("lobe", ["resepformer", "fsmn_flash"])
@pytest.mark.parametrize(
    "length",
    [
        1003,  # a partial last step, 3 samples beyond the last frame
        49 * 8 + 16,  # exactly 50 frames: whole steps only
        200 * 8 + 16 + 5,
    ],
)
def test_stream_equals_offline_causal_separation(lobe, length):
    separator = tiny_separator(causal_masknets()[lobe])
    mix = torch.randn(length)
    offline = separator.separate_whole(mix)
    stream = separator.stream()
    rng = np.random.default_rng(length)
    outputs, received, emitted = [], 0, 0
    while received < length:
        n = int(rng.choice([0, 1, 7, 64, 150, 333]))
        block = mix[received : received + n]
        out = stream.push(block)
        received += block.shape[0]
        emitted += out.shape[0]
        outputs.append(out)
        # returned as soon as the model allows, never later
        assert received - emitted <= stream.latency_samples
    outputs.append(stream.flush())
    streamed = torch.cat(outputs)
    assert streamed.shape == (length, 2)
    torch.testing.assert_close(streamed, offline, atol=1e-5, rtol=1e-4)


def test_stream_latency_is_the_algorithmic_latency():
    """Sample by sample, the wait of the worst-placed sample is exactly
    (C - 1) * stride + kernel - 1 for chunks of C frames."""
    separator = tiny_separator(RESepFormer(**RESEPFORMER, causal=True))
    stream = separator.stream()
    assert stream.latency_samples == (10 - 1) * 8 + 16 - 1
    waits, emitted = [], 0
    for i, sample in enumerate(torch.randn(600)):
        emitted += stream.push(sample[None]).shape[0]
        waits.append(i + 1 - emitted)
    assert max(waits) == stream.latency_samples
    assert math.isclose(stream.latency_samples / RATE * 1000, 10.875)


def test_stream_of_fewer_samples_than_a_frame_is_zeros():
    stream = tiny_separator(RESepFormer(**RESEPFORMER, causal=True)).stream()
    assert stream.push(torch.randn(10)).shape == (0, 2)
    assert torch.equal(stream.flush(), torch.zeros(10, 2))
    with pytest.raises(RuntimeError, match="flushed"):
        stream.push(torch.randn(3))


def test_inputs_of_the_wrong_shape_or_not_finite_are_refused():
    """From Python too: one mixture [T] of finite samples, one channel
    [n] a block; no silent flattening, no NaN output from a NaN input."""
    separator = tiny_separator(RESepFormer(**RESEPFORMER, causal=True))
    with pytest.raises(ValueError, match=r"shape \[1, 4000\]: pass one"):
        separator.separate(torch.randn(1, 4000))
    mix = torch.randn(4000)
    mix[7] = float("nan")
    with pytest.raises(ValueError, match="1 NaN or infinite samples"):
        separator.separate(mix)
    with pytest.raises(NonFiniteOutputError, match="peak is 1e\\+30"):
        separator.separate(torch.full((4000,), 1e30))
    with pytest.raises(ValueError, match=r"shape \[400, 2\]: push one"):
        separator.stream().push(torch.randn(400, 2))


@pytest.mark.parametrize("orig, new", [(8001, 8000), (8000, 8001)])
def test_rates_with_a_small_common_divisor_resample_as_torchaudio(orig, new):
    """SciPy's polyphase filter there (torchaudio's kernel: 1.6 GB for
    8001 -> 8000 Hz); the reference is torchaudio's own result."""
    t = torch.arange(orig) / orig
    x = 0.5 * torch.sin(2 * math.pi * 440 * t) + 0.3 * torch.sin(
        2 * math.pi * 1500 * t
    )
    got = resample(x, orig, new)
    expected = torchaudio.functional.resample(x, orig, new)
    assert got.shape == expected.shape and got.dtype == torch.float32
    torch.testing.assert_close(got, expected, atol=5e-3, rtol=0)


def test_models_that_cannot_stream_are_refused_with_a_fix():
    fix = 'train one with --model="{causal: True}"'
    with pytest.raises(ValueError, match=r"RESepFormer\(causal=False\)") as e:
        check_streamable(RESepFormer(**RESEPFORMER))
    assert fix in str(e.value) and "without --stream" in str(e.value)
    latent = LatentSepFormer(
        DIM,
        byte_channels=DIM,
        chunk_size=10,
        num_repeats=1,
        num_latents=2,
        latent_dim=8,
        attention_dim=16,
        nhead=2,
        d_ffn=32,
        latent_d_ffn=16,
        num_global_latents=2,
        global_dim=16,
        global_d_ffn=16,
        causal=True,
    )
    with pytest.raises(ValueError, match="LatentSepFormer cannot stream"):
        tiny_separator(latent).stream()
    encoder, decoder = codec()
    with pytest.raises(ValueError, match="Dual_Path_Model cannot stream"):
        StreamingSeparator(encoder, sepformer(), decoder)


# --------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------


def sepformer() -> Dual_Path_Model:
    """A tiny upstream SepFormer masknet (quadratic: separated in windows)."""
    torch.manual_seed(0)

    def block():
        return SBTransformerBlock(
            1, DIM, 2, 32, dropout=0, use_positional_encoding=True
        )

    return Dual_Path_Model(
        DIM, DIM, block(), block(), num_layers=1, K=20, num_spks=2
    ).eval()


def test_window_layout_covers_with_the_overlap_and_unit_gain():
    for length in (801, 4000, 4001, 12345):
        starts = window_starts(length, 1000, 200)
        assert starts[0] == 0 and starts[-1] + 1000 == max(length, 1000)
        hops = np.diff(starts)
        assert ((hops > 0) & (hops <= 800)).all()  # overlaps >= 200
    mix = torch.randn(12345)
    out = separate_windowed(mix, lambda x: x[:, None], 1000, 200)
    torch.testing.assert_close(out[:, 0], mix)  # cross-fades sum to one


def alternating_talkers(seconds: float = 6.0, turn: float = 1.3):
    """Talker A (300 Hz) and talker B (1700 Hz) taking turns of ``turn``
    seconds, with 20 ms fades."""
    t = torch.arange(int(seconds * RATE)) / RATE
    a_turn = ((t // turn) % 2 == 0).float()
    fade = torch.hann_window(int(0.04 * RATE))
    gate = torch.nn.functional.conv1d(
        a_turn[None, None], (fade / fade.sum())[None, None], padding=160
    )[0, 0, : t.shape[0]]
    talker_a = 0.5 * torch.sin(2 * math.pi * 300 * t) * gate
    talker_b = 0.4 * torch.sin(2 * math.pi * 1700 * t) * (1 - gate)
    return talker_a, talker_b


def loudest_first(x: torch.Tensor) -> torch.Tensor:
    """A perfect band-split separator whose output order, like any
    separator's, depends on the window: the louder talker comes first."""
    spectrum = torch.fft.rfft(x)
    freqs = torch.fft.rfftfreq(len(x), 1 / RATE)
    low = torch.fft.irfft(spectrum * (freqs < 1000), n=len(x))
    est = torch.stack([low, x - low], -1)
    louder_high = (x - low).pow(2).sum() > low.pow(2).sum()
    return est.flip(-1) if louder_high else est


def snr(reference: torch.Tensor, estimate: torch.Tensor) -> float:
    error = (reference - estimate).pow(2).sum()
    return 10 * math.log10(reference.pow(2).sum() / error)


def test_windows_keep_the_speaker_order_of_alternating_talkers():
    talker_a, talker_b = alternating_talkers()
    mix = talker_a + talker_b
    window, overlap = RATE, RATE // 4

    def best_assignment(out):
        return max(
            min(snr(talker_a, out[:, p]), snr(talker_b, out[:, 1 - p]))
            for p in (0, 1)
        )

    aligned = separate_windowed(mix, loudest_first, window, overlap)
    assert best_assignment(aligned) > 20  # one talker per output throughout
    swapped = separate_windowed(mix, loudest_first, window, overlap, False)
    assert best_assignment(swapped) < 3  # what windowed tools get wrong


def test_one_pass_is_capped_for_bounded_memory():
    """Beyond max_pass_seconds, a linear-time lobe goes through aligned
    windows of that length (memory bounded whatever the length)."""
    one = tiny_separator(RESepFormer(**RESEPFORMER))
    capped = Separator(
        one.encoder,
        one.masknet,
        one.decoder,
        RATE,
        overlap_seconds=0.1,
        max_pass_seconds=0.3,
    )
    mix = torch.randn(4000)
    expected = separate_windowed(mix, one.separate_whole, 2400, 800)
    torch.testing.assert_close(capped.separate(mix), expected)
    torch.testing.assert_close(one.separate(mix), one.separate_whole(mix))
    short = mix[:2400]
    torch.testing.assert_close(
        capped.separate(short), one.separate_whole(short)
    )


def test_quadratic_masknets_are_separated_in_windows():
    separator = tiny_separator(sepformer())
    assert separator.mode == "windowed"
    assert tiny_separator(RESepFormer(**RESEPFORMER)).mode == "whole"
    short = torch.randn(3000)  # within one window: one pass
    torch.testing.assert_close(
        separator.separate(short), separator.separate_whole(short)
    )
    long = torch.randn(int(2.3 * RATE))
    out = separator.separate(long, progress=True)
    assert out.shape == (long.shape[0], 2) and torch.isfinite(out).all()
    # up to the second window: the first window's one-pass separation
    second = window_starts(long.shape[0], separator.window, separator.overlap)[
        1
    ]
    first = separator.separate_whole(long[: separator.window])
    torch.testing.assert_close(out[:second], first[:second])


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def pretrained_folder(folder: Path, causal: bool) -> Path:
    """A pretrained folder (as lobes.export writes) of a random tiny
    RE-SepFormer."""
    torch.manual_seed(1)
    encoder, decoder = codec()
    config = RESEPFORMER | {"causal": causal}
    masknet = RESepFormer(**config)
    folder.mkdir()
    text = hyperparams_text(
        "tiny test model",
        RATE,
        2,
        new_node(
            "speechbrain.lobes.models.dual_path.Encoder",
            {"kernel_size": 16, "out_channels": DIM},
        ),
        new_node("lobes.resepformer.RESepFormer", config),
        new_node(
            "speechbrain.lobes.models.dual_path.Decoder",
            {
                "in_channels": DIM,
                "out_channels": 1,
                "kernel_size": 16,
                "stride": 8,
                "bias": False,
            },
        ),
    )
    (folder / "hyperparams.yaml").write_text(text)
    modules = {"encoder": encoder, "masknet": masknet, "decoder": decoder}
    for name, module in modules.items():
        torch.save(module.state_dict(), folder / f"{name}.ckpt")
    return folder


@pytest.fixture(scope="module")
def causal_model(tmp_path_factory) -> Path:
    return pretrained_folder(tmp_path_factory.mktemp("m") / "causal", True)


def tones(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mix = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 900 * t)
    return mix.astype(np.float32)


def test_cli_separates_good_files_and_explains_bad_ones(
    causal_model, tmp_path, capsys
):
    inputs = tmp_path / "in"
    inputs.mkdir()
    good16 = inputs / "meeting16k.wav"
    sf.write(good16, tones(3.0, 16000), 16000)
    good8 = inputs / "call8k.flac"
    sf.write(good8, tones(2.0, RATE), RATE)
    stereo = inputs / "stereo.wav"
    sf.write(stereo, np.stack([tones(1.0, RATE)] * 2, 1), RATE)
    empty = inputs / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), RATE)
    short = inputs / "short.wav"
    sf.write(short, np.zeros(10, np.float32), 16000)
    nan = inputs / "nan.wav"
    audio = tones(1.0, RATE)
    audio[4000] = np.nan
    sf.write(nan, audio, RATE, subtype="FLOAT")
    garbage = inputs / "garbage.wav"
    garbage.write_text("not audio")
    missing = inputs / "missing.wav"
    out = tmp_path / "out"
    files = [good16, stereo, empty, short, nan, garbage, missing, good8]
    status = main(
        [*map(str, files), "--model", str(causal_model), "--out", str(out)]
    )
    assert status == 1
    summary = capsys.readouterr().out
    assert f"Separated 2 of 8 file(s) into {out}; 6 failed" in summary
    for message in (
        f"{stereo} has 2 channels, but the model separates a single-channel "
        "mixture. Pass --downmix",
        f"{empty} has no audio samples that can be read (no data, or "
        "truncated)",
        f"{short} is too short: 10 samples (0.62 ms) at 16000 Hz; the model "
        "needs at least 32 samples",
        f"{nan} contains 1 non-finite (NaN or infinite) sample(s), the first "
        "at 0.500 s",
        f"{garbage} cannot be read as audio",
        f"{missing}: file not found",
    ):
        assert message in summary
    assert sorted(p.name for p in out.iterdir()) == [
        "call8k_s1.wav",
        "call8k_s2.wav",
        "meeting16k_s1.wav",
        "meeting16k_s2.wav",
    ]
    for name, rate, length in (
        ("meeting16k", 16000, 48000),
        ("call8k", RATE, 16000),
    ):
        for k in (1, 2):
            info = sf.info(out / f"{name}_s{k}.wav")
            assert (info.samplerate, info.frames, info.channels) == (
                rate,
                length,
                1,
            )
    # at the model's rate: exactly the one-pass separation
    separator = Separator.from_pretrained(causal_model)
    mix, _ = sf.read(good8, dtype="float32")  # as stored: 16-bit FLAC
    expected = separator.separate_whole(torch.from_numpy(mix))
    for k in (1, 2):
        audio, _ = sf.read(out / f"call8k_s{k}.wav", dtype="float32")
        torch.testing.assert_close(torch.from_numpy(audio), expected[:, k - 1])
    # at 16 kHz: separated at 8 kHz and brought back (band-limited to 4 kHz)
    est, rate = separator.separate_file(good16)
    audio, _ = sf.read(out / "meeting16k_s1.wav", dtype="float32")
    assert rate == 16000
    torch.testing.assert_close(torch.from_numpy(audio), est[:, 0])


def test_cli_downmix_and_stream(causal_model, tmp_path, capsys):
    stereo = tmp_path / "stereo.wav"
    left, right = tones(1.5, RATE), 0.5 * tones(1.5, RATE)[::-1]
    sf.write(stereo, np.stack([left, right], 1), RATE, subtype="FLOAT")
    args = ["--model", str(causal_model), "--no-progress"]
    assert (
        main([str(stereo), *args, "--out", str(tmp_path / "a"), "--downmix"])
        == 0
    )
    separator = Separator.from_pretrained(causal_model)
    expected = separator.separate_whole(torch.from_numpy((left + right) / 2))
    audio, _ = sf.read(tmp_path / "a" / "stereo_s2.wav", dtype="float32")
    torch.testing.assert_close(torch.from_numpy(audio), expected[:, 1])

    # --stream: block by block, the same as offline
    status = main(
        [
            str(stereo),
            *args,
            "--out",
            str(tmp_path / "b"),
            "--downmix",
            "--stream",
            "--block",
            "0.013",
        ]
    )
    assert status == 0
    for k in (1, 2):
        offline, _ = sf.read(tmp_path / "a" / f"stereo_s{k}.wav")
        streamed, _ = sf.read(tmp_path / "b" / f"stereo_s{k}.wav")
        np.testing.assert_allclose(streamed, offline, atol=1e-5)

    # --stream feeds the file as it is: the model's rate only
    other = tmp_path / "16k.wav"
    sf.write(other, tones(1.0, 16000), 16000)
    assert (
        main([str(other), *args, "--out", str(tmp_path / "c"), "--stream"]) == 1
    )
    assert "--stream feeds the file as it is" in capsys.readouterr().out
    assert not (tmp_path / "c").exists()  # no partial outputs, no folder


def test_cli_refuses_to_stream_a_non_causal_model(tmp_path, capsys):
    model = pretrained_folder(tmp_path / "offline", causal=False)
    mix = tmp_path / "mix.wav"
    sf.write(mix, tones(1.0, RATE), RATE)
    status = main(
        [str(mix), "--model", str(model), "--out", str(tmp_path), "--stream"]
    )
    assert status == 2
    assert "RESepFormer(causal=False) cannot stream" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    status = main([str(mix), "--model", str(tmp_path / "empty"), "--out", "x"])
    assert status == 2
    assert "not a pretrained model folder" in capsys.readouterr().err
    status = main(
        [str(mix), "--model", str(tmp_path / "nowhere"), "--out", "x"]
    )
    assert status == 2
    assert "nowhere: folder not found" in capsys.readouterr().err
