"""Tests of the real voices of the embedded corpus: the voice-activity
detector, the catalogue and its voice assignment, the fetching of pinned
packages (with stand-ins for apt-get and dpkg-deb: nothing is downloaded)
and the corpus written with fake packages of tones, one f0 per voice."""

import json
import logging
import os
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lobes.corpus.cli import main
from lobes.corpus.debian import MARKER, FetchError, fetch, unpacked
from lobes.corpus.layouts import LAYOUTS
from lobes.corpus.real_voices import RealVoices, load_real_voices
from lobes.corpus.speakers import plan_speakers
from lobes.corpus.splits import tuples
from lobes.corpus.statistics import corpus_statistics, format_statistics
from lobes.corpus.vad import MAX_SECONDS, join_pieces, speech_segments
from lobes.corpus.voice_catalogue import PACKAGES, VOICES, Package, Voice
from lobes.corpus.writer import generate
from lobes.training.dynamic_mixing import DynamicMixing

sys.path.insert(0, str(Path(__file__).parent))
from sepdata import MINOR, few_voices, voice_f0, write_voice_packages  # noqa

RATE = 8000
SIZES = {"n_train": 3, "n_valid": 4, "n_test": 2, "n_test_real": 6}


def tone(seconds, f0=200.0, level=0.3, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    return level * np.sin(2 * np.pi * f0 * t)


def silence(seconds, rate=RATE):
    return np.zeros(int(seconds * rate))


def dominant_f0(audio, rate=RATE):
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return np.fft.rfftfreq(len(audio), 1 / rate)[np.argmax(spectrum)]


# --- the voice-activity detector ------------------------------------------


def test_speech_segments_find_bursts_bridge_pauses_drop_clicks():
    signal = np.concatenate(
        [
            silence(0.5),
            tone(1.0),  # speech at 0.5-1.5 s
            silence(0.2),  # a pause inside a phrase: bridged
            tone(0.6),  # ... until 2.3 s
            silence(1.0),
            tone(0.06),  # a click at 3.3 s: dropped
            silence(1.0),
            tone(0.8, level=0.05),  # quieter speech, 15 dB down: kept
            silence(0.5),
        ]
    )
    signal = signal + 1e-4 * np.random.default_rng(0).standard_normal(
        len(signal)
    )
    segments = [(a / RATE, b / RATE) for a, b in speech_segments(signal, RATE)]
    expected = [(0.5, 2.3), (4.36, 5.16)]  # the click is not there
    assert len(segments) == len(expected)
    for (start, end), (a, b) in zip(segments, expected, strict=True):
        assert a - 0.08 <= start <= a and b <= end <= b + 0.08


def test_speech_segments_edge_cases():
    assert speech_segments(np.zeros(10), RATE) == []
    assert speech_segments(np.zeros(RATE), RATE) == []  # under -60 dBFS
    whole = speech_segments(tone(2.0), RATE)
    assert whole == [(0, 2 * RATE)]


def test_join_pieces_lengths_labels_and_pauses():
    rng = np.random.default_rng(1)
    pieces = [(tone(0.7) + 0.5, f"word{k}") for k in range(40)]
    pieces.insert(5, (tone(23.0) + 0.5, "long"))  # cut into 3 parts
    utterances = list(join_pieces(pieces, RATE, rng))
    labels = [label for _, got in utterances for label in got]
    order = [label for _, label in pieces]
    kept = list(dict.fromkeys(labels))  # in order; the rest may be < 1 s
    assert kept == order[: len(kept)] and len(kept) >= len(order) - 1
    assert sum(got.count("long") for _, got in utterances) == 3
    for samples, _ in utterances:
        assert 1.0 * RATE <= len(samples) <= MAX_SECONDS * RATE
        # pieces (offset 0.5, never 0) joined by pauses of exact zeros
        pauses = np.flatnonzero(samples == 0)
        assert len(pauses) == 0 or 0.1 * RATE <= len(pauses)
    lengths = [len(s) / RATE for s, _ in utterances]
    assert len(set(np.round(lengths, 2))) > len(lengths) // 2  # drawn
    assert list(join_pieces([(tone(0.5), "x")], RATE, rng)) == []  # < 1 s


# --- the catalogue -----------------------------------------------------------


def test_catalogue_voices_are_disjoint_and_enough():
    ids = [v.id for v in VOICES]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 3 and int(i, 36) >= 0 and i == i.lower() for i in ids)
    roles = {r: [v for v in VOICES if v.role == r] for r in ("tr", "cv", "tt")}
    assert sum(map(len, roles.values())) == len(VOICES)
    held_out = roles["cv"] + roles["tt"]
    assert len(held_out) >= 3 and len(roles["tt"]) >= 3
    assert len(roles["tr"]) > len(held_out)  # most voices train
    # a person is one voice: no (package, file pattern) or name twice
    owners = {(v.package, v.glob, v.name_prefix, v.exclude) for v in VOICES}
    assert len(owners) == len(VOICES)
    assert len({v.name for v in VOICES}) == len(VOICES)
    for voice in VOICES:  # folders left out lie where the glob looks
        assert all(
            folder.startswith(voice.glob.split("*")[0].rstrip("/"))
            for folder in voice.exclude
        )
    assert {v.sex for v in roles["tt"]} == {"f", "m"}
    for package in PACKAGES.values():
        for version, sha256 in package.pins:
            assert version and len(sha256) == 64 and int(sha256, 16) >= 0
        assert package.licence and package.copyright
    assert {v.package for v in VOICES} == set(PACKAGES)


