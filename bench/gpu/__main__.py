"""``python -m bench.gpu``: the GPU report (`bench.gpu.cli`)."""

from bench.gpu.cli import main

if __name__ == "__main__":
    main()
