"""Unit tests of lobes.training: metrics, data checks, CSVs, dynamic
mixing and the Brain's batch skipping (in-process, seconds)."""

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from mir_eval.separation import bss_eval_sources
from sepdata import speaker_f0, write_corpus
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.dataio.sampler import DistributedSamplerWrapper
from speechbrain.nnet.losses import get_si_snr_with_pitwrapper

from hparams import MODELS
from lobes.training.brain import Separation
from lobes.training.csv_checks import check_csv
from lobes.training.csvs import (
    csv_dataset,
    signal_names,
    write_separation_csv,
)
from lobes.training.dynamic_mixing import DynamicMixing, EpochSampler
from lobes.training.errors import DataError
from lobes.training.metrics import bss_sdr, separation_scores

ROOT = Path(__file__).resolve().parents[1]
SR = 8000


def load_module(path: Path):
    """Imports a recipe file (recipes are scripts, not packages)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("wsj"), "wsj0-2mix")


@pytest.fixture(scope="module")
def wham(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("wham"), "wham")


# ---------------------------------------------------------------- metrics


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("case", ["permuted", "filtered", "mixture", "3spk"])
def test_sdr_matches_mir_eval(case):
    rng = np.random.default_rng(7)
    n_src = 3 if case == "3spk" else 2
    length = 2000 if case == "3spk" else 3000  # mir_eval is slow
    refs = rng.standard_normal((n_src, length))
    if case == "mixture":
        est = np.tile(refs.sum(0), (n_src, 1))
    else:
        est = refs[::-1] + 0.5 * rng.standard_normal(refs.shape)
        if case == "filtered":  # a short filter: what the 512 taps absorb
            taps = [1.0, 0.4, -0.2]
            est = np.stack([np.convolve(e, taps)[:length] for e in est])
    sdr, perm = bss_sdr(torch.from_numpy(refs), torch.from_numpy(est))
    want, _, _, want_perm = bss_eval_sources(refs, est)
    np.testing.assert_allclose(sdr.numpy(), want, atol=0.05)
    if case != "mixture":  # identical estimates: any permutation is right
        np.testing.assert_array_equal(perm.numpy(), want_perm)


def test_separation_scores_are_improvements_over_the_mixture():
    torch.manual_seed(0)
    refs = torch.randn(4000, 2)
    est = refs[:, [1, 0]] + 0.1 * torch.randn(4000, 2)  # swapped, good
    mix = refs.sum(-1)
    scores, perm = separation_scores(refs, est, mix)
    assert perm.tolist() == [1, 0]
    si_snr = -get_si_snr_with_pitwrapper(refs[None], est[None]).item()
    si_snr_mix = -get_si_snr_with_pitwrapper(
        refs[None], torch.stack([mix, mix], -1)[None]
    ).item()
    assert scores["si-snr"] == pytest.approx(si_snr, abs=1e-4)
    assert scores["si-snr_i"] == pytest.approx(si_snr - si_snr_mix, abs=1e-4)
    sdr_mix = bss_sdr(refs.T, torch.stack([mix, mix]))[0].mean().item()
    assert scores["sdr_i"] == pytest.approx(scores["sdr"] - sdr_mix, abs=1e-6)
    assert scores["si-snr_i"] > 15 and scores["sdr_i"] > 15


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_scores_of_exact_mixtures_warn_of_nothing():
    """A mixture that is the exact sum of its sources (every corpus's) has
    no artifacts as the SDRi baseline (SAR +inf), nor has a perfect
    estimate any interference: no "divide by zero" RuntimeWarning."""
    torch.manual_seed(0)
    refs = torch.randn(4000, 2)
    mix = refs.sum(-1)
    noisy = refs + 0.1 * torch.randn(4000, 2)
    scores, _ = separation_scores(refs, noisy, mix)
    assert all(np.isfinite(list(scores.values())))
    scores, _ = separation_scores(refs, refs, mix)
    assert scores["sdr"] > 60 and scores["sdr_i"] > 60


# ---------------------------------------------------------- data checks


def test_check_csv_accepts_prepared_data(corpus, tmp_path):
    prepare = load_module(ROOT / "recipes/WSJ0Mix/prepare_data.py")
    prepare.prepare_wsjmix(str(corpus), str(tmp_path))
    for split in ("tr", "cv", "tt"):
        check_csv(
            str(tmp_path / f"wsj_{split}.csv"), "", SR, ["mix", "s1", "s2"]
        )


@pytest.mark.parametrize(
    "fault, message",
    [
        ("sample_rate", "is sampled at 16000 Hz, but sample_rate is 8000"),
        ("stereo", "has 2 channels"),
        ("missing_file", "Audio file not found"),
        ("length", "differ in length"),
        ("column", "lacks the column(s) ['noise_wav']"),
        ("missing_csv", "CSV file not found"),
    ],
)
def test_check_csv_names_the_problem(corpus, tmp_path, fault, message):
    prepare = load_module(ROOT / "recipes/WSJ0Mix/prepare_data.py")
    prepare.prepare_wsjmix(str(corpus), str(tmp_path))
    csv_path = tmp_path / "wsj_cv.csv"
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    bad = tmp_path / "bad.wav"
    signals = ["mix", "s1", "s2"]
    if fault == "sample_rate":
        sf.write(bad, np.zeros(4000), 16000)
    elif fault == "stereo":
        sf.write(bad, np.zeros((4000, 2)), SR)
    elif fault == "length":
        sf.write(bad, np.zeros(123), SR)
    elif fault == "column":
        signals.append("noise")
    elif fault == "missing_csv":
        csv_path = tmp_path / "nowhere.csv"
    if fault in ("sample_rate", "stereo", "length", "missing_file"):
        rows[-1]["s2_wav"] = str(bad)  # missing_file: never written
        with open(csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    with pytest.raises((ValueError, FileNotFoundError)) as error:
        check_csv(str(csv_path), "", SR, signals)
    assert message in str(error.value)
    if fault != "column" and fault != "missing_csv":
        assert str(bad) in str(error.value) or rows[-1]["ID"] in str(
            error.value
        )


def test_prepare_errors_name_the_folder(corpus, tmp_path):
    prepare = load_module(ROOT / "recipes/WSJ0Mix/prepare_data.py")
    with pytest.raises(FileNotFoundError, match="data_folder not found"):
        prepare.prepare_wsjmix(str(tmp_path / "nope"), str(tmp_path))
    with pytest.raises(FileNotFoundError, match="wav8k/min/tr/s3"):
        prepare.prepare_wsjmix(str(corpus), str(tmp_path), n_spks=3)
    wham_prepare = load_module(ROOT / "recipes/WHAM/prepare_data.py")
    with pytest.raises(FileNotFoundError, match="mix_both"):
        wham_prepare.prepare_wham(str(corpus), str(tmp_path))  # wsj layout


def test_prepare_error_names_a_file_missing_in_a_source_folder(tmp_path):
    corpus = write_corpus(tmp_path / "c", "wsj0-2mix")
    victim = sorted((corpus / "wav8k/min/cv/s2").iterdir())[0]
    victim.unlink()
    prepare = load_module(ROOT / "recipes/WSJ0Mix/prepare_data.py")
    with pytest.raises(FileNotFoundError, match=victim.name):
        prepare.prepare_wsjmix(str(corpus), str(tmp_path))


def test_prepared_csvs_have_speechbrain_columns_and_read_back(wham, tmp_path):
    prepare = load_module(ROOT / "recipes/WHAM/prepare_data.py")
    prepare.prepare_wham(str(wham), str(tmp_path))
    csv_path = tmp_path / "whamorg_tt.csv"
    with open(csv_path, newline="") as f:
        header = next(csv.reader(f))
    upstream = ["ID", "duration"]  # recipes/WHAMandWHAMR/prepare_data.py
    for s in ("mix", "s1", "s2", "noise"):
        upstream += [f"{s}_wav", f"{s}_wav_format", f"{s}_wav_opts"]
    assert header == upstream
    data = csv_dataset(str(csv_path), "", signal_names(2, noise=True))
    item = data[0]
    folder = wham / "wav8k/min/tt"
    for signal, sub in [("mix", "mix_both"), ("s2", "s2"), ("noise", "noise")]:
        audio, _ = sf.read(folder / sub / f"{item['id']}.wav", dtype="float32")
        np.testing.assert_allclose(item[f"{signal}_sig"].numpy(), audio)


def test_write_separation_csv_counts_rows(corpus, tmp_path):
    split = corpus / "wav8k/min/tr"
    folders = {s: str(split / s) for s in ("mix", "s1", "s2")}
    assert write_separation_csv(folders, str(tmp_path / "x.csv")) == 4


# -------------------------------------------------------- dynamic mixing


def dominant_speaker(signal: torch.Tensor) -> int:
    """Tiny-corpus speaker whose f0 is the strongest peak of ``signal``."""
    spectrum = np.abs(np.fft.rfft(signal.numpy(), n=SR))  # 1 Hz bins
    return int(np.argmax([spectrum[int(speaker_f0(k))] for k in range(4)]))


def test_dynamic_mixing_draws_different_speakers_gains_and_lengths(corpus):
    clean = corpus / "clean" / "tr"
    lengths = [sf.info(p).frames for p in clean.rglob("*.wav")]
    dm = DynamicMixing(str(clean), num_items=40, signal_len=10**6, seed=3)
    short = DynamicMixing(str(clean), num_items=40, signal_len=2000, seed=3)
    gains, sizes = [], set()
    for index in range(40):
        item = dm[(1, index)]
        s1, s2, mix = item["s1_sig"], item["s2_sig"], item["mix_sig"]
        assert dominant_speaker(s1) != dominant_speaker(s2)
        torch.testing.assert_close(mix, s1 + s2)
        assert mix.abs().max() <= 0.9 + 1e-6  # anti-clipping
        gains.append(10 * torch.log10(s1.pow(2).mean() / s2.pow(2).mean()))
        assert min(lengths) <= len(mix) <= max(lengths)
        sizes.add(len(mix))
        assert len(short[(1, index)]["mix_sig"]) == 2000
    gains = torch.stack(gains)
    assert gains.min() >= -1e-3 and gains.max() <= 5 + 1e-3  # 0..5 dB
    assert gains.max() - gains.min() > 2  # drawn, not fixed
    assert len(sizes) > 5  # min of the two utterances' lengths


def test_dynamic_mixing_is_a_function_of_seed_epoch_and_index(corpus):
    clean = str(corpus / "clean" / "tr")
    a, b, c = (
        DynamicMixing(clean, num_items=8, signal_len=3000, seed=seed)
        for seed in (1, 1, 2)
    )

    def stream(dm, epoch):
        return torch.cat([dm[(epoch, i)]["mix_sig"] for i in range(8)])

    assert torch.equal(stream(a, 3), stream(b, 3))  # same seed: same stream
    assert not torch.equal(stream(a, 3)[:3000], stream(c, 3)[:3000])
    assert not torch.equal(stream(a, 3)[:3000], stream(a, 4)[:3000])


def test_dynamic_mixing_shards_are_disjoint_across_ranks(corpus):
    """What the Brain builds under DDP: SpeechBrain's DistributedSamplerWrapper
    around the EpochSampler, one per rank."""
    dm = DynamicMixing(str(corpus / "clean/tr"), num_items=12, signal_len=3000)
    shards = []
    for rank in range(3):
        sampler = DistributedSamplerWrapper(
            EpochSampler(len(dm)), num_replicas=3, rank=rank, shuffle=False
        )
        sampler.set_epoch(5)
        shards.append(list(sampler))
    keys = [k for shard in shards for k in shard]
    assert sorted(keys) == [(5, i) for i in range(12)]  # disjoint, complete
    loader = torch.utils.data.DataLoader(
        dm, sampler=shards[1], batch_size=2, collate_fn=PaddedBatch
    )
    ids = [i for batch in loader for i in batch.id]
    assert ids == [f"dm_5_{i}" for i in range(1, 12, 3)]


def test_dynamic_mixing_adds_wham_noise(wham):
    dm = DynamicMixing(
        str(wham / "clean/tr"),
        num_items=6,
        signal_len=3000,
        noise_folder=str(wham / "wav8k/min/tr/noise"),
    )
    for index in range(6):
        item = dm[(0, index)]
        s1, s2, noise = item["s1_sig"], item["s2_sig"], item["noise_sig"]
        torch.testing.assert_close(item["mix_sig"], s1 + s2 + noise)
        loud = max(s1.pow(2).mean(), s2.pow(2).mean())
        snr = 10 * torch.log10(loud / noise.pow(2).mean())
        assert -6 - 1e-3 <= snr <= 3 + 1e-3


def test_dynamic_mixing_redraws_silent_crops(tmp_path):
    """Long pauses are common in real recordings: a crop falling in one is
    drawn again instead of failing the epoch; a file that is silent
    throughout is named."""
    speech = 0.1 * np.random.default_rng(0).standard_normal(1000)
    for speaker in ("aaa", "bbb"):  # 1000 samples of signal, then silence
        sf.write(tmp_path / f"{speaker}1.wav", np.pad(speech, (0, 4000)), SR)
    dm = DynamicMixing(str(tmp_path), num_items=30, signal_len=800)
    for index in range(30):  # most first draws are silent: no error
        item = dm[(0, index)]
        for source in (item["s1_sig"], item["s2_sig"]):
            assert torch.isfinite(source).all() and source.abs().max() > 0
    sf.write(tmp_path / "bbb2.wav", np.zeros(5000), SR)  # bbb1 is not
    dm = DynamicMixing(str(tmp_path), num_items=30, signal_len=800)
    with pytest.raises(DataError, match="bbb2.wav: 20 random crops"):
        for index in range(30):
            dm[(0, index)]
    sf.write(tmp_path / "bbb1.wav", np.zeros(5000), SR)
    with pytest.raises(DataError, match="speaker bbb .*bbb1.wav.* all silent"):
        DynamicMixing(str(tmp_path), num_items=1, signal_len=800)


def test_dynamic_mixing_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="base_folder_dm"):
        DynamicMixing(str(tmp_path / "missing"), num_items=1)
    sf.write(tmp_path / "aaa00001.wav", np.zeros(100), 16000)
    with pytest.raises(ValueError, match="aaa00001.wav is sampled at 16000"):
        DynamicMixing(str(tmp_path), num_items=1)
    sf.write(tmp_path / "aaa00001.wav", np.zeros(100), SR)
    with pytest.raises(DataError, match="at least 2 speakers"):
        DynamicMixing(str(tmp_path), num_items=1)


def test_dynamic_mixing_reads_librispeech_speakers(tmp_path):
    """LibriSpeech: <speaker>/<chapter>/<speaker>-<chapter>-<n>.flac; the
    speaker is the folder two levels up (WSJ0's rule, the first three
    characters, would merge speakers 198 and 1988 and split nothing)."""
    rng = np.random.default_rng(0)
    for speaker, f0 in (("19", 200), ("198", 330), ("1988", 470)):
        folder = tmp_path / speaker / "7"
        folder.mkdir(parents=True)
        for n in range(2):
            t = np.arange(6000) / SR
            audio = 0.3 * np.sin(
                2 * np.pi * f0 * t
            ) + 0.01 * rng.standard_normal(6000)
            sf.write(folder / f"{speaker}-7-{n:04d}.flac", audio, SR)
    dm = DynamicMixing(
        str(tmp_path),
        num_items=6,
        num_spks=3,
        signal_len=4000,
        speakers="librispeech",
    )
    assert sorted(dm.speakers) == ["19", "198", "1988"]
    assert all(len(u) == 2 for u in dm.speakers.values())
    wsj0 = DynamicMixing(str(tmp_path), num_items=1, signal_len=4000)
    assert sorted(wsj0.speakers) == ["19-", "198"]  # the wrong rule merges
    item = dm[(1, 3)]
    assert {"s1_sig", "s2_sig", "s3_sig"} <= set(item)
    # three different speakers: three different pitches
    pitches = sorted(dominant_speaker_hz(item[f"s{k}_sig"]) for k in (1, 2, 3))
    assert pitches == pytest.approx([200, 330, 470], abs=5)
    with pytest.raises(ValueError, match="speakers='timit'"):
        DynamicMixing(str(tmp_path), num_items=1, speakers="timit")


def dominant_speaker_hz(signal: torch.Tensor) -> float:
    """The strongest frequency of a signal, in Hz."""
    spectrum = np.abs(np.fft.rfft(signal.numpy()))
    return float(np.argmax(spectrum) * SR / len(signal))


# ------------------------------------------------------------- the Brain


def tiny_brain(tmp_path: Path, **overrides) -> Separation:
    """A Separation Brain from the WSJ0Mix recipe YAML with a tiny model."""
    overrides = {
        "data_folder": str(tmp_path),
        "output_folder": str(tmp_path / "out"),
        "model": MODELS["resepformer"].tiny,
        **overrides,
    }
    with open(ROOT / "recipes/WSJ0Mix/hparams/resepformer.yaml") as f:
        hparams = load_hyperpyyaml(f, overrides)
    return Separation(
        modules=hparams["modules"],
        opt_class=hparams["optimizer"],
        hparams=hparams,
        run_opts={"device": "cpu"},
        checkpointer=hparams["checkpointer"],
    )


def batch_of(*mixtures: torch.Tensor) -> PaddedBatch:
    return PaddedBatch(
        [
            {"id": str(i), "mix_sig": m, "s1_sig": m / 2, "s2_sig": m / 2}
            for i, m in enumerate(mixtures)
        ]
    )


def test_fit_batch_skips_non_finite_losses(tmp_path):
    brain = tiny_brain(tmp_path, use_speedperturb=False)
    brain.init_optimizers()
    brain.nonfinite_count = 0
    before = [p.detach().clone() for p in brain.modules.parameters()]
    nan = torch.full((800,), float("nan"))
    loss = brain.fit_batch(batch_of(nan))
    assert not torch.isfinite(loss) and brain.nonfinite_count == 1
    for old, new in zip(before, brain.modules.parameters(), strict=True):
        assert torch.equal(old, new)
    loss = brain.fit_batch(batch_of(torch.randn(800)))
    assert torch.isfinite(loss) and brain.optimizer_step == 1
    changed = [
        not torch.equal(o, n)
        for o, n in zip(before, brain.modules.parameters(), strict=True)
    ]
    assert any(changed)


def test_threshold_byloss_drops_examples_already_separated(tmp_path):
    # examples with SI-SNR above -threshold dB are dropped: here all of them
    brain = tiny_brain(tmp_path, use_speedperturb=False, threshold=1000)
    brain.init_optimizers()
    brain.nonfinite_count = 0
    loss = brain.fit_batch(batch_of(torch.randn(800), torch.randn(800)))
    assert torch.isnan(loss) and brain.optimizer_step == 0
    assert brain.nonfinite_count == 1


def test_training_crops_and_speed_perturbation_keep_targets_aligned(tmp_path):
    brain = tiny_brain(
        tmp_path, limit_training_signal_len=True, training_signal_len=500
    )
    torch.manual_seed(0)
    s1, s2 = torch.randn(2, 1200), torch.randn(2, 1200)
    batch = PaddedBatch(
        [
            {"id": str(i), "mix_sig": s1[i] + s2[i], "s1_sig": s1[i]}
            | {"s2_sig": s2[i]}
            for i in range(2)
        ]
    )
    est, targets = brain.compute_forward(batch, sb.Stage.TRAIN)
    assert est.shape == targets.shape == (2, 500, 2)
    est, targets = brain.compute_forward(batch, sb.Stage.VALID)
    assert est.shape == targets.shape == (2, 1200, 2)
    torch.testing.assert_close(targets[..., 0], s1)  # no augmentation


def test_save_audio_writes_all_files_or_none(tmp_path, monkeypatch):
    """Test audio appears only when complete: a full disk midway leaves
    no file (no partial one at its final name) and one line naming the
    folder and the way out."""
    brain = tiny_brain(tmp_path)
    mix, targets = torch.randn(800), torch.randn(800, 2)
    brain.save_audio("u1", mix, targets, 0.5 * targets)
    folder = Path(brain.hparams.save_folder) / "audio_results"
    names = ["mix", "source1", "source1hat", "source2", "source2hat"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"itemu1_{n}.wav" for n in names
    )
    audio, rate = sf.read(folder / "itemu1_source2hat.wav")
    assert rate == SR and len(audio) == 800
    assert np.abs(audio).max() == pytest.approx(1, abs=1e-4)  # peak 1
    write_bytes, calls = Path.write_bytes, []

    def full_disk(path, data):
        calls.append(path)
        if len(calls) == 2:
            write_bytes(path, data[: len(data) // 2])
            raise OSError(28, "No space left on device")
        return write_bytes(path, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError) as error:
        brain.save_audio("u2", mix, targets, targets)
    message = str(error.value)
    assert "\n" not in message and str(folder) in message
    assert "No space left on device" in message and "free some space" in message
    assert "--save_audio=False" in message
    assert not list(folder.glob("itemu2_*")) and not list(folder.glob(".*"))