def test_voice_assignment_by_file_name(tmp_path):
    """One Fish Fillets folder holds both fish and minor characters: each
    voice gets its own character's files only."""
    write_voice_packages(tmp_path, few_voices(0), files_per_voice=3)
    roots = {name: tmp_path / name for name in PACKAGES}
    voices = RealVoices(roots, {}, RATE, seed=1)
    by_id = {v.id: v for v in voices.voices}
    assert set(by_id) == {v.id for v in few_voices(0)}  # KLettres absent
    for voice in voices.voices:
        files = voices.files(voice)
        assert len(files) == 3, voice.id
        if voice.name_prefix:
            assert all(voice.name_prefix in f.name for f in files)
    nl = {f for v in ("fnm", "fnv") for f in voices.files(by_id[v])}
    everything = set((tmp_path / "fillets-ng-data-nl").rglob("*.ogg"))
    minor = {f for f in everything if "-0-" in f.name}
    assert minor and everything - nl == minor  # a minor character: no voice
    for voice in voices.voices:
        for samples, pieces in voices.utterances(voice, 2):
            assert abs(dominant_f0(samples) - voice_f0(voice.id)) < 3
            root = roots[voice.package]
            own = {f.relative_to(root).as_posix() for f in voices.files(voice)}
            assert {file for file, _, _ in pieces} <= own


def test_excluded_folders_are_not_the_voice(tmp_path):
    """Folders a voice leaves out (other people speak there) give it no
    recordings, and so no utterances; a folder whose name merely starts
    the same is not left out."""
    root = tmp_path / "pkg"
    kept = ["b/c/y_desc_fr.ogg", "symbols2/q_desc_fr.ogg", "w_desc_fr.ogg"]
    others = ["symbols/z_desc_fr.ogg", "animals/x_desc_fr.ogg"]
    for name in [*kept, *others, "b/v_desc_ru.ogg"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / name, tone(1.5, voice_f0("aen")), RATE, format="OGG")
    voice = Voice(
        "tfr",
        "a French speaker",
        "pkg",
        "**/*_desc_fr.ogg",
        "tr",
        "m",
        "fr",
        exclude=("symbols", "animals"),
    )
    package = Package("pkg", (("1", sha256("deb")),), "GPL-2", "someone")
    voices = RealVoices({"pkg": root}, {}, RATE, 1, (voice,), {"pkg": package})
    files = [f.relative_to(root).as_posix() for f in voices.files(voice)]
    assert files == sorted(kept)
    pieces = {p[0] for _, got in voices.utterances(voice, 10) for p in got}
    assert pieces == set(kept)


# --- fetching pinned packages -------------------------------------------


