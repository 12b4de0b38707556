"""``python -m MLNNetLib`` entry point."""

import sys

from MLNNetLib.cli import main

if __name__ == "__main__":
    sys.exit(main())
