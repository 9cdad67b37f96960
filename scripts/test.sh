#!/usr/bin/env bash
# Set up a test environment from nothing and run the whole test suite.
# Usage: bash scripts/test.sh [pytest args]
# As root on Debian it also installs what the real-Debian tests need (debootstrap).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  # Tools the tests drive for real: debootstrap (the throwaway Debian roots), the real dnf,
  # zypper, pacman and rpm (their option parsers check the argv fixenv plans, in sandboxes),
  # and the shells whose start-up files fixenv edits. None of them is a package fixenv manages.
  need=()
  for tool in debootstrap:debootstrap dnf:dnf zypper:zypper pacman:pacman-package-manager \
              rpm:rpm createrepo_c:createrepo-c zsh:zsh fish:fish ksh:ksh tmux:tmux; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
  done
  # a compiler is part of the machine image; the tests only need it present
  command -v gcc >/dev/null 2>&1 || need+=(gcc)
  command -v g++ >/dev/null 2>&1 || need+=(g++)
  if [ "${#need[@]}" -gt 0 ]; then
    echo "test.sh: installing ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi

# fixenv runs on Python >= 3.9; prefer Debian's interpreter (fast start-up, python3-venv).
py=""
for cand in /usr/bin/python3 python3; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    py=$cand; break
  fi
done
[ -n "$py" ] || { echo "test.sh: need a python3 >= 3.9 with venv and ensurepip" >&2; exit 2; }

venv=${FIXENV_TEST_VENV:-$here/.venv}
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[test,lint]"
# uv (a binary wheel from PyPI) lets the uv backend's argv be checked by the real uv.
"$venv/bin/python" -m pip install -q --disable-pip-version-check uv >/dev/null 2>&1 || true
[ -x "$venv/bin/uv" ] && export FIXENV_TEST_UV="$venv/bin/uv"

# As root with debootstrap, the real-Debian tests must run: a broken set-up fails, not skips.
if [ "$(id -u)" = 0 ] && command -v debootstrap >/dev/null 2>&1; then
  export FIXENV_E2E_REQUIRED=1
fi

set +e
# Lint first (seconds): ruff and mypy, configured in pyproject.toml. A finding fails the run,
# after the tests have run too, so one CI run shows both.
lint=0
echo "test.sh: ruff check fixenv tests scripts contrib" >&2
"$venv/bin/ruff" check -q fixenv tests scripts contrib || lint=1
echo "test.sh: mypy (fixenv/)" >&2
"$venv/bin/mypy" --no-error-summary || lint=1
"$venv/bin/python" -m pytest -q -rs "$@"
rc=$?
set -e
if [ "$rc" = 0 ] && [ "$lint" != 0 ]; then
  echo "test.sh: the tests passed, but ruff or mypy found problems (above)" >&2
  rc=1
fi
# pytest's 5 means "no tests collected": that is a failure here, not a pass.
exit "$rc"
