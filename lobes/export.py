"""``python -m lobes.export SOURCE OUT_DIR``: writes a pretrained folder
from a recipe run or an upstream RE-SepFormer folder. The code is in
`lobes.inference` (the command line: `lobes.inference.cli.export_main`).

Authors
 * sepformer-lobes contributors 2026
"""

import sys

from lobes.errors import interrupt_on_terminate
from lobes.inference.cli import export_main as main

if __name__ == "__main__":
    interrupt_on_terminate()
    sys.exit(main(log=True))
