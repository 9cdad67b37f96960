#!/usr/bin/env bash
# Run only the end-to-end suite: fixenv inside throwaway debootstrapped Debian 12 roots.
# Needs root, debootstrap and overlayfs; the first run builds the cached base root
# (~40 s, in ${FIXENV_TEST_CACHE:-/var/cache/fixenv-test}). Extra arguments go to pytest,
# e.g.  bash scripts/e2e-debian.sh -x -q -k venv
# Set FIXENV_E2E_REQUIRED=1 to fail (instead of skip) when the machine cannot run them.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${FIXENV_PYTHON:-$repo/.venv/bin/python}"
if [ ! -x "$py" ]; then
    echo "e2e-debian: $py not found; create the dev venv first (or set FIXENV_PYTHON)" >&2
    exit 2
fi
cd "$repo"
exec "$py" -m pytest tests/e2e "$@"
