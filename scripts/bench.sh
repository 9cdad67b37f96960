#!/usr/bin/env bash
# Benchmark fixenv against pyinfra / Ansible / raw commands (issue 7). Not run by CI.
# Installs ansible-core and pyinfra into a scratch venv; needs GNU time (apt-get install time).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! [ -x /usr/bin/time ] && [ "$(id -u)" = 0 ]; then
  apt-get install -y -qq time >/dev/null
fi
exec "${BENCH_PYTHON:-/usr/bin/python3.11}" scripts/bench.py "$@"