def fake_tools(folder, deb_content):
    """apt-get and dpkg-deb stand-ins: apt-get download writes a .deb of
    ``deb_content`` and logs its arguments; dpkg-deb -x makes a tree."""
    folder.mkdir()
    log = folder / "calls.log"
    scripts = {
        "apt-get": f"""#!/bin/sh
echo "$@" >> {log}
for arg; do last=$arg; done
case "$*" in *download*) ;; *) exit 0;; esac
name=${{last%%=*}}
printf '{deb_content}' > "${{name}}_1_all.deb"
""",
        "dpkg-deb": """#!/bin/sh
mkdir -p "$3/usr/share/doc/pkg" && echo unpacked > "$3/usr/share/doc/pkg/x"
""",
    }
    for name, text in scripts.items():
        path = folder / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return log


def sha256(text):
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def test_fetch_checks_unpacks_and_caches(tmp_path, monkeypatch):
    log = fake_tools(tmp_path / "bin", "a deb")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    package = Package("pkg", (("1", sha256("a deb")),), "GPL-2", "someone")
    cache = tmp_path / "cache"
    assert unpacked(package, cache) is None
    root = fetch(package, cache)
    assert root == cache / "debian" / "pkg_1"
    assert (root / "usr/share/doc/pkg/x").read_text() == "unpacked\n"
    assert (root / MARKER).read_text().strip() == sha256("a deb")
    assert sorted(p.name for p in (cache / "debian").iterdir()) == ["pkg_1"]
    calls = log.read_text()
    assert "download pkg=1" in calls
    assert fetch(package, cache) == root  # cached: apt-get not run again
    assert log.read_text() == calls
    assert unpacked(package, cache) == root


def test_fetch_refuses_a_download_with_another_checksum(tmp_path, monkeypatch):
    fake_tools(tmp_path / "bin", "tampered")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    package = Package("pkg", (("1", sha256("a deb")),), "GPL-2", "someone")
    cache = tmp_path / "cache"
    with pytest.raises(FetchError, match="SHA-256 is .*not the pinned"):
        fetch(package, cache)
    assert list((cache / "debian").iterdir()) == []  # nothing left


