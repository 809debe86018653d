"""Speakers of the embedded corpus, disjoint across splits.

Each speaker is an eSpeak NG voice (:data:`lobes.corpus.espeak.VOICES`)
with a voice variant, pitch, pitch range and rate. The voice variants are
partitioned between tr, cv, tt and the babble talkers, so no two of these
share a timbre, let alone a speaker.

Authors
 * sepformer-lobes contributors 2026
"""

from collections.abc import Collection

import numpy as np

from lobes.corpus.espeak import VOICES, Speaker

# Shares of the voice variants held out of tr; "noise" voices only babble.
_HELD_OUT_VARIANTS = {"cv": 0.125, "tt": 0.125, "noise": 0.15}
_PITCHES = range(20, 81, 10)  # eSpeak pitch 0..99
_PITCH_RANGES = range(20, 81, 20)  # eSpeak pitch range 0..99
_RATES = range(130, 211, 20)  # words per minute
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"  # of the 3-character ids


def plan_speakers(
    counts: dict[str, int],
    variants: list[str],
    seed: int,
    reserved: Collection[str] = (),
) -> dict[str, list[Speaker]]:
    """Speakers of each role ("tr", "cv", "tt", "noise-tr", ...).

    Voice variants are dealt out so that tr, cv, tt and the babble talkers
    share none; each role has its own generator and ids, so a split's
    speakers do not depend on the sizes of the others.

    Arguments
    ---------
    counts : dict
        Speakers wanted per role: a split ("tr", "cv", "tt") or the babble
        talkers of one (``"noise-"`` and the split). All ``"noise-"`` roles
        draw from the same voice variants.
    variants : list of str
        eSpeak NG voice variants to deal out (``ESpeak().variants``).
    seed : int
        Same seed, counts and variants give the same speakers.
    reserved : collection of str
        Speaker ids not to give (the real voices'); the others are those
        drawn without them.

    Returns
    -------
    dict
        Role -> list of :class:`~lobes.corpus.espeak.Speaker`, in the order
        of ``counts``; every speaker has its own 3-character id.

    Example
    -------
    >>> variants = [f"v{i}" for i in range(20)]
    >>> plan = plan_speakers({"tr": 3, "cv": 2, "noise-tr": 2}, variants, 1)
    >>> [len(speakers) for speakers in plan.values()]
    [3, 2, 2]
    >>> tr, cv = ({s.variant for s in plan[r]} for r in ("tr", "cv"))
    >>> tr.isdisjoint(cv)
    True
    """
    rng = np.random.default_rng([seed, 0])
    order = [variants[i] for i in rng.permutation(len(variants))]
    ids = rng.permutation(36**3)  # 3 base-36 characters
    own, start = {}, 0
    for role, share in _HELD_OUT_VARIANTS.items():
        size = max(1, round(share * len(order)))
        own[role], start = order[start : start + size], start + size
    own["tr"] = order[start:]
    own.update({r: own["noise"] for r in counts if r.startswith("noise-")})
    taken = {_number(i) for i in reserved}
    return {
        role: _draw_speakers(
            count,
            own[role],
            [i for i in ids[k :: len(counts)] if i not in taken],
            np.random.default_rng([seed, 1 + k]),
        )
        for k, (role, count) in enumerate(counts.items())
    }


def _draw_speakers(count, variants, ids, rng):
    """Draws ``count`` speakers with distinct voice/prosody combinations."""
    combos = len(VOICES) * len(variants) * len(_PITCHES)
    combos *= len(_PITCH_RANGES) * len(_RATES)
    if count > combos // 2:
        raise ValueError(
            f"{count} speakers asked from {combos} voice combinations; "
            "ask for fewer mixtures"
        )
    voices = list(VOICES)
    speakers, seen = [], set()
    while len(speakers) < count:
        combo = (
            voices[rng.integers(len(voices))],
            variants[rng.integers(len(variants))],
            int(rng.choice(_PITCHES)),
            int(rng.choice(_PITCH_RANGES)),
            int(rng.choice(_RATES)),
        )
        if combo not in seen:
            seen.add(combo)
            speaker_id = _speaker_id(ids[len(speakers)])
            speakers.append(Speaker(speaker_id, *combo))
    return speakers


def _speaker_id(number):
    return "".join(_DIGITS[number // 36**k % 36] for k in (2, 1, 0))


def _number(speaker_id):
    return int(speaker_id, 36)
