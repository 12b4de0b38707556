"""Headless training entry point.

    python train.py --data runs/data --out runs/model [...]
    Slicer --no-main-window --python-script train.py -- --data ... --out ...
    torchrun --nproc_per_node=4 train.py --data ... --out ... --device cuda

All three run ``mlnnet train`` with the same arguments and exit with its status code.
"""

import os
import sys


def _arguments() -> list[str]:
    args = sys.argv[1:]
    return args[1:] if args[:1] == ["--"] else args  # Slicer passes the script's arguments after "--"


def main() -> int:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # MLNNetLib beside this file (Slicer, clones)
    from MLNNetLib.cli import main as cli_main

    return cli_main(["train", *_arguments()])


if __name__ == "__main__":
    code = main()
    try:  # inside the Slicer application sys.exit does not end it; slicer-core (no app) falls through
        import slicer

        if getattr(slicer, "app", None) is not None:
            slicer.util.exit(code)
    except ImportError:
        pass
    sys.exit(code)
