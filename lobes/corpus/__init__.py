"""The embedded speech corpus: eSpeak NG speakers in WSJ0-2Mix / WHAM! layouts.

No speech corpus can be downloaded here and WSJ0 is licensed, so the default
data is synthesised. Run::

    python -m lobes.synthmix OUT_DIR --layout wsj0-2mix \\
        --n-train 20 --n-valid 5 --n-test 5 --seed 1234 --sample-rate 8000

Output (``wav8k`` becomes ``wav16k`` at 16 kHz; all files 16-bit PCM)::

    OUT/synthmix.json                    arguments, speakers, texts, gains, SNRs
    OUT/clean/{tr,cv,tt}/SPK/SPKnnnnn.wav    clean utterances, peak 0.9
    OUT/wav8k/min/{tr,cv,tt}/{mix,s1,s2}/ID.wav                  wsj0-2mix
    OUT/wav8k/min/{tr,cv,tt}/{mix_both,mix_clean,s1,s2,noise}/ID.wav   wham

Modules, one job each:

- ``mixing``: WSJ0-2Mix mixing and WHAM! noise adding, also used by
  training's dynamic mixing; needs no eSpeak.
- ``espeak``: eSpeak NG through ctypes, the speakers' voices and texts.
- ``speakers``: speakers planned disjoint across tr, cv, tt and babble.
- ``noise``: WHAM!-style noise, babble plus coloured noise.
- ``writer``: :func:`generate`, which writes the files above.
- ``statistics``: :func:`corpus_statistics` and :func:`format_statistics`.
- ``cli``: the command line behind ``python -m lobes.synthmix``.

Authors
 * sepformer-lobes contributors 2026
"""

from lobes.corpus.mixing import add_noise, mix_sources
from lobes.corpus.statistics import corpus_statistics, format_statistics
from lobes.corpus.writer import generate

__all__ = [
    "add_noise",
    "corpus_statistics",
    "format_statistics",
    "generate",
    "mix_sources",
]
