"""``python -m lobes.separate MIX.wav [MORE.wav ...] --model DIR --out
OUT_DIR``: separates recordings with a pretrained model. The code is in
`lobes.inference` (the command line: `lobes.inference.cli.separate_main`).

Authors
 * sepformer-lobes contributors 2026
"""

import sys

from lobes.errors import interrupt_on_terminate
from lobes.inference.cli import separate_main as main

if __name__ == "__main__":
    interrupt_on_terminate()
    sys.exit(main(log=True))
