"""The end-to-end demo behind ``make demo`` (a tool of this checkout: it
runs the checkout's WSJ0Mix recipe).

Builds the embedded corpus in the WSJ0-2Mix layout from eSpeak NG voices
and real recorded voices (pinned Debian packages fetched into
``~/.cache/sepformer-lobes``; eSpeak NG only, saying so, where they cannot
be fetched), trains a small FlashFormer with the WSJ0Mix recipe exactly
as a user runs it (with dynamic mixing and a few minutes of CPU), and
scores it twice: on the synthetic test split and on the real-speech test
split, mixtures of three real voices that no training or validation
mixture has. It prints the SI-SNRi / SDRi tables (the real one per pair of
voices) and draws the spectrograms of one mixture of each, its references
and the estimates::

    python -m demo results/demo
    python -m demo results/demo --corpus librimix   # the LibriMix recipe
    python -m demo results/demo --real-voices off   # eSpeak NG only
    python -m demo /tmp/smoke --smoke               # the path in a minute

Running it again reuses the corpus and resumes (or just re-evaluates) the
training run in the same folder; delete the folder to start over.

- `demo.training`: the corpus and the training budget, shared with the
  equal-budget quality benchmark (``bench/quality.py``); the recipe
  scores both test splits itself.
- `demo.report`: the results tables and the spectrogram figures.
"""