def test_fetch_without_apt_falls_back_to_espeak(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(FetchError, match="apt-get not found"):
        fetch(PACKAGES["klettres-data"], tmp_path / "cache")
    with caplog.at_level(logging.WARNING):
        voices = load_real_voices("auto", RATE, 1, tmp_path / "cache")
    assert voices is None
    assert len(caplog.records) == 1  # one line says why
    message = caplog.records[0].getMessage()
    assert "apt-get not found" in message and "eSpeak NG speech only" in message
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        out = generate(
            tmp_path / "out", **SIZES, real_voices="auto", cache=tmp_path
        )
    meta = json.loads((out / "synthmix.json").read_text())
    assert list(meta["splits"]) == ["tr", "cv", "tt"]
    assert "real_voices" not in meta and not (out / "CREDITS.md").exists()
    text = format_statistics(corpus_statistics(out))
    assert "real voices unavailable: eSpeak NG speech only" in text


# --- the corpus with real voices -----------------------------------------


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    return write_voice_packages(tmp_path_factory.mktemp("packages"))


@pytest.fixture(scope="module")
def mixed(packages, tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed")
    return generate(out, **SIZES, seed=5, real_voices=packages)


def metadata(out):
    return json.loads((out / "synthmix.json").read_text())


def test_real_test_split_and_disjoint_voices(mixed):
    meta = metadata(mixed)
    splits = meta["splits"]
    assert list(splits) == ["tr", "cv", "tt", "tt_real"]
    real = {s: set(ids) for s, ids in meta["real_voices"].items()}
    role = {v.id: v.role for v in VOICES}
    assert real["tr"] == {v.id for v in few_voices() if v.role == "tr"}
    assert real["cv"] == {"aru", "fcv"}
    assert real["tt"] == set()  # the synthetic test stays synthetic
    assert real["tt_real"] == {v.id for v in VOICES if v.role == "tt"}
    assert all(role[v] == "cv" for v in real["cv"])
    speakers = {s: set(r["speakers"]) for s, r in splits.items()}
    names = list(speakers)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not speakers[a] & speakers[b], (a, b)
    # the real-speech test split: real test voices only, WSJ0-2Mix gains
    test = splits["tt_real"]
    assert len(test["mixtures"]) == SIZES["n_test_real"]
    for mix in test["mixtures"]:
        assert set(mix["speakers"]) <= real["tt_real"]
        assert len(set(mix["speakers"])) == 2 and 0 <= mix["gain_db"] <= 5
    # validation: half real, half synthetic, never mixed
    kinds = [set(m["speakers"]) <= real["cv"] for m in splits["cv"]["mixtures"]]
    assert sum(kinds) == SIZES["n_valid"] // 2
    for mix in splits["cv"]["mixtures"]:
        assert len(set(mix["speakers"]) & real["cv"]) in (0, 2)
    for mix in splits["tt"]["mixtures"]:
        assert not set(mix["speakers"]) & set(role)


def test_real_utterances_are_their_voices(mixed):
    meta = metadata(mixed)
    base = mixed / "wav8k/min/tt_real"
    for split, ids in meta["real_voices"].items():
        for voice in ids:
            files = sorted((mixed / "clean" / split / voice).glob("*.wav"))
            assert files  # short fakes: 1 or 2 utterances
            for path in files:
                audio, rate = sf.read(path)
                assert rate == RATE and 1 <= len(audio) / rate <= 10
                assert abs(np.abs(audio).max() - 0.9) < 1e-4
                assert abs(dominant_f0(audio) - voice_f0(voice)) < 3
                assert abs(dominant_f0(audio) - voice_f0(MINOR)) > 3
    for mix in meta["splits"]["tt_real"]["mixtures"]:
        wav = {
            f: sf.read(base / f / f"{mix['id']}.wav")[0]
            for f in ("mix", "s1", "s2")
        }
        assert np.array_equal(wav["mix"], wav["s1"] + wav["s2"])
        for k, voice in enumerate(mix["speakers"]):
            assert abs(dominant_f0(wav[f"s{k + 1}"]) - voice_f0(voice)) < 3


def test_dynamic_mixing_reads_the_real_voices(mixed):
    meta = metadata(mixed)
    mixing = DynamicMixing(str(mixed / "clean/tr"), 2, signal_len=8000)
    assert set(meta["real_voices"]["tr"]) <= set(mixing.speakers)
    espeak = len(mixing.speakers) - len(meta["real_voices"]["tr"])
    real = sum(len(mixing.speakers[v]) for v in meta["real_voices"]["tr"])
    assert real >= 4 * espeak  # about as many utterances as eSpeak's


def test_credits_and_statistics(mixed, packages):
    credits = (mixed / "CREDITS.md").read_text()
    meta = metadata(mixed)
    for ids in meta["real_voices"].values():
        for voice in ids:
            assert f"| {voice} |" in credits
    assert "unpacked by hand" in credits
    licences = sorted(p.name for p in (mixed / "licences").iterdir())
    assert licences == sorted(
        f"{name}.copyright" for name in {v.package for v in few_voices()}
    )
    stats = corpus_statistics(mixed)
    assert stats["splits"]["tt_real"]["real_mixtures"] == SIZES["n_test_real"]
    assert stats["splits"]["cv"]["real_speakers"] == 2
    text = format_statistics(stats)
    assert "tt_real" in text and "real voices" in text
    assert meta["args"]["real_voices"] == str(packages)


def file_names(out):
    return sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())


def test_mixed_corpus_deterministic_and_overwritten(mixed, packages, tmp_path):
    again = generate(tmp_path, **SIZES, seed=5, real_voices=packages)
    files = file_names(mixed)
    assert files == file_names(again)
    for name in files:
        assert (mixed / name).read_bytes() == (again / name).read_bytes()
    # the real test split does not depend on the other splits' sizes
    other = generate(
        tmp_path,
        **{**SIZES, "n_test": 3},
        seed=5,
        real_voices=packages,
        overwrite=True,
    )
    for under in ("clean/tt_real", "wav8k/min/tt_real"):
        a = sorted((mixed / under).rglob("*.wav"))
        b = sorted((other / under).rglob("*.wav"))
        assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    # an eSpeak-only corpus over it leaves no credits behind
    generate(tmp_path, **SIZES, seed=5, overwrite=True)
    assert not (tmp_path / "CREDITS.md").exists()
    assert not (tmp_path / "licences").exists()
    assert not (tmp_path / "wav8k/min/tt_real").exists()


def test_librimix_real_test_split(packages, tmp_path):
    out = generate(tmp_path, "librimix", **SIZES, real_voices=packages)
    layout = LAYOUTS["librimix"]
    assert layout.real_test == "test_real"
    mixtures = out / "wav8k/min/test_real"
    folders = sorted(p.name for p in mixtures.iterdir())
    assert folders == sorted(layout.folders(2))
    mixes = list((mixtures / "mix_both").glob("*.wav"))
    assert len(mixes) == SIZES["n_test_real"]
    for path in (out / "clean/test_real").rglob("*.wav"):
        assert path.parts[-3] in {"afr", "ait", "fnm"}


def test_three_speakers_need_three_voices(packages, tmp_path):
    """3-speaker mixtures: the 3 test voices in each; validation (2
    voices) stays synthetic."""
    out = generate(tmp_path, **SIZES, num_spks=3, real_voices=packages)
    meta = metadata(out)
    for mix in meta["splits"]["tt_real"]["mixtures"]:
        assert sorted(mix["speakers"]) == ["afr", "ait", "fnm"]
    assert meta["real_voices"]["cv"] == []


def test_espeak_speakers_never_take_a_real_voice_id():
    variants = [f"v{i}" for i in range(40)]
    counts = {"tr": 60, "cv": 5}
    plain = plan_speakers(counts, variants, seed=3)
    taken = [s.id for s in plain["tr"][10:20]]
    plan = plan_speakers(counts, variants, seed=3, reserved=taken)
    ids = [s.id for s in plan["tr"]]
    assert not set(ids) & set(taken) and len(ids) == 60
    assert ids[:10] == [s.id for s in plain["tr"][:10]]
    assert plan["cv"] == plain["cv"]  # other roles: as without


def test_tuples():
    assert tuples([2, 3], 2) == 12
    assert tuples([1, 1, 1], 3) == 6
    assert tuples([5], 2) == 0


def test_cli_real_voices_options(packages, tmp_path, capsys):
    args = ["--n-train", "2", "--n-valid", "2", "--n-test", "1"]
    real = ["--n-test-real", "3", "--real-voices", str(packages)]
    main([str(tmp_path / "a"), *args, *real])
    assert len(list((tmp_path / "a/wav8k/min/tt_real/mix").glob("*"))) == 3
    assert "tt_real" in capsys.readouterr().out
    main([str(tmp_path / "b"), *args, "--real-voices", "off"])
    assert not (tmp_path / "b/CREDITS.md").exists()
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "c"), *args, "--real-voices", "/no/folder"])
    assert exit_.value.code == 2
    assert "--real-voices" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


# --- the real packages, when already cached --------------------------------


def test_cached_real_packages():
    """With the pinned packages in the cache (``python -m lobes.synthmix``
    puts them there), every voice of the catalogue has recordings and
    yields utterances of 1-10 s. Skipped only when they are not cached;
    nothing is downloaded here."""
    from lobes.corpus.debian import default_cache

    cache = default_cache()
    missing = [n for n, p in PACKAGES.items() if unpacked(p, cache) is None]
    if missing:
        pytest.skip(f"not in the cache {cache}: {', '.join(missing)}")
    voices = load_real_voices("auto", RATE, seed=1, cache=cache)
    assert [v.id for v in voices.voices] == [v.id for v in VOICES]
    for voice in voices.voices:
        files = voices.files(voice)
        assert len(files) >= 20, voice.id
        for samples, _ in voices.utterances(voice, 2):
            assert 1 <= len(samples) / RATE <= 10
            assert np.sqrt(np.mean(samples**2)) > 1e-3
    assert len(voices.files(next(v for v in VOICES if v.id == "fnm"))) > 600
