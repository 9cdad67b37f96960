"""`fixenv` console script and `python -m fixenv`."""
from __future__ import annotations

import sys


def main() -> None:
    # The hot commands are served without importing Typer (see fixenv/fastpath.py).
    from fixenv.fastpath import run as fast

    code = fast(sys.argv[1:])
    if code is None:
        from fixenv.cli import run

        code = run()
    sys.exit(code)


if __name__ == "__main__":
    main()
