"""End-to-end tests of the recipes, run as a user runs them:
``cd recipes/WSJ0Mix && python train.py hparams/X.yaml --data_folder=...``
with a tiny model, on tiny generated corpora (seconds each)."""

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch
from sepdata import SPLITS, write_corpus

from hparams import MODELS, model_option
from lobes.corpus.layouts import LAYOUTS
from lobes.training.results import FILE, REAL_FILE, read_test_results

ROOT = Path(__file__).resolve().parents[1]
# Tiny models gain nothing from a second thread, and on a busy machine
# threads waiting for each other slow everything down.
ENV = os.environ | {"OMP_NUM_THREADS": "1"}
LOADERS = [
    "--dataloader_opts={batch_size: 2, num_workers: 0}",
    "--eval_dataloader_opts={batch_size: 1, num_workers: 0}",
    "--noprogressbar",
]


def tiny(yaml: str) -> list[str]:
    """Options for a tiny model of ``hparams/<yaml>`` and small loaders."""
    model = MODELS[Path(yaml).stem]
    return [f"--model={model_option(model.tiny)}", *LOADERS]


def train(recipe: str, *args: str) -> subprocess.CompletedProcess:
    """Runs ``python train.py <args>`` in recipes/<recipe>."""
    return subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=ROOT / "recipes" / recipe,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=180,
    )


def run(recipe: str, yaml: str, *args: str) -> subprocess.CompletedProcess:
    """Runs ``python train.py hparams/<yaml> <tiny model> <args>`` in
    recipes/<recipe>."""
    return train(recipe, f"hparams/{yaml}", *tiny(yaml), *args)


