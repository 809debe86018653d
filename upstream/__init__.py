"""The lobes as a SpeechBrain pull request.

``python -m upstream [OUT_DIR]`` (``make upstream``; default
``results/upstream``) writes a folder to drop into a SpeechBrain checkout:

- ``speechbrain/lobes/models/<name>.py``: the five lobe modules under the
  names of `upstream.rename.MODULES`, every ``lobes.<module>`` path
  rewritten to its ``speechbrain.lobes.models.<name>`` path;
- ``tests/unittests/test_<name>.py``: their tests, ``tests/test_<module>.py``
  rewritten the same way (those files import only pytest, torch,
  SpeechBrain, the standard library and the lobes, so that they can go);
- ``recipes/WSJ0Mix/separation/hparams/<name>.yaml``: one recipe file per
  masknet, SpeechBrain's ``resepformer.yaml`` with our masknet inline;
- ``PULL_REQUEST.md``: the pull-request text, with the numbers measured
  in ``bench/results/`` and the size of the diff.

Modules: `upstream.rename` (names and rewriting), `upstream.recipes` (the
recipe files), `upstream.pull_request` (the text, from ``pull_request.md``)
and `upstream.writer` (the folder, written atomically). ``speechbrain/``
holds what is adapted from SpeechBrain: its ruff settings, its recipe file
and its recipe-test row. ``tests/test_upstream.py`` checks the written
folder as SpeechBrain would: SpeechBrain's ruff 0.12.4 with its settings,
and the doctests, unit tests and recipe files run with the ``lobes``
package blocked from import.
"""
