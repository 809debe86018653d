"""``python -m upstream [OUT_DIR]`` (``make upstream``); see the package
docstring."""

import argparse
from pathlib import Path

from upstream.writer import PULL_REQUEST, line_count, write


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m upstream [OUT_DIR]``.

    Arguments
    ---------
    argv : list[str], optional
        Arguments without the program name; default ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(
        prog="python -m upstream",
        description="Write the lobes as a SpeechBrain pull request.",
    )
    parser.add_argument("out_dir", nargs="?", default="results/upstream")
    out = Path(parser.parse_args(argv).out_dir).resolve()
    files = write(out)
    for path in files:
        print(f"  {path}")
    print(
        f"wrote {out}: {len(files)} files, {line_count(files)} lines, "
        f"and the pull-request text {PULL_REQUEST}"
    )


if __name__ == "__main__":
    main()
