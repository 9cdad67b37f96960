#!/usr/bin/env bash
# Build dist/fixenv.pyz: fixenv and its dependencies in one file that runs with any
# Python >= 3.9 and no pip:   python3 dist/fixenv.pyz verify
#
# Usage: bash scripts/build-zipapp.sh [OUTPUT]        (default: dist/fixenv.pyz)
# Environment:
#   PYTHON            the Python that builds it (default: python3; needs pip, >= 3.9)
#   FIXENV_PIP_ARGS   extra pip arguments, e.g. "--no-index --find-links DIR" offline
#   FIXENV_ZIPAPP_PY  the oldest Python the archive must run on (default 3.9): pip picks
#                     dependency versions that support it.
#   FIXENV_ZIPAPP_VERSION  stamp this version into the archive (`fixenv --version` prints it),
#                     e.g. 0.1.0+site.3 for a locally patched build; default: the checkout's.
#
# Dependencies are resolved as pure-Python wheels for FIXENV_ZIPAPP_PY, so the archive does
# not depend on the builder's Python version. PyYAML's optional C accelerator is dropped
# (PyYAML falls back to its pure-Python code); any other compiled module is an error,
# because nothing compiled can be imported from inside a zip.
set -euo pipefail
export PIP_ROOT_USER_ACTION=ignore

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$repo/dist/fixenv.pyz}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
py="${PYTHON:-python3}"
min_py="${FIXENV_ZIPAPP_PY:-3.9}"
stamp="${FIXENV_ZIPAPP_VERSION:-}"
read -r -a pip_args <<<"${FIXENV_PIP_ARGS:-}"

say() { printf 'build-zipapp: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v "$py" >/dev/null 2>&1 || die "no $py; set PYTHON to a Python >= 3.9 with pip"
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 9))' \
    || die "$py is older than 3.9; set PYTHON to a Python >= 3.9 with pip"
"$py" -m pip --version >/dev/null 2>&1 \
    || die "$py has no pip (Debian: apt-get install python3-pip, or use a venv's python)"

work="$(mktemp -d "${TMPDIR:-/tmp}/fixenv-zipapp.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Build the fixenv wheel from a copy: an in-tree build would leave build/ and *.egg-info
# in the checkout.
mkdir -p "$work/src"
for item in pyproject.toml README.md LICENSE setup.cfg setup.py MANIFEST.in fixenv playbooks; do
    [ -e "$repo/$item" ] && cp -R "$repo/$item" "$work/src/"
done
find "$work/src" -name __pycache__ -prune -exec rm -rf {} +
if [ -n "$stamp" ]; then
    # PEP 440 (public version, optional +local label), so pip and `--version` agree.
    printf '%s' "$stamp" | grep -Eq '^[0-9]+(\.[0-9]+)*((a|b|rc)[0-9]+)?(\.post[0-9]+)?(\.dev[0-9]+)?(\+[a-z0-9]+(\.[a-z0-9]+)*)?$' \
        || die "FIXENV_ZIPAPP_VERSION=$stamp is not a PEP 440 version (e.g. 0.1.0+site.3)"
    # Only the copy is edited: the version line of [project] and fixenv.__version__.
    sed -i -E "s/^version = \"[^\"]*\"/version = \"$stamp\"/" "$work/src/pyproject.toml"
    sed -i -E "s/^__version__ = \"[^\"]*\"/__version__ = \"$stamp\"/" "$work/src/fixenv/__init__.py"
fi
say "building the fixenv wheel with $("$py" -c 'import sys; print(sys.executable)')"
"$py" -m pip wheel -q --disable-pip-version-check --no-deps ${pip_args[@]+"${pip_args[@]}"} \
    --wheel-dir "$work/wheel" "$work/src" >&2
wheel="$(ls "$work"/wheel/fixenv-*.whl)"

say "vendoring the dependencies (resolved for Python $min_py)"
# `pip download` honours the dependencies' Requires-Python for --python-version (an install
# with --target may not), then the wheels are unpacked as they are.
"$py" -m pip download -q --disable-pip-version-check --only-binary=:all: \
    --python-version "$min_py" ${pip_args[@]+"${pip_args[@]}"} --dest "$work/deps" "$wheel" >&2
