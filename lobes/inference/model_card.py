"""The model card (``README.md``) of a pretrained folder: the model, where
its weights come from (a recipe run's training data, checkpoint and test
scores, or the upstream folder it was converted from) and how to load it.

Authors
 * sepformer-lobes contributors 2026
"""

import csv
from pathlib import Path

import speechbrain
import torch

from lobes.inference.streaming import algorithmic_latency
from lobes.model import capabilities
from lobes.training.results import FILE as TEST_RESULTS
from lobes.training.results import read_test_results


def _hours(seconds: float) -> str:
    """``2.5 h`` or ``12.0 min``."""
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min"


def _read_csv(path: Path) -> list[dict]:
    """Rows of a CSV file, [] if it does not exist."""
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def run_provenance(
    run: Path,
    checkpoint: Path,
    recipe: dict,
    validation_si_snr: float | None,
    evaluated: Path | None,
) -> str:
    """Model-card sections on a recipe run's training data and test results.

    Arguments
    ---------
    run : Path
        The run's output folder (``hyperparams.yaml``, ``test_results.csv``).
    checkpoint : Path
        The checkpoint exported.
    recipe : dict
        The run's hyperparameters (as loaded, references unresolved).
    validation_si_snr : float, optional
        The checkpoint's validation SI-SNR in dB (None: taken inside an
        epoch, not validated).
    evaluated : Path, optional
        The checkpoint the recipe evaluates (None: none found).

    Returns
    -------
    str
        Markdown: ``## Training data`` and ``## Test results``.
    """
    first_lines = (run / "hyperparams.yaml").read_text().splitlines()[:3]
    source = next(
        (line[2:] for line in first_lines[1:] if line.startswith("# /")),
        "unknown",
    )
    corpus = "WHAM!" if "/WHAM/" in source else "WSJ0-2Mix"
    if recipe.get("num_spks", 2) == 3:
        corpus = "WSJ0-3Mix"
    lines = ["## Training data", ""]
    lines.append(f"- Recipe: `{source}` ({corpus} layout).")
    lines.append(f"- Data folder: `{recipe.get('data_folder')}`.")
    for split, key in (
        ("training", "train_data"),
        ("validation", "valid_data"),
        ("test", "test_data"),
    ):
        rows = _read_csv(Path(str(recipe.get(key, ""))))
        if rows:
            seconds = sum(float(r.get("duration") or 0) for r in rows)
            lines.append(
                f"- {split.capitalize()} set: {len(rows)} mixtures "
                f"({_hours(seconds)}), `{recipe.get(key)}`."
            )
    if recipe.get("dynamic_mixing"):
        lines.append(
            "- Dynamic mixing: new training mixtures every epoch from the "
            f"clean utterances in `{recipe.get('base_folder_dm')}`, "
            f"{recipe.get('training_signal_len')} samples long."
        )
    if recipe.get("limit_training_signal_len"):
        lines.append(
            f"- Training crops of {recipe.get('training_signal_len')} samples."
        )
    lines.append(f"- Sample rate: {recipe.get('sample_rate')} Hz.")
    counter = checkpoint / "counter.ckpt"
    epochs = counter.read_text().strip() if counter.is_file() else "?"
    lines.append(
        f"- Checkpoint: `{checkpoint.name}`, after epoch {epochs} of "
        f"{recipe.get('N_epochs')}"
        + (
            f", validation SI-SNR {validation_si_snr:.2f} dB."
            if validation_si_snr is not None
            else " (taken inside an epoch, not validated)."
        )
    )
    lines += ["", "## Test results", ""]
    results = run / TEST_RESULTS
    try:
        rows, average = read_test_results(results)
    except (FileNotFoundError, ValueError):  # absent, or no avg row yet
        lines.append(f"Not evaluated: {results} does not exist yet.")
        return "\n".join(lines)
    lines += [
        f"From `{results}` ({len(rows)} test mixtures; "
        "improvements over the unprocessed mixture):",
        "",
        "| SI-SNRi | SDRi | SI-SNR | SDR |",
        "|---:|---:|---:|---:|",
        f"| {average['si-snr_i']:.2f} dB "
        f"| {average['sdr_i']:.2f} dB "
        f"| {average['si-snr']:.2f} dB "
        f"| {average['sdr']:.2f} dB |",
    ]
    if evaluated is not None and evaluated.name != checkpoint.name:
        lines += [
            "",
            f"These are the scores of `{evaluated.name}`, the "
            "checkpoint the recipe evaluates (best validation SI-SNR); "
            f"this folder holds `{checkpoint.name}`, which was not "
            "evaluated.",
        ]
    return "\n".join(lines)


