"""Tests of the embedded corpus, measured on the files as written."""

import errno
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from lobes.corpus.cli import main
from lobes.corpus.espeak import ESpeak, Speaker
from lobes.corpus.layouts import LAYOUTS
from lobes.corpus.mixing import (
    MAX_GAIN_DB,
    PEAK,
    SNR_RANGE_DB,
    add_noise,
    mix_sources,
)
from lobes.corpus.statistics import corpus_statistics, format_statistics
from lobes.corpus.writer import (
    UTTERANCES_PER_SPEAKER,
    _CorpusWriter,
    generate,
)

COUNTS = (3, 2, 2)  # mixtures of the train, valid and test splits
ARGS = {"n_train": 3, "n_valid": 2, "n_test": 2, "seed": 7}
LSB = 1 / 32768  # one step of 16-bit PCM
CORPORA = {  # fixture: (layout, speakers per mixture)
    "wsj": ("wsj0-2mix", 2),
    "wham": ("wham", 2),
    "libri": ("librimix", 2),
    "wsj3": ("wsj0-2mix", 3),
    "libri3": ("librimix", 3),
}


def _corpus_fixture(name):
    """A module-scoped fixture ``name`` that writes that corpus once."""

    @pytest.fixture(scope="module", name=name)
    def corpus(tmp_path_factory):
        layout, num_spks = CORPORA[name]
        out = tmp_path_factory.mktemp(name)
        return generate(out, layout, **ARGS, num_spks=num_spks)

    return corpus


wsj, wham, libri, wsj3, libri3 = map(_corpus_fixture, CORPORA)


