"""``python -m bench.suite``: the suite's command line (`bench.suite.cli`),
and the child process of each point (``--point``)."""

from bench.suite.cli import main

if __name__ == "__main__":
    main()
