"""The embedded speech corpus: eSpeak NG speakers and real recorded voices
in WSJ0-2Mix/3Mix, WHAM! and LibriMix layouts.

No speech corpus can be downloaded here and WSJ0 is licensed, so the
speech is synthesised (eSpeak NG) and, beside it, cut from recordings of
real voices that Debian packages ship (game dialogue, telephone prompts,
spoken letters; pinned and checksummed, fetched with ``apt-get download``
into ``~/.cache/sepformer-lobes``). Real voices are disjoint across splits:
most train, the others validate and make the real-speech test split
(``tt_real``). Without apt-get the corpus is eSpeak NG only, saying so.
Run::

    python -m lobes.synthmix OUT_DIR --layout wsj0-2mix --num-spks 2 \\
        --n-train 20 --n-valid 5 --n-test 5 --seed 1234 --sample-rate 8000 \\
        --real-voices auto --n-test-real 100

Output (``wav8k`` becomes ``wav16k`` at 16 kHz; all files 16-bit PCM;
``s3`` only with ``--num-spks 3``; OUT_DIR plays the ``Libri2Mix`` or
``Libri3Mix`` folder for librimix)::

    OUT/synthmix.json          arguments, speakers, texts, gains, SNRs
    OUT/CREDITS.md, OUT/licences/   the real voices, packages, licences
    OUT/.../tt_real (test_real)     with real voices: the real-speech test
    wsj0-2mix (WSJ0-2Mix, or WSJ0-3Mix with 3 speakers):
    OUT/clean/{tr,cv,tt}/SPK/SPKnnnnn.wav     clean utterances, peak 0.9
    OUT/wav8k/min/{tr,cv,tt}/{mix,s1,s2,s3}/UTT1_L1_UTT2_L2[_UTT3_L3].wav
    wham (WHAM!): clean utterances and mixture ids as wsj0-2mix,
    OUT/wav8k/min/{tr,cv,tt}/{mix_both,mix_clean,s1,s2,s3,noise}/ID.wav
    librimix (Libri2Mix, Libri3Mix; clean utterances as LibriSpeech's):
    OUT/clean/{train-360,dev,test}/SPK/1/SPK-1-nnnn.wav
    OUT/wav8k/min/{train-360,dev,test}/{mix_both,mix_clean,s1,s2,s3,noise}/
        UTT1_UTT2[_UTT3].wav

Modules, one job each:

- ``mixing``: WSJ0-2Mix mixing (2 or more sources) and WHAM! noise
  adding, also used by training's dynamic mixing; needs no eSpeak.
- ``espeak``: eSpeak NG through ctypes, the speakers' voices and texts.
- ``speakers``: speakers planned disjoint across tr, cv, tt and babble.
- ``voice_catalogue``: the pinned packages of real voices and the split
  each voice serves.
- ``debian``: fetching, checking and unpacking pinned packages (cache).
- ``vad``: cutting recordings into utterances (energy voice activity).
- ``real_voices``: the real voices' utterances and credits.
- ``splits``: what each split holds (speakers, voices, mixtures).
- ``layouts``: how each layout names splits, folders and files.
- ``noise``: WHAM!-style noise, babble plus coloured noise.
- ``output``: the output folder, made empty, only our own replaced.
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
