"""The end-to-end demo behind ``make demo`` (a tool of this checkout: it
runs the checkout's WSJ0Mix recipe).

Builds the embedded (eSpeak NG) corpus in the WSJ0-2Mix layout, trains a
small RE-SepFormer with the WSJ0Mix recipe exactly as a user runs it (with
dynamic mixing and a few minutes of CPU), evaluates it on the test split,
prints the SI-SNRi / SDRi table, and draws the spectrograms of one test
mixture, its references and the estimates::

    python -m demo results/demo
    python -m demo results/demo --corpus librimix   # the LibriMix recipe

Running it again reuses the corpus and resumes (or just re-evaluates) the
training run in the same folder; delete the folder to start over.

- `demo.training`: the corpus and the training budget, shared with the
  equal-budget quality benchmark (``bench/quality.py``).
- `demo.report`: the results table and the spectrogram figure.
"""