def upstream_provenance(source: Path, error: float) -> str:
    """The model-card section on an upstream RE-SepFormer folder converted.

    Arguments
    ---------
    source : Path
        The upstream pretrained folder.
    error : float
        The largest difference between its and our separation.

    Returns
    -------
    str
        Markdown: ``## Origin``.

    Example
    -------
    >>> print(upstream_provenance(Path("up"), 3e-7)[:63])
    ## Origin
    <BLANKLINE>
    Converted from the upstream SpeechBrain RE-SepFormer
    >>> "differ by at most 3.0e-07." in upstream_provenance(Path("up"), 3e-7)
    True
    """
    return "\n".join(
        [
            "## Origin",
            "",
            f"Converted from the upstream SpeechBrain RE-SepFormer in "
            f"`{source}` (`ResourceEfficientSeparator`, weights mapped by "
            "`lobes.resepformer_upstream.convert_upstream_state_dict`). "
            "On a test input the two models' outputs differ by at most "
            f"{error:.1e}. "
            "Training data and test scores: see the original model's card"
            + (
                f" (`{source / 'README.md'}`)."
                if (source / "README.md").is_file()
                else "."
            ),
        ]
    )


def model_card(
    folder: Path, hparams: dict, modules: dict, provenance: str
) -> str:
    """The README.md of a pretrained folder.

    Arguments
    ---------
    folder : Path
        The pretrained folder.
    hparams : dict
        Its loaded hyperparameters.
    modules : dict
        Its loaded encoder, masknet and decoder.
    provenance : str
        Markdown sections on where the weights come from and how they score.

    Returns
    -------
    str

    Example
    -------
    >>> from speechbrain.lobes.models.dual_path import Decoder, Encoder
    >>> from lobes.resepformer import RESepFormer
    >>> modules = {
    ...     "encoder": Encoder(16, 16),
    ...     "masknet": RESepFormer(16, nhead=2, chunk_size=10, causal=True),
    ...     "decoder": Decoder(16, 1, 16, stride=8, bias=False),
    ... }
    >>> hparams = {"sample_rate": 8000, "num_spks": 2}
    >>> card = model_card(Path("out"), hparams, modules, "## Origin")
    >>> card.splitlines()[0]
    '# RESepFormer speech separation (2 speakers, 8000 Hz)'
    >>> "at most 87 input samples (10.9 ms)" in card
    True
    """
    masknet = modules["masknet"]
    encoder_conv = getattr(modules["encoder"], "conv1d", None)
    params = sum(p.numel() for m in modules.values() for p in m.parameters())
    rate = hparams["sample_rate"]
    name = type(masknet).__name__
    lines = [
        f"# {name} speech separation ({hparams['num_spks']} speakers, "
        f"{rate} Hz)",
        "",
        "## Model",
        "",
        f"- Mask network: `{type(masknet).__module__}.{name}`, between "
        "SpeechBrain's `dual_path.Encoder` and `Decoder`.",
        f"- Parameters: {params / 1e6:.2f} M (encoder, masknet, decoder).",
    ]
    if encoder_conv is not None:
        k, s = encoder_conv.kernel_size[0], encoder_conv.stride[0]
        lines.append(
            f"- Encoder: {encoder_conv.out_channels} filters of {k} samples, "
            f"stride {s} ({1000 * s / rate:.2f} ms frames)."
        )
    causal = bool(getattr(masknet, "causal", False))
    lines.append(f"- Causal: {'yes' if causal else 'no'}.")
    frames = capabilities(masknet).stream_frames  # None: does not stream
    if frames is not None and encoder_conv is not None:
        latency = algorithmic_latency(frames, k, s)
        lines.append(
            f"- Streams (`python -m lobes.separate --stream`) with "
            f"{frames} encoder frames a step: a separated "
            f"sample comes out at most {latency} input samples "
            f"({1000 * latency / rate:.1f} ms) after its input sample."
        )
    lines += ["", provenance, ""]
    lines += [
        "## How to load",
        "",
        "Needs `speechbrain` and, for `lobes.*` classes, this package "
        "(`pip install sepformer-lobes`). Nothing is downloaded: the source "
        "is this folder.",
        "",
        "```python",
        "from speechbrain.inference.separation import SepformerSeparation",
        "",
        "model = SepformerSeparation.from_hparams(",
        f'    source="{folder}",',
        '    savedir="pretrained_models/this_model",  # or None: no links',
        ")",
        f"est = model.separate_batch(mix)  # mix: [batch, time] at {rate} Hz",
        "```",
        "",
        "`savedir` receives symlinks to the files here; SpeechBrain reuses a "
        "file already in savedir, so give each model its own savedir (or "
        "none). Recordings of any length, at any sample rate:",
        "",
        "```bash",
        f"python -m lobes.separate MIX.wav --model {folder} --out separated/",
        "```",
        "",
        "## Files",
        "",
        "`hyperparams.yaml` (model definition and `pretrainer`), "
        "`encoder.ckpt`, `masknet.ckpt`, `decoder.ckpt` (state dicts), this "
        f"card. Written by `lobes.export` with SpeechBrain "
        f"{speechbrain.__version__} and torch {torch.__version__}.",
        "",
    ]
    return "\n".join(lines)
