#!/usr/bin/env bash
# fixenv bootstrap: install fixenv into its own venv and run `fixenv apply --yes`.
#
#   bash scripts/bootstrap.sh [apply options]        e.g. --python /opt/venv/bin/python --json
#   bash scripts/bootstrap.sh --install-only         install/update fixenv, apply nothing
#
# 1. Finds a python3 >= 3.9 with venv (FIXENV_PYTHON to choose one). On Debian/Ubuntu, as
#    root, a missing python3 / python3-venv is installed with apt-get; otherwise it prints the
#    command to run.
# 2. Installs fixenv into ${FIXENV_HOME:-~/.local/share/fixenv}/venv, never into the
#    Python you use, from FIXENV_SOURCE (a checkout directory, a wheel or sdist, a URL, or a
#    pip requirement such as "fixenv==0.1.0"); by default from the checkout this script sits
#    in. FIXENV_PIP_ARGS adds pip options (offline: "--no-index --find-links DIR").
#    Re-running re-installs only when the source changed (FIXENV_REINSTALL=1 forces it).
# 3. Links `fixenv` into /usr/local/bin (root) or ~/.local/bin (FIXENV_BIN_DIR to choose).
# 4. Runs `fixenv apply --yes "$@"` and exits with its exit code.
#
# Exit codes: fixenv's own (README "Exit codes"); before fixenv runs: 1 the install failed,
# 2 bad usage, 3 a bad FIXENV_SOURCE or FIXENV_PYTHON, 4 root is needed to install Python.
set -euo pipefail

FIXENV_HOME="${FIXENV_HOME:-${HOME:?HOME is not set}/.local/share/fixenv}"
venv="$FIXENV_HOME/venv"
stamp="$venv/.fixenv-source"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { local code="$1"; shift; say "error: $*"; exit "$code"; }

install_only=0
if [ "${1:-}" = "--install-only" ]; then
    install_only=1
    shift
fi

is_root() { [ "$(id -u)" = 0 ]; }
has() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
    # apt-get install, refreshing the package lists once when they are missing or stale.
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "$@" >&2; then
        say "apt-get install failed; refreshing the package lists and retrying"
        apt-get update -q >&2
        apt-get install -y -q --no-install-recommends "$@" >&2
    fi
}

# --------------------------------------------------------------------------- 1. python3

py_ok() {  # usable: >= 3.9 and able to make a venv with pip in it
    "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))' >/dev/null 2>&1
}
py_version_ok() {
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 9))' >/dev/null 2>&1
}

find_python() {
    local cand
    if [ -n "${FIXENV_PYTHON:-}" ]; then
        has "$FIXENV_PYTHON" || die 3 "FIXENV_PYTHON=$FIXENV_PYTHON: no such interpreter"
        py_version_ok "$FIXENV_PYTHON" || die 3 "FIXENV_PYTHON=$FIXENV_PYTHON is older than 3.9"
        echo "$FIXENV_PYTHON"
        return
    fi
    # The system's interpreter first: a venv built on a pyenv/asdf shim's Python breaks when
    # that version is uninstalled or the shim picks another one. Shims only as a last resort.
    local found="" shims="" path
    for cand in /usr/bin/python3 python3 python3.13 python3.12 python3.11 python3.10 python3.9; do
        has "$cand" || continue
        path="$(command -v "$cand")"
        case "$path" in
            */shims/*) shims="$shims $path" ;;
            *) found="$found $path" ;;
        esac
    done
    for cand in $found; do
        if py_ok "$cand"; then echo "$cand"; return; fi
    done
    if has apt-get && is_root; then  # its missing python3-venv gets installed below
        for cand in $found; do
            if py_version_ok "$cand"; then echo "$cand"; return; fi
        done
    fi
    for cand in $shims; do
        if py_ok "$cand"; then echo "$cand"; return; fi
    done
    for cand in $found $shims; do
        if py_version_ok "$cand"; then echo "$cand"; return; fi
    done
    echo ""
}

py="$(find_python)"
if [ -z "$py" ]; then
    if has apt-get && is_root; then
        say "no python3 >= 3.9 here; installing python3 python3-venv with apt-get"
        apt_install python3 python3-venv
        py=python3
    elif has apt-get; then
        die 4 "no python3 >= 3.9 here; run: sudo apt-get install python3 python3-venv"
    else
        die 3 "no python3 >= 3.9 here; install one (or set FIXENV_PYTHON) and rerun"
    fi
fi
if ! py_ok "$py"; then
    # Debian and Ubuntu ship venv/ensurepip separately, in python3-venv / python3.X-venv.
    xy="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    pkg="python3-venv"
    [ "$(command -v "$py")" = /usr/bin/python3 ] || pkg="python$xy-venv"
    if has apt-get && is_root; then
        say "$py $xy cannot create a venv (no ensurepip); installing $pkg with apt-get"
        apt_install "$pkg"
        py_ok "$py" || die 1 "$py still cannot create a venv after installing $pkg"
    elif has apt-get; then
        die 4 "$py $xy cannot create a venv (no ensurepip); run: sudo apt-get install $pkg"
    else
        die 3 "$py $xy cannot create a venv (no venv/ensurepip module); install a Python with venv or set FIXENV_PYTHON"
    fi
fi

# --------------------------------------------------------------------------- 2. source

src="${FIXENV_SOURCE:-}"
if [ -z "$src" ]; then
    checkout="$(cd "$here/.." && pwd)"
    if [ -f "$checkout/pyproject.toml" ] && [ -f "$checkout/fixenv/__init__.py" ]; then
        src="$checkout"
    else
        die 3 "this script is not inside a fixenv checkout; set FIXENV_SOURCE to a checkout, a wheel, a URL or a package name"
    fi
fi
read -r -a pip_args <<<"${FIXENV_PIP_ARGS:-}"

# The fingerprint of what would be installed: a directory's relevant files, a file's bytes,
# or the requirement/URL text itself, plus the pip options and the interpreter.
fingerprint() {
    "$py" - "$src" "${FIXENV_PIP_ARGS:-}" "$(command -v "$py")" <<'EOF'
import hashlib, os, sys
src, args, exe = sys.argv[1:4]
h = hashlib.sha256(("%s\0%s\0%s\0" % (os.path.abspath(src) if os.path.exists(src) else src,
                                       args, exe)).encode())
if os.path.isdir(src):
    skip = {".git", ".venv", "venv", "build", "dist", "tests", "__pycache__", ".pytest_cache",
            ".mypy_cache", ".ruff_cache", "contrib", "docs"}
    for top, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d not in skip and not d.endswith(".egg-info"))
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(top, name)
            h.update(os.path.relpath(path, src).encode() + b"\0")
            with open(path, "rb") as fh:
                h.update(fh.read() + b"\0")
elif os.path.isfile(src):
    with open(src, "rb") as fh:
        h.update(fh.read())
print(h.hexdigest())
EOF
}

case "$src" in  # like pip: a path when it looks like one, else a requirement or a URL
    *://*) is_path=0 ;;
    */* | . | .. | *.whl | *.tar.gz | *.zip) is_path=1 ;;
    *) is_path=0 ;;
