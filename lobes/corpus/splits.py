"""What each split of the embedded corpus holds: its eSpeak NG speakers,
its real voices and how many utterances they speak, its babble talkers,
and which speakers its mixtures draw from.

Without real voices the splits are ``tr``, ``cv``, ``tt`` of eSpeak NG
speakers only. With them (:class:`lobes.corpus.real_voices.RealVoices`):

- ``tr`` adds the training voices, with as many utterances in all as its
  eSpeak NG speakers have (shared out evenly, a voice short of
  recordings leaving its share to the others; 2 at least each), so
  dynamic mixing draws a real voice about half of the time; its mixtures
  draw from both;
- ``cv`` makes half of its mixtures of two (or three) validation voices
  and the other half of eSpeak NG speakers;
- ``tt`` stays eSpeak NG only (the synthetic test);
- the real-speech test split (``tt_real``, ``test_real`` for librimix)
  mixes the test voices only, with the babble talkers of ``tt``.

Authors
 * sepformer-lobes contributors 2026
"""

import math
from dataclasses import dataclass, field

from lobes.corpus.espeak import Speaker
from lobes.corpus.layouts import Layout
from lobes.corpus.real_voices import RealVoices
from lobes.corpus.speakers import plan_speakers
from lobes.corpus.voice_catalogue import VOICES, Voice

ROLES = ("tr", "cv", "tt")  # the splits as speakers are planned
UTTERANCES_PER_SPEAKER = 4
REAL_VALID_SHARE = 0.5  # of the validation mixtures, when it has voices
MIN_REAL_UTTERANCES = 2  # per real voice of a split


@dataclass
class SplitPlan:
    """What one split holds.

    Arguments
    ---------
    folder : str
        The split's folder name (``tr``, ``tt_real``, ``train-360``, ...).
    stream : int
        Its random stream: the generator is seeded ``[seed, stream]``.
    speakers : list of Speaker
        eSpeak NG speakers, each speaking ``UTTERANCES_PER_SPEAKER``.
    talkers : list of Speaker
        eSpeak NG babble talkers (noisy layouts).
    babble : int
        Babble utterances to speak.
    voices : list of Voice
        Real voices.
    real_utterances : int
        Utterances of all real voices together.
    groups : list of (int, str)
        Mixtures to draw and from which speakers: ``"espeak"``, ``"real"``
        or ``"all"``.
    """

    folder: str
    stream: int
    speakers: list[Speaker]
    talkers: list[Speaker]
    babble: int
    voices: list[Voice] = field(default_factory=list)
    real_utterances: int = 0
    groups: list[tuple[int, str]] = field(default_factory=list)


def plan_splits(
    layout: Layout,
    sizes: dict[str, int],
    num_spks: int,
    variants: list[str],
    seed: int,
    voices: RealVoices | None = None,
    n_test_real: int = 100,
) -> list[SplitPlan]:
    """Plans the splits of a corpus.

    Arguments
    ---------
    layout : Layout
        The corpus layout (split folder names, noisy or not).
    sizes : dict
        Mixtures of ``tr``, ``cv`` and ``tt``.
    num_spks : int
        Speakers per mixture.
    variants : list of str
        eSpeak NG voice variants.
    seed : int
        The corpus's seed.
    voices : RealVoices, optional
        The real voices; without them the corpus is eSpeak NG only.
    n_test_real : int
        Mixtures of the real-speech test split (with real voices).

    Returns
    -------
    list of SplitPlan
        ``tr``, ``cv``, ``tt`` and, with real voices, the real-speech test
        split, in this order.

    Example
    -------
    >>> from lobes.corpus.layouts import LAYOUTS
    >>> sizes = {"tr": 8, "cv": 4, "tt": 4}
    >>> variants = [f"v{i}" for i in range(20)]
    >>> plans = plan_splits(LAYOUTS["wsj0-2mix"], sizes, 2, variants, 1)
    >>> for plan in plans:
    ...     print(plan.folder, len(plan.speakers), plan.groups)
    tr 4 [(8, 'espeak')]
    cv 2 [(4, 'espeak')]
    tt 2 [(4, 'espeak')]
    """
    real = {role: [] for role in ROLES}
    if voices is not None:
        real = {role: voices.role(role) for role in ROLES}
        if len(real["cv"]) < num_spks:
            real["cv"] = []
    real_mixtures = {
        "tr": 0,
        "cv": math.floor(REAL_VALID_SHARE * sizes["cv"]) if real["cv"] else 0,
        "tt": 0,
    }
    babble = {role: _babble_count(n) for role, n in sizes.items()}
    if voices is not None:
        babble["tt_real"] = _babble_count(n_test_real)
    roles = {
        role: _speaker_count(n - real_mixtures[role], num_spks)
        for role, n in sizes.items()
    }
    for role in ROLES:
        talkers = max(babble[role], babble.get(f"{role}_real", 0))
        roles[f"noise-{role}"] = math.ceil(talkers / 2)
    reserved = {v.id for v in VOICES}
    speakers = plan_speakers(roles, variants, seed, reserved)
    plans = []
    for k, (role, folder) in enumerate(zip(ROLES, layout.splits, strict=True)):
        plan = SplitPlan(
            folder,
            10 + k,
            speakers[role],
            speakers[f"noise-{role}"],
            babble[role],
        )
        n = sizes[role]
        if role == "tr" and real["tr"]:
            plan.voices = real["tr"]
            plan.real_utterances = max(
                len(plan.speakers) * UTTERANCES_PER_SPEAKER,
                MIN_REAL_UTTERANCES * len(real["tr"]),
            )
            plan.groups = [(n, "all")]
        elif real_mixtures[role]:
            plan.voices = real[role]
            plan.real_utterances = _real_count(
                real_mixtures[role], num_spks, len(real[role])
            )
            plan.groups = [
                (n - real_mixtures[role], "espeak"),
                (real_mixtures[role], "real"),
            ]
        else:
            plan.groups = [(n, "espeak")]
        plans.append(plan)
    if voices is not None:
        test = real["tt"]
        plans.append(
            SplitPlan(
                layout.real_test,
                13,
                [],
                speakers["noise-tt"],
                babble["tt_real"],
                test,
                _real_count(n_test_real, num_spks, len(test)),
                [(n_test_real, "real")],
            )
        )
    return plans


def _speaker_count(mixtures, num_spks):
    """Speakers of a split: each utterance in about one mixture."""
    return max(
        num_spks, math.ceil(num_spks * mixtures / UTTERANCES_PER_SPEAKER)
    )


def _babble_count(mixtures):
    """Babble utterances of a split, 2 per talker, 3-5 used per mixture."""
    return max(6, math.ceil(mixtures / 2))


def _real_count(mixtures, num_spks, voices):
    """Utterances of held-out voices: each in about one mixture."""
    share = math.ceil(num_spks * mixtures / voices)
    return voices * max(MIN_REAL_UTTERANCES, share)


def tuples(counts: list[int], k: int) -> int:
    """How many ordered tuples of ``k`` utterances of different speakers
    speakers with ``counts`` utterances can make.

    Arguments
    ---------
    counts : list of int
        Utterances of each speaker.
    k : int
        Speakers per tuple.

    Returns
    -------
    int

    Example
    -------
    >>> tuples([2, 3], 2)  # (a, b) or (b, a): 2 * 3 * 2
    12
    """
    sums = [1] + [0] * k  # elementary symmetric sums of the counts
    for c in counts:
        for j in range(k, 0, -1):
            sums[j] += sums[j - 1] * c
    return sums[k] * math.factorial(k)