@pytest.fixture(params=list(CORPORA))
def corpus(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(params=["wham", "libri", "libri3"])
def noisy(request):
    return request.getfixturevalue(request.param)


def metadata(out):
    return json.loads((out / "synthmix.json").read_text())


def layout_of(out):
    """The corpus's Layout and its number of speakers."""
    args = metadata(out)["args"]
    return LAYOUTS[args["layout"]], args["num_spks"]


def sources(wav):
    """s1, s2[, s3] of a mixture read by `mixtures`."""
    return [wav[f"s{i}"] for i in range(1, 4) if f"s{i}" in wav]


def clean_file(out, split, utterance):
    return out / layout_of(out)[0].clean_path(split, utterance)


def read(path):
    return sf.read(path, dtype="float64")[0]


def power(x):
    return np.mean(np.asarray(x, dtype=np.float64) ** 2)


def db(x, reference):
    return 10 * np.log10(power(x) / power(reference))


def mixtures(out):
    """(split, mixture metadata, {folder: samples}) for every mixture."""
    meta = metadata(out)
    layout, num_spks = layout_of(out)
    folders = layout.folders(num_spks)
    for split, record in meta["splits"].items():
        for mix in record["mixtures"]:
            base = out / "wav8k" / "min" / split
            yield (
                split,
                mix,
                {f: read(base / f / f"{mix['id']}.wav") for f in folders},
            )


def file_bytes(out, under="."):
    return {
        p.relative_to(out): p.read_bytes()
        for p in sorted((out / under).rglob("*"))
        if p.is_file()
    }


def test_layout(corpus):
    meta = metadata(corpus)
    layout, num_spks = layout_of(corpus)
    folders = layout.folders(num_spks)
    assert len(folders) == num_spks + (3 if layout.noisy else 1)
    assert list(meta["splits"]) == list(layout.splits)
    assert {p.name for p in corpus.iterdir()} == {
        "synthmix.json",
        "clean",
        "wav8k",
    }
    assert meta["complete"] and meta["generator"] == "lobes.synthmix"
    for split, n in zip(layout.splits, COUNTS, strict=True):
        base = corpus / "wav8k" / "min" / split
        assert sorted(p.name for p in base.iterdir()) == sorted(folders)
        ids = {m["id"] for m in meta["splits"][split]["mixtures"]}
        assert len(ids) == n
        for folder in folders:
            assert {p.stem for p in (base / folder).iterdir()} == ids
    for path in corpus.rglob("*.wav"):
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (
            8000,
            1,
            "PCM_16",
        )


def test_clean_folder_serves_dynamic_mixing(corpus):
    meta = metadata(corpus)
    librispeech = layout_of(corpus)[0].librispeech
    for split, record in meta["splits"].items():
        files = sorted((corpus / "clean" / split).rglob("*.wav"))
        # upstream WSJ0 dynamic mixing: speaker id = first 3 chars of stem;
        # LibriMix's: the folder two levels up (SPK/CHAPTER/SPK-CHAPTER-N)
        by_speaker = {}
        for f in files:
            speaker = f.parts[-3] if librispeech else f.parent.name
            assert f.stem[:3] == speaker
            by_speaker.setdefault(speaker, []).append(f.stem)
        assert set(by_speaker) == set(record["speakers"])
        assert {f.stem for f in files} == set(record["utterances"])
        for utt, info in record["utterances"].items():
            assert info["speaker"] == utt[:3]
        assert all(
            len(u) == UTTERANCES_PER_SPEAKER for u in by_speaker.values()
        )


def test_speakers_disjoint(corpus):
    meta = metadata(corpus)
    splits = meta["splits"]
    from_paths = {
        s: {p.name for p in (corpus / "clean" / s).iterdir()} for s in splits
    }
    groups = {s: set(r["speakers"]) for s, r in splits.items()}
    assert groups == from_paths
    variants = {
        s: {v["variant"] for v in r["speakers"].values()}
        for s, r in splits.items()
    }
    layout, num_spks = layout_of(corpus)
    if layout.noisy:
        noise = {s: set(r["noise_speakers"]) for s, r in splits.items()}
        groups.update({f"noise-{s}": ids for s, ids in noise.items()})
        variants["noise"] = {
            v["variant"]
            for r in splits.values()
            for v in r["noise_speakers"].values()
        }
    names = list(groups)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not groups[a] & groups[b], (a, b)
    names = list(variants)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not variants[a] & variants[b], (a, b)
    for split, record in splits.items():
        voices = {
            tuple(v for k, v in s.items() if k != "id")
            for s in record["speakers"].values()
        }
        assert len(voices) == len(record["speakers"]) >= num_spks
        drawn = [tuple(m["utterances"]) for m in record["mixtures"]]
        assert len(set(drawn)) == len(drawn)  # no tuple twice
        for mix in record["mixtures"]:
            speakers = mix["speakers"]
            assert len(set(speakers)) == len(speakers) == num_spks
            assert set(speakers) <= groups[split]
            assert [u[:3] for u in mix["utterances"]] == speakers


def test_mixture_is_sum_of_files(corpus):
    for _, _, wav in mixtures(corpus):
        if "mix" in wav:
            assert np.array_equal(wav["mix"], sum(sources(wav)))
        else:
            assert np.array_equal(wav["mix_clean"], sum(sources(wav)))
            assert np.array_equal(
                wav["mix_both"], wav["mix_clean"] + wav["noise"]
            )


def test_relative_gain_from_files(corpus):
    layout, num_spks = layout_of(corpus)
    gains = []
    for _, mix, wav in mixtures(corpus):
        gain = db(wav["s1"], wav["s2"])
        assert -1e-3 <= gain <= MAX_GAIN_DB + 1e-3
        assert gain == pytest.approx(mix["gain_db"], abs=1e-3)
        gains.append(gain)
        # each source's level: s1 +g/2, s2 -g/2, s3 in -2.5..2.5 dB
        levels = [gain / 2 + db(s, wav["s1"]) for s in sources(wav)]
        assert levels[:2] == pytest.approx([gain / 2, -gain / 2], abs=1e-3)
        if num_spks == 3:
            assert abs(levels[2]) <= MAX_GAIN_DB / 2 + 1e-3
            assert levels == pytest.approx(mix["levels_db"], abs=1e-3)
        if layout.librispeech:  # LibriMix ids: UTT1_UTT2[_UTT3]
            assert mix["id"] == "_".join(mix["utterances"])
            continue
        # WSJ0-2Mix ids: UTT1_+g/2_UTT2_-g/2; WSJ0-3Mix: and _UTT3_L3
        parts = mix["id"].split("_")
        assert parts[::2] == mix["utterances"]
        assert [float(x) for x in parts[1::2]] == pytest.approx(
            levels, abs=1e-3
        )
    assert len(set(np.round(gains, 3))) == len(gains)  # drawn, not fixed


def test_librimix_layout(libri, libri3):
    """Libri2Mix/Libri3Mix folders and names; LibriSpeech clean files."""
    splits = ["train-360", "dev", "test"]
    for out, sources_ in ((libri, ["s1", "s2"]), (libri3, ["s1", "s2", "s3"])):
        meta = metadata(out)
        assert list(meta["splits"]) == splits
        for under in ("wav8k/min", "clean"):
            names = {p.name for p in (out / under).iterdir()}
            assert names == set(splits)
        for split, record in meta["splits"].items():
            folders = {p.name for p in (out / "wav8k/min" / split).iterdir()}
            assert folders == {"mix_both", "mix_clean", "noise", *sources_}
            for mix in record["mixtures"]:
                assert mix["id"] == "_".join(mix["utterances"])
            for path in (out / "clean" / split).rglob("*.wav"):
                # LibriSpeech: SPK/CHAPTER/SPK-CHAPTER-NNNN
                spk, chapter = path.parts[-3:-1]
                assert re.fullmatch(f"{spk}-{chapter}-[0-9]{{4}}", path.stem)
                assert record["utterances"][path.stem]["speaker"] == spk
                assert re.fullmatch("[0-9a-z]{3}", spk) and chapter == "1"


def test_librimix_is_wham_renamed(libri, wham):
    """Same arguments: LibriMix holds WHAM!'s signals under its names."""
    pairs = zip(mixtures(libri), mixtures(wham), strict=True)
    for (_, mix, wav), (_, wham_mix, wham_wav) in pairs:
        noise, wham_noise = dict(mix["noise"]), dict(wham_mix["noise"])
        talkers = noise.pop("talkers")  # named as each layout names them
        assert [t[:3] for t in talkers] == [
            t[:3] for t in wham_noise.pop("talkers")
        ]
        assert noise == wham_noise and mix["snr_db"] == wham_mix["snr_db"]
        assert all(np.array_equal(wav[f], wham_wav[f]) for f in wav)


def test_wsj0_3mix(wsj3):
    """WSJ0-3Mix: mix, s1, s2, s3; ids with three utterances and levels."""
    source_id = r"[0-9a-z]{3}[0-9]{5}_-?[0-9]+\.[0-9]{5}"
    for _, mix, wav in mixtures(wsj3):
        assert sorted(wav) == ["mix", "s1", "s2", "s3"]
        assert np.array_equal(wav["mix"], wav["s1"] + wav["s2"] + wav["s3"])
        assert len(set(mix["speakers"])) == 3
        assert re.fullmatch("_".join([source_id] * 3), mix["id"])
        assert mix["id"].endswith(f"_{mix['levels_db'][2]:.5f}")


def test_cli_new_options_deterministic(libri3, tmp_path, capsys):
    """``--layout librimix --num-spks 3`` from the command line gives the
    same bytes as generate() with the same arguments."""
    main(
        [str(tmp_path), "--layout", "librimix", "--num-spks", "3"]
        + ["--n-train", "3", "--n-valid", "2", "--n-test", "2", "--seed", "7"]
        + ["--real-voices", "off"]  # generate()'s default
    )
    assert file_bytes(tmp_path) == file_bytes(libri3)
    assert metadata(tmp_path)["args"]["num_spks"] == 3
    out = capsys.readouterr().out
    assert "librimix corpus, 3 speakers" in out and "s3 vs mean" in out


def test_snr_from_files(noisy):
    meta = metadata(noisy)
    snrs = []
    for split, mix, wav in mixtures(noisy):
        louder = max(sources(wav), key=power)
        snr = db(louder, wav["noise"])
        assert SNR_RANGE_DB[0] - 1e-3 <= snr
        assert snr <= SNR_RANGE_DB[1] + 1e-3
        assert snr == pytest.approx(mix["snr_db"], abs=1e-3)
        snrs.append(snr)
        # babble comes from talkers held apart from the targets
        talkers = {u[:3] for u in mix["noise"]["talkers"]}
        assert talkers <= set(meta["splits"][split]["noise_speakers"])
    assert len(set(np.round(snrs, 3))) == len(snrs)


def test_no_clipping_peak_normalised(corpus):
    for _, _, wav in mixtures(corpus):
        peak = max(np.abs(x).max() for x in wav.values())
        assert abs(peak - PEAK) <= 2 * LSB  # WSJ0-2Mix scaling
    for path in (corpus / "clean").rglob("*.wav"):
        assert abs(np.abs(read(path)).max() - PEAK) <= LSB


def test_min_mode(corpus):
    for split, mix, wav in mixtures(corpus):
        clean = [read(clean_file(corpus, split, u)) for u in mix["utterances"]]
        length = min(len(c) for c in clean)
        assert all(len(x) == length == mix["samples"] for x in wav.values())
        for source, utterance in zip(sources(wav), clean, strict=True):
            # each source is its clean utterance cropped at the end, scaled
            head = utterance[:length]
            scale = head @ source / (head @ head)
            error = source - scale * head
            assert np.sqrt(power(error)) < 1e-3 * np.sqrt(power(source))


def test_deterministic_and_seeded(wsj, tmp_path):
    again = generate(tmp_path / "again", "wsj0-2mix", **ARGS)
    assert file_bytes(again) == file_bytes(wsj)
    other = generate(
        tmp_path / "again", "wsj0-2mix", **{**ARGS, "seed": 8}, overwrite=True
    )
    meta = metadata(other)
    written = {p.stem for p in other.rglob("*.wav")}
    expected = {
        name
        for record in meta["splits"].values()
        for name in [
            *record["utterances"],
            *(m["id"] for m in record["mixtures"]),
        ]
    }
    assert written == expected  # overwrite left nothing of seed 7
    new, old = file_bytes(other, "wav8k"), file_bytes(wsj, "wav8k")
    assert not set(new.values()) & set(old.values())


def test_splits_do_not_depend_on_each_other(wsj, tmp_path):
    bigger = generate(tmp_path, "wsj0-2mix", **{**ARGS, "n_train": 5})
    for split in ("cv", "tt"):
        for under in (f"clean/{split}", f"wav8k/min/{split}"):
            assert file_bytes(bigger, under) == file_bytes(wsj, under)
    assert metadata(bigger)["splits"]["tr"] != metadata(wsj)["splits"]["tr"]


def test_cli_16k(tmp_path, capsys):
    main(
        [str(tmp_path), "--layout", "wham", "--n-train", "1", "--n-valid", "1"]
        + ["--n-test", "1", "--sample-rate", "16000", "--seed", "3"]
        + ["--real-voices", "off"]
    )
    assert {p.name for p in tmp_path.iterdir()} == {
        "synthmix.json",
        "clean",
        "wav16k",
    }
    assert all(sf.info(p).samplerate == 16000 for p in tmp_path.rglob("*.wav"))
    assert len(list(tmp_path.glob("wav16k/min/*/mix_both/*.wav"))) == 3
    out = capsys.readouterr().out
    assert "16000 Hz" in out and "SNR" in out and "per second" in out


def test_statistics(corpus):
    stats = corpus_statistics(corpus)
    meta = metadata(corpus)
    files = list(corpus.rglob("*.wav"))
    assert stats["files"] == len(files)
    seconds = sum(sf.info(f).frames for f in files) / 8000
    assert stats["audio_hours"] * 3600 == pytest.approx(seconds)
    layout, num_spks = layout_of(corpus)
    assert (stats["layout"], stats["num_spks"]) == (layout.name, num_spks)
    for split, n in zip(layout.splits, COUNTS, strict=True):
        assert stats["splits"][split]["mixtures"] == n
        assert stats["splits"][split]["speakers"] == len(
            meta["splits"][split]["speakers"]
        )
    gains = [
        m["gain_db"] for r in meta["splits"].values() for m in r["mixtures"]
    ]
    assert stats["gain_db"] == [min(gains), max(gains)]
    assert (stats["snr_db"] is None) == (not layout.noisy)
    assert (stats["s3_level_db"] is None) == (num_spks == 2)
    text = format_statistics(stats)
    assert all(split in text for split in layout.splits)
    assert f"{num_spks} speakers" in text


def test_mix_sources_matches_wsj0_2mix_reference():
    """Against the WSJ0-2Mix recipe written out in numpy (min mode)."""
    s1 = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    s2 = 3 * torch.randn(700, generator=torch.Generator().manual_seed(1))
    mixture, (a, b) = mix_sources([s1, s2], np.random.default_rng(5))

    gain = np.random.default_rng(5).uniform(0, 5)
    x1, x2 = s1[:700].double().numpy(), s2.double().numpy()
    x1 = x1 / np.sqrt(power(x1)) * 10 ** (gain / 2 / 20)
    x2 = x2 / np.sqrt(power(x2)) * 10 ** (-gain / 2 / 20)
    scale = 0.9 / max(np.abs(x1 + x2).max(), np.abs(x1).max(), np.abs(x2).max())
    np.testing.assert_allclose(a.numpy(), scale * x1, atol=1e-6)
    np.testing.assert_allclose(b.numpy(), scale * x2, atol=1e-6)
    assert mixture.dtype == a.dtype == torch.float32
    assert torch.equal(mixture, a + b)


def test_mix_sources_three_and_errors():
    rng = np.random.default_rng(0)
    sources = [torch.randn(n) for n in (500, 400, 600)]
    mixture, scaled = mix_sources(sources, rng)
    assert mixture.shape == (400,) and torch.equal(mixture, sum(scaled))
    levels = [10 * torch.log10(s.pow(2).mean()) for s in scaled]
    assert levels[0] - levels[1] <= 5 + 1e-4
    assert abs(levels[2] - (levels[0] + levels[1]) / 2) <= 2.5 + 1e-4
    with pytest.raises(ValueError, match="2 or more"):
        mix_sources(sources[:1], rng)
    with pytest.raises(ValueError, match="source 1 is silent"):
        mix_sources([sources[0], torch.zeros(500)], rng)


def test_add_noise_matches_reference():
    rng = np.random.default_rng(1)
    mixture, sources = mix_sources([torch.randn(900), torch.randn(800)], rng)
    noise = torch.randn(2000)
    noisy, scaled_noise, (a, b) = add_noise(
        mixture, sources, noise, np.random.default_rng(2)
    )
    reference = np.random.default_rng(2)
    start = reference.integers(0, 2000 - 800 + 1)
    snr = reference.uniform(-6, 3)
    n = noise[start : start + 800].double().numpy()
    n = n * np.sqrt(
        max(power(s) for s in sources) / power(n) / 10 ** (snr / 10)
    )
    m, s1, s2 = (x.double().numpy() for x in (mixture, *sources))
    scale = 0.9 / max(np.abs(x).max() for x in (m + n, m, n, s1, s2))
    np.testing.assert_allclose(scaled_noise.numpy(), scale * n, atol=1e-6)
    np.testing.assert_allclose(a.numpy(), scale * s1, atol=1e-6)
    np.testing.assert_allclose(noisy.numpy(), scale * (m + n), atol=1e-6)
    assert db(a.numpy(), scaled_noise.numpy()) == pytest.approx(snr, abs=1e-4)


def test_add_noise_tiles_short_noise_and_errors():
    rng = np.random.default_rng(0)
    mixture, sources = mix_sources([torch.randn(1000), torch.randn(1000)], rng)
    _, noise, _ = add_noise(mixture, sources, torch.randn(300), rng)
    ratio = noise[300:600] / noise[:300]
    assert torch.allclose(ratio, torch.ones(300), atol=1e-5)
    with pytest.raises(ValueError, match="noise is silent"):
        add_noise(mixture, sources, torch.zeros(300), rng)
    with pytest.raises(ValueError, match="as long as the mixture"):
        add_noise(mixture, [sources[0][:10], sources[1]], torch.ones(300), rng)


def test_espeak_deterministic_in_any_order():
    tts = ESpeak()
    one = Speaker("aaa", "en-US", "m3", 50, 40, 170)
    two = Speaker("bbb", "de", "f2", 70, 60, 150)
    first = tts.synthesize("The garden is open.", one, seed=1)
    tts.synthesize("Das Haus ist alt.", two, seed=2)  # state in between
    assert np.array_equal(first, tts.synthesize("The garden is open.", one, 1))
    assert len(first) > ESpeak.sample_rate // 2  # half a second or more
    other = tts.synthesize("The garden is open.", two, seed=1)
    assert not np.array_equal(first[: len(other)], other[: len(first)])
    with pytest.raises(ValueError, match="no voice"):
        tts.synthesize("Hi.", Speaker("ccc", "xx-none", "m3", 50, 40, 170), 1)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"n_train": 0}, "--n-train must be a positive integer"),
        ({"n_test": -2}, "--n-test must be a positive integer"),
        ({"layout": "libri2mix"}, "unknown layout 'libri2mix'"),
        ({"sample_rate": 22050}, "unsupported sample rate 22050"),
        ({"num_spks": 4}, "--num-spks must be 2 or 3, got 4"),
        ({"seed": -1}, "--seed must be a non-negative integer, got -1"),
    ],
)
def test_bad_arguments(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        generate(tmp_path / "out", **{**ARGS, **change})
    assert not (tmp_path / "out").exists()


def test_cli_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "out"), "--n-valid", "0"])
    assert exit_.value.code == 1
    assert "--n-valid must be a positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "out"), "--layout", "libri2mix"])
    assert exit_.value.code == 2
    assert "invalid choice: 'libri2mix'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "out"), "--num-spks", "4"])
    assert exit_.value.code == 2
    assert "invalid choice: 4" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "out"), "--seed", "-1"])
    assert exit_.value.code == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith("error: --seed must be a non-negative integer, got -1")
    assert not (tmp_path / "out").exists()