esac
if [ "$is_path" = 1 ] && [ -e "$src" ]; then
    srcdir="$(cd "$(dirname "$src")" && pwd)"
    src="${srcdir%/}/$(basename "$src")"  # /src, not //src
    if [ -d "$src" ] && [ ! -f "$src/pyproject.toml" ] && [ ! -f "$src/setup.py" ]; then
        die 3 "FIXENV_SOURCE=$src is a directory but not a Python project (no pyproject.toml)"
    fi
elif [ "$is_path" = 1 ]; then
    die 3 "FIXENV_SOURCE=$src: no such file or directory"
fi
want="$(fingerprint)"

# --------------------------------------------------------------------------- 3. install

venv_works() { [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import fixenv' >/dev/null 2>&1; }

if [ "${FIXENV_REINSTALL:-0}" != 1 ] && venv_works && [ -f "$stamp" ] \
        && [ "$(cat "$stamp")" = "$want" ]; then
    say "fixenv is up to date in $venv"
else
    py_path="$(command -v "$py")"
    if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1 \
            || [ "$(cat "$venv/.fixenv-python" 2>/dev/null || true)" != "$py_path" ]; then
        say "creating $venv with $py"
        rm -rf "$venv"
        mkdir -p "$FIXENV_HOME"
        "$py" -m venv "$venv" >&2 || die 1 "$py -m venv $venv failed"
        printf '%s\n' "$py_path" >"$venv/.fixenv-python"
    fi
    rm -f "$stamp"
    export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
    # Uninstall first so a changed source of the same version is really installed; the
    # dependencies stay.
    "$venv/bin/python" -m pip uninstall -y -q fixenv >/dev/null 2>&1 || true
    install_from="$src"
    build=""
    if [ -d "$src" ]; then
        # Build from a copy: an in-tree build would leave build/ and *.egg-info in the
        # checkout (and fail on a read-only one).
        build="$(mktemp -d "${TMPDIR:-/tmp}/fixenv-bootstrap.XXXXXX")"
        (cd "$src" && for item in pyproject.toml README.md LICENSE setup.cfg setup.py MANIFEST.in fixenv playbooks; do
            if [ -e "$item" ]; then cp -R "$item" "$build/"; fi
        done)
        install_from="$build"
    fi
    say "installing fixenv from $src into $venv"
    set +e
    "$venv/bin/python" -m pip install -q ${pip_args[@]+"${pip_args[@]}"} "$install_from" >&2
    rc=$?
    set -e
    [ -z "$build" ] || rm -rf "$build"
    [ "$rc" = 0 ] || die 1 "pip install of $src failed (exit $rc); see pip's output above"
    venv_works || die 1 "fixenv is not importable in $venv after pip install"
    printf '%s\n' "$want" >"$stamp"
    say "installed fixenv $("$venv/bin/fixenv" --version | sed 's/^fixenv //') into $venv"
fi

# --------------------------------------------------------------------------- 4. link

if [ -n "${FIXENV_BIN_DIR:-}" ]; then
    bindir="$FIXENV_BIN_DIR"
elif is_root; then
    bindir=/usr/local/bin
else
    bindir="$HOME/.local/bin"
fi
mkdir -p "$bindir"
if [ "$(readlink "$bindir/fixenv" 2>/dev/null || true)" != "$venv/bin/fixenv" ]; then
    if [ -e "$bindir/fixenv" ] && [ ! -L "$bindir/fixenv" ]; then
        say "not replacing $bindir/fixenv (not a link); use $venv/bin/fixenv"
    else
        ln -sfn "$venv/bin/fixenv" "$bindir/fixenv"
        say "linked $bindir/fixenv"
    fi
fi
case ":$PATH:" in
    *":$bindir:"*) ;;
    *) say "note: $bindir is not on PATH; add it, or run $venv/bin/fixenv" ;;
esac

# --------------------------------------------------------------------------- 5. apply

if [ "$install_only" = 1 ]; then
    exit 0
fi
exec "$venv/bin/fixenv" apply --yes "$@"
