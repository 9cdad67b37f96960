"""`fixenv` console script and `python -m fixenv`."""
from __future__ import annotations

import sys


def main() -> None:
    from fixenv.cli import run

    sys.exit(run())


if __name__ == "__main__":
    main()