"$py" -m pip install -q --disable-pip-version-check --no-compile --no-index --no-deps \
    --only-binary=:all: --python-version "$min_py" --target "$work/app" "$work"/deps/*.whl >&2

# Console scripts and byte code are useless inside the archive.
rm -rf "$work/app/bin"
find "$work/app" -name __pycache__ -prune -exec rm -rf {} +
# PyYAML: the C accelerator is optional (yaml/__init__.py falls back to pure Python).
find "$work/app/yaml" "$work/app/_yaml" -name '*.so' -delete 2>/dev/null || true
compiled="$(find "$work/app" \( -name '*.so' -o -name '*.pyd' -o -name '*.dylib' \) -print)"
if [ -n "$compiled" ]; then
    die "compiled modules cannot run from a zipapp; a dependency brought:
$compiled"
fi
[ -f "$work/app/fixenv/playbooks/python-headers.yaml" ] || die "the playbooks are missing"
[ -f "$work/app/fixenv/data/probe_ext.c" ] || die "fixenv/data is missing"
[ ! -e "$work/app/__main__.py" ] || die "a dependency brought a top-level __main__.py"

cat >"$work/app/__main__.py" <<'EOF'
# fixenv zipapp entry point (built by scripts/build-zipapp.sh).
#
# fixenv reads its data files (playbooks, tables, the C probe a compiler must read) by path
# next to its modules, which a zip cannot offer. By default the fixenv package runs from a
# private copy extracted for this process (removed at exit); the vendored dependencies are
# imported from the archive itself.
#
# FIXENV_ZIPAPP_CACHE=DIR (the Ansible role and the pyinfra deploy set it): the whole
# archive is unpacked once per content (DIR/<sha256 prefix>) and later runs import from
# there with byte code, as fast as a venv. DIR must be this user's alone (not group- or
# world-writable), else the private copy is used; older unpackings are removed.
import atexit
import hashlib
import os
import shutil
import stat
import sys
import tempfile
import time
import zipfile

if sys.version_info < (3, 9):
    sys.exit("fixenv needs Python >= 3.9 (this is %d.%d)" % sys.version_info[:2])


def _unpacked(archive, base):
    """DIR/<key> holding the whole archive, or None when DIR cannot be used safely."""
    h = hashlib.sha256()
    with open(archive, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    key = h.hexdigest()[:16]
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
        st = os.lstat(base)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return None  # someone else could change the code this would run
        final = os.path.join(base, key)
        done = os.path.join(final, ".complete")
        if not os.path.isfile(done):
            tmp = tempfile.mkdtemp(prefix=".unpack-", dir=base)
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
            open(os.path.join(tmp, ".complete"), "w").close()
            try:
                os.rename(tmp, final)
            except OSError:  # another run unpacked it first
                shutil.rmtree(tmp, ignore_errors=True)
                if not os.path.isfile(done):
                    return None
            for name in os.listdir(base):  # other versions, unpacked more than 10 min ago
                old = os.path.join(base, name)
                if name != key and time.time() - os.lstat(old).st_mtime > 600:
                    shutil.rmtree(old, ignore_errors=True)
        return final
    except OSError:
        return None


_archive = os.path.dirname(os.path.abspath(__file__))
_cache = os.environ.get("FIXENV_ZIPAPP_CACHE")
_dir = _unpacked(_archive, _cache) if _cache else None
if _dir:
    sys.path[:] = [_dir] + [p for p in sys.path if os.path.abspath(p) != _archive]
else:
    sys.dont_write_bytecode = True
    _copy = tempfile.mkdtemp(prefix="fixenv-zipapp-")
    atexit.register(shutil.rmtree, _copy, True)
    with zipfile.ZipFile(_archive) as _zf:
        _zf.extractall(_copy, [n for n in _zf.namelist() if n.startswith("fixenv/")])
    sys.path.insert(0, _copy)

from fixenv.__main__ import main  # noqa: E402

main()
EOF

# Reproducible: the same sources and dependency versions give the same bytes, so a deploy
# that compares checksums (the Ansible role, the pyinfra deploy) copies nothing after a
# rebuild that changed nothing. pip records the temporary wheel paths in direct_url.json
# (dropped, with its RECORD line); every entry gets one timestamp (SOURCE_DATE_EPOCH, or
# 1980-01-01, the oldest a zip can hold).
find "$work/app" -path '*.dist-info/direct_url.json' -delete
find "$work/app" -path '*.dist-info/RECORD' -exec sed -i '/\.dist-info\/direct_url\.json,/d' {} +
find "$work/app" -exec touch -h -d "@${SOURCE_DATE_EPOCH:-315532800}" {} +

mkdir -p "$(dirname "$out")"
"$py" -m zipapp "$work/app" --output "$out.tmp" --python "/usr/bin/env python3" --compress
if [ -n "$stamp" ]; then
    got="$("$py" -I "$out.tmp" --version 2>&1)" || die "the archive does not run: $got"
    [ "$got" = "fixenv $stamp" ] || { rm -f "$out.tmp"; die "the archive says '$got', not 'fixenv $stamp'"; }
fi
mv -f "$out.tmp" "$out"
say "wrote $out ($(du -k "$out" | cut -f1) KiB): $(find "$work/app" -maxdepth 1 -name '*.dist-info' -printf '%f\n' | sed 's/\.dist-info$//' | sort | tr '\n' ' ')"
