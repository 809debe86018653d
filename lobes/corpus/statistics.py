"""Summary of a corpus written by :func:`lobes.corpus.writer.generate`.

Authors
 * sepformer-lobes contributors 2026
"""

import json
import os
from pathlib import Path

from lobes.corpus.mixing import MAX_GAIN_DB, SNR_RANGE_DB
from lobes.corpus.writer import GENERATOR, LAYOUTS, METADATA


def corpus_statistics(out_dir: str | os.PathLike) -> dict:
    """Counts files and sums durations, speakers, gains and SNRs of a corpus.

    Arguments
    ---------
    out_dir : path
        A folder written by :func:`generate`.

    Returns
    -------
    dict
        ``layout``, ``sample_rate``, ``seed``, ``files`` (wav files on
        disk), ``audio_hours`` (all wav files), ``gain_db`` and ``snr_db``
        (observed [min, max]; ``snr_db`` is None for wsj0-2mix) and
        ``splits``: per split ``mixtures``, ``mixture_hours``,
        ``utterances``, ``clean_hours``, ``speakers``.

    Example
    -------
    >>> import tempfile
    >>> from lobes.corpus.writer import generate
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = generate(tmp, n_train=1, n_valid=1, n_test=1)
    ...     stats = corpus_statistics(out)
    >>> stats["layout"], stats["splits"]["tt"]["mixtures"], stats["snr_db"]
    ('wsj0-2mix', 1, None)
    """
    out = Path(out_dir)
    meta = json.loads((out / METADATA).read_text())
    if meta.get("generator") != GENERATOR or not meta.get("complete"):
        raise ValueError(f"{out} holds no complete lobes.synthmix corpus")
    args = meta["args"]
    hours = 3600 * args["sample_rate"]
    folders = len(LAYOUTS[args["layout"]])
    splits, gains, snrs, total = {}, [], [], 0.0
    for split, record in meta["splits"].items():
        mix = sum(m["samples"] for m in record["mixtures"]) / hours
        clean = sum(u["samples"] for u in record["utterances"].values())
        splits[split] = {
            "mixtures": len(record["mixtures"]),
            "mixture_hours": mix,
            "utterances": len(record["utterances"]),
            "clean_hours": clean / hours,
            "speakers": len(record["speakers"]),
        }
        total += folders * mix + clean / hours
        gains += [m["gain_db"] for m in record["mixtures"]]
        snrs += [m["snr_db"] for m in record["mixtures"] if "snr_db" in m]
    return {
        "layout": args["layout"],
        "sample_rate": args["sample_rate"],
        "seed": args["seed"],
        "files": sum(1 for _ in out.rglob("*.wav")),
        "audio_hours": total,
        "gain_db": [min(gains), max(gains)],
        "snr_db": [min(snrs), max(snrs)] if snrs else None,
        "splits": splits,
    }


def format_statistics(stats: dict) -> str:
    """Renders :func:`corpus_statistics` as a short table.

    Arguments
    ---------
    stats : dict
        As returned by :func:`corpus_statistics`.

    Returns
    -------
    str

    Example
    -------
    >>> split = {"mixtures": 2, "mixture_hours": 0.001, "utterances": 8}
    >>> split.update(clean_hours=0.004, speakers=2)
    >>> stats = {"layout": "wham", "sample_rate": 8000, "seed": 1}
    >>> stats.update(files=34, audio_hours=0.0125, splits={"tr": split})
    >>> stats.update(gain_db=[0.5, 4.5], snr_db=[-5.0, 2.0])
    >>> print(format_statistics(stats))
    wham corpus, 8000 Hz, seed 1: 34 wav files, 0.013 h of audio
    split  mixtures  mix h   utterances  clean h  speakers
    tr            2   0.001           8    0.004         2
    relative gain 0.50 .. 4.50 dB (drawn in 0..5)
    SNR vs louder speaker -5.00 .. 2.00 dB (drawn in -6..3)
    """
    lines = [
        f"{stats['layout']} corpus, {stats['sample_rate']} Hz, "
        f"seed {stats['seed']}: {stats['files']} wav files, "
        f"{stats['audio_hours']:.3f} h of audio",
        "split  mixtures  mix h   utterances  clean h  speakers",
    ]
    for split, s in stats["splits"].items():
        lines.append(
            f"{split:5}  {s['mixtures']:8}  {s['mixture_hours']:6.3f}  "
            f"{s['utterances']:10}  {s['clean_hours']:7.3f}  {s['speakers']:8}"
        )
    low, high = stats["gain_db"]
    lines.append(
        f"relative gain {low:.2f} .. {high:.2f} dB "
        f"(drawn in 0..{MAX_GAIN_DB:g})"
    )
    if stats["snr_db"]:
        low, high = stats["snr_db"]
        lines.append(
            f"SNR vs louder speaker {low:.2f} .. {high:.2f} dB "
            f"(drawn in {SNR_RANGE_DB[0]:g}..{SNR_RANGE_DB[1]:g})"
        )
    return "\n".join(lines)
