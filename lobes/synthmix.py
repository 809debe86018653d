"""Command line of the embedded eSpeak NG speech corpus.

``python -m lobes.synthmix OUT_DIR [options]`` writes a WSJ0-2Mix (or
WSJ0-3Mix), WHAM! or LibriMix style corpus; the code lives in
:mod:`lobes.corpus`.

Authors
 * sepformer-lobes contributors 2026
"""

import sys

from lobes.corpus.cli import main

if __name__ == "__main__":
    main(sys.argv[1:])
