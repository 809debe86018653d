"""Summary of a corpus written by :func:`lobes.corpus.writer.generate`.

Authors
 * sepformer-lobes contributors 2026
"""

import json
import os
from pathlib import Path

from lobes.corpus.layouts import LAYOUTS
from lobes.corpus.mixing import MAX_GAIN_DB, SNR_RANGE_DB
from lobes.corpus.writer import GENERATOR, METADATA


def corpus_statistics(out_dir: str | os.PathLike) -> dict:
    """Counts files and sums durations, speakers, gains and SNRs of a corpus.

    Arguments
    ---------
    out_dir : path
        A folder written by :func:`generate`.

    Returns
    -------
    dict
        ``layout``, ``num_spks``, ``sample_rate``, ``seed``, ``files`` (wav
        files on disk), ``audio_hours`` (all wav files), ``gain_db`` (s1 vs
        s2), ``s3_level_db`` (s3 vs the mean level of s1 and s2) and
        ``snr_db`` (observed [min, max]; ``s3_level_db`` is None for 2
        speakers, ``snr_db`` for wsj0-2mix) and ``splits``: per split
        folder ``mixtures``, ``mixture_hours``, ``utterances``,
        ``clean_hours``, ``speakers``, ``real_speakers`` (real voices)
        and ``real_mixtures`` (mixtures of real voices only);
        ``real_voices`` (as asked for: ``off``, ``auto`` or a folder) and
        ``real_voices_used``.

    Example
    -------
    >>> import tempfile
    >>> from lobes.corpus.writer import generate
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = generate(tmp, n_train=1, n_valid=1, n_test=1)
    ...     stats = corpus_statistics(out)
    >>> stats["layout"], stats["num_spks"], stats["splits"]["tt"]["mixtures"]
    ('wsj0-2mix', 2, 1)
    >>> stats["snr_db"], stats["s3_level_db"]
    (None, None)
    """
    out = Path(out_dir)
    meta = json.loads((out / METADATA).read_text())
    if meta.get("generator") != GENERATOR or not meta.get("complete"):
        raise ValueError(f"{out} holds no complete lobes.synthmix corpus")
    args = meta["args"]
    num_spks = args.get("num_spks", 2)  # older corpora: 2 speakers
    hours = 3600 * args["sample_rate"]
    folders = len(LAYOUTS[args["layout"]].folders(num_spks))
    splits, gains, levels, snrs, total = {}, [], [], [], 0.0
    for split, record in meta["splits"].items():
        mix = sum(m["samples"] for m in record["mixtures"]) / hours
        clean = sum(u["samples"] for u in record["utterances"].values())
        real = {s for s, v in record["speakers"].items() if "package" in v}
        splits[split] = {
            "mixtures": len(record["mixtures"]),
            "mixture_hours": mix,
            "utterances": len(record["utterances"]),
            "clean_hours": clean / hours,
            "speakers": len(record["speakers"]),
            "real_speakers": len(real),
            "real_mixtures": sum(
                set(m["speakers"]) <= real for m in record["mixtures"]
            ),
        }
        total += folders * mix + clean / hours
        gains += [m["gain_db"] for m in record["mixtures"]]
        levels += [
            m["levels_db"][2] for m in record["mixtures"] if "levels_db" in m
        ]
        snrs += [m["snr_db"] for m in record["mixtures"] if "snr_db" in m]
    return {
        "layout": args["layout"],
        "num_spks": num_spks,
        "sample_rate": args["sample_rate"],
        "seed": args["seed"],
        "files": sum(1 for _ in out.rglob("*.wav")),
        "audio_hours": total,
        "gain_db": _span(gains),
        "s3_level_db": _span(levels),
        "snr_db": _span(snrs),
        "splits": splits,
        "real_voices": args.get("real_voices", "off"),
        "real_voices_used": bool(meta.get("real_voices")),
    }


def _span(values):
    return [min(values), max(values)] if values else None


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
    >>> stats = {"layout": "librimix", "num_spks": 3, "sample_rate": 8000}
    >>> stats.update(seed=1, files=36, audio_hours=0.0125)
    >>> stats.update(splits={"train-360": split}, gain_db=[0.5, 4.5])
    >>> stats.update(s3_level_db=[-2.0, 1.5], snr_db=[-5.0, 2.0])
    >>> print(format_statistics(stats))
    librimix corpus, 3 speakers, 8000 Hz, seed 1: 36 wav files, 0.013 h of audio
    split      mixtures  mix h   utterances  clean h  speakers
    train-360         2   0.001           8    0.004         2
    relative gain s1 vs s2 0.50 .. 4.50 dB (drawn in 0..5)
    s3 vs mean of s1, s2 -2.00 .. 1.50 dB (drawn in -2.5..2.5)
    SNR vs loudest speaker -5.00 .. 2.00 dB (drawn in -6..3)
    """
    width = max(5, *map(len, stats["splits"]))
    lines = [
        f"{stats['layout']} corpus, {stats['num_spks']} speakers, "
        f"{stats['sample_rate']} Hz, seed {stats['seed']}: "
        f"{stats['files']} wav files, {stats['audio_hours']:.3f} h of audio",
        f"{'split':{width}}  mixtures  mix h   utterances  clean h  speakers",
    ]
    real = any(s.get("real_speakers") for s in stats["splits"].values())
    if real:
        lines[-1] += "  real voices  real mixtures"
    for split, s in stats["splits"].items():
        lines.append(
            f"{split:{width}}  {s['mixtures']:8}  {s['mixture_hours']:6.3f}  "
            f"{s['utterances']:10}  {s['clean_hours']:7.3f}  {s['speakers']:8}"
        )
        if real:
            lines[-1] += f"  {s['real_speakers']:11}  {s['real_mixtures']:13}"
    low, high = stats["gain_db"]
    lines.append(
        f"relative gain s1 vs s2 {low:.2f} .. {high:.2f} dB "
        f"(drawn in 0..{MAX_GAIN_DB:g})"
    )
    if stats["s3_level_db"]:
        low, high = stats["s3_level_db"]
        lines.append(
            f"s3 vs mean of s1, s2 {low:.2f} .. {high:.2f} dB "
            f"(drawn in {-MAX_GAIN_DB / 2:g}..{MAX_GAIN_DB / 2:g})"
        )
    if stats.get("real_voices", "off") != "off":
        lines.append(
            "real voices: each in one split only, credits in CREDITS.md"
            if stats["real_voices_used"]
            else "real voices unavailable: eSpeak NG speech only"
        )
    if stats["snr_db"]:
        low, high = stats["snr_db"]
        lines.append(
            f"SNR vs loudest speaker {low:.2f} .. {high:.2f} dB "
            f"(drawn in {SNR_RANGE_DB[0]:g}..{SNR_RANGE_DB[1]:g})"
        )
    return "\n".join(lines)