def test_unwritable_output(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(OSError, match="cannot write the corpus to"):
        generate(tmp_path / "file" / "corpus", **ARGS)
    with pytest.raises(OSError, match="cannot write the corpus to"):
        generate(tmp_path / "file", **ARGS)


def test_non_empty_output(tmp_path):
    (tmp_path / "notes.txt").write_text("someone else's")
    with pytest.raises(FileExistsError, match="not empty.*--overwrite"):
        generate(tmp_path, **ARGS)
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        generate(tmp_path, **ARGS, overwrite=True)
    (tmp_path / "synthmix.json").write_text('{"generator": "other"}')
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        generate(tmp_path, **ARGS, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "notes.txt",
        "synthmix.json",
    ]


def test_overwrite_keeps_the_old_corpus_until_the_new_one_is_complete(
    tmp_path, monkeypatch
):
    """--overwrite: bad options are refused before any work, and a build
    that fails midway (a full disk) leaves the old corpus as it was, with
    nothing beside it."""
    out = generate(tmp_path / "corpus", **ARGS)
    before = file_bytes(out)
    with pytest.raises(ValueError, match="--seed must be a non-negative"):
        generate(out, **{**ARGS, "seed": -1}, overwrite=True)
    mix = _CorpusWriter.mix
    calls = []

    def full_disk(self, *args):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return mix(self, *args)

    monkeypatch.setattr(_CorpusWriter, "mix", full_disk)
    with pytest.raises(OSError, match="No space left"):
        generate(out, **{**ARGS, "seed": 8}, overwrite=True)
    assert len(calls) == 3  # it failed midway
    assert file_bytes(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["corpus"]


KILL_AT_THIRD_MIXTURE = """
import os, signal, sys
from lobes.corpus import writer
from lobes.corpus.cli import main
mix, calls = writer._CorpusWriter.mix, []
def killed(self, *args):
    calls.append(1)
    if len(calls) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return mix(self, *args)
writer._CorpusWriter.mix = killed
main(sys.argv[1:])
"""


def cli_args(out, **changes) -> list[str]:
    """The command line of `generate`'s ``ARGS`` (with ``changes``)."""
    args = {**ARGS, **changes}
    argv = [str(out), "--real-voices", "off"]
    for key, value in args.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


def killed_build(argv: list[str]) -> None:
    """Runs ``python -m lobes.synthmix argv``, killed (SIGKILL) as it
    writes its third mixture."""
    run = subprocess.run(
        [sys.executable, "-c", KILL_AT_THIRD_MIXTURE, *argv],
        capture_output=True,
        text=True,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr[-2000:]


def test_killed_build_leaves_no_corpus_and_the_rerun_completes(
    wsj, tmp_path, caplog
):
    """kill -9 midway: no half corpus at OUT_DIR (an old one stays as it
    was), only a hidden partial folder beside it, which the rerun of the
    same command removes, saying so, before it writes the corpus."""
    out = tmp_path / "corpus"
    killed_build(cli_args(out))
    assert not out.exists()
    (partial,) = tmp_path.iterdir()
    assert partial.name.startswith(".corpus.") and "partial" in partial.name
    assert (
        json.loads((partial / "synthmix.json").read_text())["complete"] is False
    )
    main(cli_args(out))  # the same command, no --overwrite needed
    assert [p.name for p in tmp_path.iterdir()] == ["corpus"]
    assert file_bytes(out) == file_bytes(wsj)  # as an uninterrupted build
    assert f"Removing {partial}, left by an interrupted build" in caplog.text
    before = file_bytes(out)
    killed_build([*cli_args(out, seed=8), "--overwrite"])
    assert file_bytes(out) == before
    main([*cli_args(out, seed=8), "--overwrite"])
    assert metadata(out)["args"]["seed"] == 8 and metadata(out)["complete"]
    assert [p.name for p in tmp_path.iterdir()] == ["corpus"]


def test_interrupted_command_leaves_the_corpus_as_it_was(
    tmp_path, monkeypatch, capsys
):
    """Ctrl-C midway: one line, exit status 130, the old corpus as it was
    and nothing beside it."""
    out = generate(tmp_path / "corpus", **ARGS)
    before = file_bytes(out)

    def interrupted(self, *args):
        raise KeyboardInterrupt

    monkeypatch.setattr(_CorpusWriter, "mix", interrupted)
    with pytest.raises(SystemExit) as exit_:
        main([*cli_args(out, seed=8), "--overwrite"])
    assert exit_.value.code == 130
    line = capsys.readouterr().err.splitlines()[-1]
    assert line.startswith("python -m lobes.synthmix: interrupted; ")
    assert f"{out} is as it was" in line
    assert file_bytes(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["corpus"]


def test_incomplete_or_mixed_corpus_is_named(tmp_path):
    """A corpus whose build was interrupted (written in place by an older
    version) is named so when refused; --overwrite does not delete files
    that lobes.synthmix did not write."""
    meta = {"generator": "lobes.synthmix", "complete": False}
    meta["outputs"] = ["synthmix.json", "clean", "wav8k"]
    (tmp_path / "synthmix.json").write_text(json.dumps(meta))
    (tmp_path / "clean").mkdir()
    with pytest.raises(FileExistsError, match="incomplete lobes.synthmix"):
        generate(tmp_path, **ARGS)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="holds notes.txt, which"):
        generate(tmp_path, **ARGS, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "clean").is_dir()


def test_missing_espeakng_loader(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)  # import fails
    with pytest.raises(
        ImportError, match=r"pip install 'sepformer-lobes\[synth\]'"
    ):
        generate(tmp_path / "out", **ARGS)
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "out")])
    assert exit_.value.code == 1
    assert "sepformer-lobes[synth]" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    # the mixing primitives need no eSpeak
    assert mix_sources(
        [torch.randn(9), torch.randn(9)], np.random.default_rng()
    )


def test_statistics_reject_foreign_folder(tmp_path):
    (tmp_path / "synthmix.json").write_text('{"generator": "lobes.synthmix"}')
    with pytest.raises(ValueError, match="no complete lobes.synthmix corpus"):
        corpus_statistics(tmp_path)


def test_module_entry_point(tmp_path):
    """``python -m lobes.synthmix`` still runs the command line."""
    run = subprocess.run(
        [sys.executable, "-m", "lobes.synthmix", str(tmp_path / "out")]
        + ["--n-valid", "0"],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("python -m lobes.synthmix: error: ")
    assert "--n-valid must be a positive integer" in last
    assert not (tmp_path / "out").exists()