def check(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def read_results(output: Path, name: str = FILE) -> list[dict]:
    with open(output / name, newline="") as f:
        return list(csv.DictReader(f))


def add_real_split(data: Path, layout: str, count: int = 3) -> list[str]:
    """Adds to the tiny corpus ``data`` the real-voice test split that the
    embedded corpus with real voices has (``tt_real``, ``test_real``):
    ``count`` mixtures of their own, ids starting with ``real``. Returns
    the ids, sorted."""
    other = write_corpus(
        data.parent / f"{data.name}-real", layout, (1, 1, count), seed=1
    )
    spec = LAYOUTS[layout]
    source = other / "wav8k" / "min" / spec.splits[2]
    target = data / "wav8k" / "min" / spec.real_test
    for folder in source.iterdir():
        (target / folder.name).mkdir(parents=True)
        for wav in folder.iterdir():
            wav.rename(target / folder.name / f"real{wav.name}")
    return sorted(p.stem for p in (target / "s1").iterdir())


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Tiny corpora by (layout, speakers, sample rate), written once."""
    made = {}

    def corpus(layout: str, num_spks: int = 2, rate: int = 8000) -> Path:
        key = (layout, num_spks, rate)
        if key not in made:
            folder = tmp_path_factory.mktemp(f"{layout}-{num_spks}-{rate}")
            made[key] = write_corpus(
                folder, layout, sample_rate=rate, num_spks=num_spks
            )
        return made[key]

    return corpus


@pytest.fixture(scope="module")
def wsj(corpora) -> Path:
    return corpora("wsj0-2mix")


@pytest.fixture(scope="module")
def wham(corpora) -> Path:
    return corpora("wham")


DM = ["--dynamic_mixing=True", "--training_signal_len=3000"]
RUNS = {  # id: recipe, model, corpus layout, speakers, sample rate, options
    "wsj0-2mix": ("WSJ0Mix", "resepformer", "wsj0-2mix", 2, 8000, []),
    "wham": ("WHAM", "sepformer", "wham", 2, 8000, []),
    "wham-dm": ("WHAM", "resepformer", "wham", 2, 8000, DM),
    "wsj0-3mix-dm": ("WSJ0Mix", "resepformer", "wsj0-2mix", 3, 8000, DM),
    "libri2mix": ("LibriMix", "resepformer", "librimix", 2, 8000, []),
    "libri2mix-noisy-dm": (
        "LibriMix",
        "fsmn_flash",
        "librimix",
        2,
        8000,
        ["--use_wham_noise=True", *DM],
    ),
    "libri3mix": ("LibriMix", "latent_xattn", "librimix", 3, 8000, []),
    "wsj0-2mix-16k": ("WSJ0Mix", "fsmn_flash", "wsj0-2mix", 2, 16000, []),
}


@pytest.mark.parametrize("case", RUNS)
def test_recipe_trains_and_writes_test_results(case, corpora, tmp_path):
    recipe, model, layout, num_spks, rate, extra = RUNS[case]
    data = corpora(layout, num_spks, rate)
    train_split, _, test_split = SPLITS[layout]
    out = tmp_path / "out"
    args = [f"--data_folder={data}", f"--output_folder={out}", "--N_epochs=1"]
    args += [f"--num_spks={num_spks}", f"--sample_rate={rate}", *extra]
    if DM[0] in extra:
        args.append(f"--base_folder_dm={data / 'clean' / train_split}")
    check(run(recipe, f"{model}.yaml", *args))
    rows = read_results(out)
    folder = data / f"wav{rate // 1000}k" / "min" / test_split
    tests = sorted(p.stem for p in (folder / "s1").glob("*.wav"))
    assert [r["snt_id"] for r in rows] == tests + ["avg"]
    for column in ("sdr", "sdr_i", "si-snr", "si-snr_i"):
        values = [float(r[column]) for r in rows]
        assert all(abs(v) < 100 for v in values)
        average = sum(values[:-1]) / len(tests)
        assert values[-1] == pytest.approx(average)
    audio = out / "save" / "audio_results"
    assert (audio / f"item{tests[0]}_source{num_spks}hat.wav").is_file()
    assert not (audio / f"item{tests[0]}_source{num_spks + 1}hat.wav").exists()
    assert sf.info(audio / f"item{tests[0]}_mix.wav").samplerate == rate
    assert "epoch: 1" in (out / "train_log.txt").read_text()
    # what SpeechBrain's recipe tests expect in a run folder
    for name in ("hyperparams.yaml", "log.txt", "env.log", "train_log.txt"):
        assert (out / name).is_file(), name
    script = ROOT / "recipes" / recipe / "train.py"
    assert (out / "train.py").read_bytes() == script.read_bytes()
    assert sorted(p.name for p in out.glob("*.py")) == ["train.py"]
    if recipe == "LibriMix":  # SpeechBrain's CSV names and mixtures
        noisy = "--use_wham_noise=True" in extra
        with open(out / "save" / f"libri{num_spks}mix_{test_split}.csv") as f:
            row = next(csv.DictReader(f))
        mixture = "mix_both" if noisy else "mix_clean"
        assert f"/{test_split}/{mixture}/" in row["mix_wav"]
        assert ("noise_wav" in row) == noisy
        assert f"/wav{rate // 1000}k/" in row["mix_wav"]


REAL_RUNS = {  # id: recipe, model, layout, options, the real split's CSV
    "wsj0-2mix": ("WSJ0Mix", "resepformer", "wsj0-2mix", [], "wsj_tt_real"),
    "libri2mix-noisy": (
        "LibriMix",
        "fsmn_flash",
        "librimix",
        ["--use_wham_noise=True"],
        "libri2mix_test_real",
    ),
}


@pytest.mark.parametrize("case", REAL_RUNS)
def test_recipe_scores_the_real_voice_test_split(case, tmp_path):
    """A corpus with real voices (its real-voice test split beside the
    test split): the recipe prepares the split's CSV, checks it, and
    scores the best checkpoint on it after the test set, into
    test_results_real.csv; test_results.csv keeps the test split's."""
    recipe, model, layout, extra, real_csv = REAL_RUNS[case]
    data = write_corpus(tmp_path / "data", layout)
    real_ids = add_real_split(data, layout)
    out = tmp_path / "out"
    args = [f"--data_folder={data}", f"--output_folder={out}", "--N_epochs=1"]
    result = run(recipe, f"{model}.yaml", *args, *extra)
    check(result)
    test = data / "wav8k" / "min" / SPLITS[layout][2]
    tests = sorted(p.stem for p in (test / "s1").iterdir())
    assert [r["snt_id"] for r in read_results(out)] == tests + ["avg"]
    with open(out / "save" / f"{real_csv}.csv", newline="") as f:
        assert [row["ID"] for row in csv.DictReader(f)] == real_ids
    rows, average = read_test_results(out / REAL_FILE)
    assert [r["snt_id"] for r in rows] == real_ids
    mean = sum(float(r["si-snr_i"]) for r in rows) / len(rows)
    assert average["si-snr_i"] == pytest.approx(mean)
    assert all(abs(v) < 100 for v in average.values())
    lines = [x for x in result.stdout.splitlines() if "Real voices" in x]
    assert len(lines) == 1, result.stdout[-3000:]
    assert f"mean SI-SNRi {average['si-snr_i']:.2f} dB" in lines[0]
    assert f"SDRi {average['sdr_i']:.2f} dB" in lines[0]
    log = (out / "train_log.txt").read_text()
    assert "test real-voice si-snr loss" in log
    audio = out / "save" / "audio_results"
    assert (audio / f"item{real_ids[0]}_source2hat.wav").is_file()
    assert (audio / f"item{tests[0]}_source2hat.wav").is_file()


def test_corpus_without_real_split_runs_as_before(wsj, tmp_path):
    """No real-voice test split in the corpus: the three CSVs, one test
    evaluation, no test_results_real.csv; a real-voice CSV left in the
    output folder by an earlier preparation (of a corpus since written
    again without real voices) is removed, not evaluated."""
    out = tmp_path / "out"
    (out / "save").mkdir(parents=True)
    stale = out / "save" / "wsj_tt_real.csv"
    stale.write_text(f"ID,duration,mix_wav\nx,1.0,{tmp_path}/gone.wav\n")
    args = [f"--data_folder={wsj}", f"--output_folder={out}", "--N_epochs=1"]
    result = run("WSJ0Mix", "resepformer.yaml", *args)
    check(result)
    csvs = sorted(p.name for p in (out / "save").glob("*.csv"))
    assert csvs == ["wsj_cv.csv", "wsj_tr.csv", "wsj_tt.csv"]
    assert not (out / REAL_FILE).exists()
    assert len(read_results(out)) == 3  # two test mixtures + avg
    assert (out / "train_log.txt").read_text().count("Epoch loaded") == 1
    assert "No real-voice test" in result.stdout


def test_bad_real_split_file_fails_before_training(tmp_path):
    """The real-voice test split is checked with the others, before
    training: a NaN sample names its file and the CSV row."""
    data = write_corpus(tmp_path / "data", "wsj0-2mix")
    real_ids = add_real_split(data, "wsj0-2mix")
    victim = data / "wav8k/min/tt_real/s2" / f"{real_ids[1]}.wav"
    audio, rate = sf.read(victim)
    audio[5] = float("nan")
    sf.write(victim, audio, rate, subtype="FLOAT")
    out = tmp_path / "out"
    args = [f"--data_folder={data}", f"--output_folder={out}"]
    result = run("WSJ0Mix", "sepformer.yaml", *args)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr
    assert f"{victim} has 1 NaN or infinite sample" in result.stderr
    assert f"row {real_ids[1]} of {out / 'save' / 'wsj_tt_real.csv'}" in (
        result.stderr
    )
    assert not list((out / "save").glob("CKPT*"))  # training never started


def test_speechbrain_format_csvs_with_skip_prep(wsj, tmp_path):
    """CSVs as SpeechBrain's recipes/WSJ0Mix/prepare_data.py writes them
    (integer IDs, dummy durations, absolute paths; ``$data_root`` also
    works), with the issue's command line."""
    columns = ["ID", "duration"]
    for s in ("mix", "s1", "s2"):
        columns += [f"{s}_wav", f"{s}_wav_format", f"{s}_wav_opts"]
    csvs = {}
    for split in ("tr", "cv"):
        csvs[split] = tmp_path / f"upstream_{split}.csv"
        files = sorted((wsj / "wav8k/min" / split / "mix").iterdir())
        with open(csvs[split], "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            for i, mix in enumerate(files):
                row = {"ID": i, "duration": 1.0}
                for s in ("mix", "s1", "s2"):
                    path = f"{wsj}/wav8k/min/{split}/{s}/{mix.name}"
                    if split == "cv":
                        path = path.replace(str(wsj), "$data_root")
                    row |= {f"{s}_wav": path, f"{s}_wav_format": "wav"}
                    row[f"{s}_wav_opts"] = None
                writer.writerow(row)
    out = tmp_path / "out"
    check(
        run(
            "WSJ0Mix",
            "resepformer.yaml",
            f"--data_folder={wsj}",
            f"--train_data={csvs['tr']}",
            f"--valid_data={csvs['cv']}",
            f"--test_data={csvs['cv']}",
            "--skip_prep=True",
            "--N_epochs=2",
            "--use_wavedrop=True",
            f"--output_folder={out}",
        )
    )
    assert [r["snt_id"] for r in read_results(out)] == ["0", "1", "avg"]
    log = (out / "train_log.txt").read_text()
    assert "epoch: 1" in log and "epoch: 2" in log
    assert not list((out / "save").glob("wsj_*.csv"))  # no preparation


def test_bad_data_fails_before_training(tmp_path):
    data = write_corpus(tmp_path / "data", "wsj0-2mix")
    victim = sorted((data / "wav8k/min/tr/s2").iterdir())[1]
    audio, _ = sf.read(victim)
    sf.write(victim, audio, 16000)
    out = tmp_path / "out"
    result = run(
        "WSJ0Mix",
        "sepformer.yaml",
        f"--data_folder={data}",
        f"--output_folder={out}",
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr  # SpeechBrain logs to stdout
    assert f"{victim} is sampled at 16000 Hz" in output
    assert "--sample_rate=16000" in output
    assert not list((out / "save").glob("CKPT*"))  # training never started
    missing = tmp_path / "missing"
    result = run(
        "WHAM",
        "sepformer.yaml",
        f"--data_folder={missing}",
        f"--output_folder={out}",
    )
    assert result.returncode != 0
    assert f"data_folder not found: {missing}" in result.stdout + result.stderr


DDP_WORKER = """
import sys, torch
sys.path.insert(0, ".")
from train import main
from lobes.training.brain import Separation

def dump(brain, name):
    states = {}
    for key, module in brain.modules.items():
        module = getattr(module, "module", module)  # unwrap DDP
        states[key] = {k: v.clone() for k, v in module.state_dict().items()}
    torch.save(states, f"{sys.argv[1]}/{name}{brain.rank}.pt")

fit = Separation.fit
def fit_and_dump(self, *args, **kwargs):  # weights around training only
    dump(self, "init")
    fit(self, *args, **kwargs)
    dump(self, "final")
Separation.fit = fit_and_dump
main(sys.argv[2:])
"""


def test_ddp_on_cpu_keeps_ranks_in_sync(wham, tmp_path):
    """Two gloo ranks train on different shards (of the dynamic-mixing
    stream) yet end with identical weights that differ from the initial
    ones: gradients are synchronised."""
    (tmp_path / "worker.py").write_text(DDP_WORKER)
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--master_port=29611",
            str(tmp_path / "worker.py"),
            str(tmp_path),
            "hparams/resepformer.yaml",
            *tiny("resepformer.yaml"),
            f"--data_folder={wham}",
            f"--output_folder={out}",
            "--N_epochs=1",
            "--device=cpu",
            "--distributed_backend=gloo",
            "--dynamic_mixing=True",
            f"--base_folder_dm={wham / 'clean' / 'tr'}",
            "--training_signal_len=3000",
        ],
        cwd=ROOT / "recipes" / "WHAM",
        capture_output=True,
        text=True,
        timeout=180,
    )
    check(result)
    states = {
        name: torch.load(tmp_path / f"{name}.pt")
        for name in ("init0", "init1", "final0", "final1")
    }
    changed = False
    for module, weights in states["final0"].items():
        for key, value in weights.items():
            torch.testing.assert_close(value, states["final1"][module][key])
            changed |= not torch.equal(value, states["init0"][module][key])
    assert changed
    assert len(read_results(out)) == 3  # two test mixtures + avg


RESUME_WORKER = """
import os, signal, sys
sys.path.insert(0, ".")
from train import main
from lobes.training.brain import Separation

kill_at, log = int(sys.argv[1]), sys.argv[2]
fit_batch = Separation.fit_batch
def fit_batch_logged(self, batch):  # records the stream, dies if asked
    with open(log, "a") as f:
        f.write(" ".join(batch.id) + "\\n")
    loss = fit_batch(self, batch)
    if self.step == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return loss
Separation.fit_batch = fit_batch_logged
main(sys.argv[3:])
"""


def test_killed_run_resumes_mid_epoch(tmp_path):
    """SIGKILL after batch 7 of 12, the last checkpoint at batch 6: the
    restarted run loads it and trains on exactly the rest of the same
    dynamic-mixing stream (batch 7 again, as it was not checkpointed)."""
    data = write_corpus(tmp_path / "data", "wsj0-2mix", n_mixtures=(12, 2, 2))
    (tmp_path / "worker.py").write_text(RESUME_WORKER)
    out = tmp_path / "out"
    args = [
        "hparams/resepformer.yaml",
        *[
            a
            for a in tiny("resepformer.yaml")
            if not a.startswith("--dataloader_opts")
        ],
        "--dataloader_opts={batch_size: 1, num_workers: 0}",
        f"--data_folder={data}",
        f"--output_folder={out}",
        "--N_epochs=1",
        "--dynamic_mixing=True",  # 12 mixtures an epoch, as the CSV has
        f"--base_folder_dm={data / 'clean' / 'tr'}",
        "--training_signal_len=2000",
        "--ckpt_interval_minutes=0",
        "--ckpt_interval_steps=3",
    ]

    def worker(kill_at: int, log: str):
        return subprocess.run(
            [sys.executable, tmp_path / "worker.py", str(kill_at), log, *args],
            cwd=ROOT / "recipes" / "WSJ0Mix",
            env=ENV,
            capture_output=True,
            text=True,
            timeout=120,
        )

    first = worker(7, str(tmp_path / "first.txt"))
    assert first.returncode == -signal.SIGKILL, first.stdout[-3000:]
    assert not (out / "test_results.csv").exists()
    (intra_epoch,) = (out / "save").glob("CKPT*")

    second = worker(0, str(tmp_path / "second.txt"))
    check(second)
    output = second.stdout + second.stderr
    assert f"Loading a checkpoint from {intra_epoch}" in output
    first_ids = (tmp_path / "first.txt").read_text().split()
    second_ids = (tmp_path / "second.txt").read_text().split()
    assert first_ids == [f"dm_1_{i}" for i in range(7)]
    assert second_ids == [f"dm_1_{i}" for i in range(6, 12)]
    assert (out / "train_log.txt").read_text().count("epoch: 1,") == 1
    assert len(read_results(out)) == 3


@pytest.mark.parametrize(
    "option, key",
    [
        ("--model={chunk_sise: 10}", "chunk_sise"),
        ("--dataloader_opts={batch_sise: 4}", "batch_sise"),
        ("--lr_scheduler={patiense: 4}", "patiense"),
        ("--N_epoch=3", "N_epoch"),
    ],
)
def test_unknown_override_key_fails_before_training(option, key, tmp_path):
    """A misspelt key, nested or not, ends the run before anything is
    written, in one line naming the key and the close valid ones."""
    out = tmp_path / "out"
    result = train(
        "WSJ0Mix",
        "hparams/resepformer.yaml",
        f"--data_folder={tmp_path}",
        f"--output_folder={out}",
        option,
    )
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message, message
    assert "unknown key" in message and key in message
    assert "Did you mean" in message and "spelling" in message
    valid = {
        "chunk_sise": "chunk_size",
        "batch_sise": "batch_size",
        "patiense": "patience",
        "N_epoch": "N_epochs",
    }[key]
    assert valid in message
    assert not out.exists()  # nothing written, nothing trained
