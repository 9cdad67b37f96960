"""Fake package managers for fixenv's apply-flow tests. Each program in this directory is a
launcher that calls `main(<its own name>, argv)`.

They behave like the real tools as far as fixenv can tell: the read-only state queries
answer in the real formats and exit codes, changing commands need the real flags
(`-y`, `--non-interactive`, `--noconfirm`), unknown packages fail with the real message,
and an install *creates the package's files* (e.g. copies real Python headers into the fake
prefix), so a later `fixenv verify` builds against them for real.

Environment:
  FAKEPM_LOG      append one JSON line per call: {"prog", "argv", "t"}
  FAKEPM_DB       JSON state: {"installed": {name: version}, "files": {path: name}}
  FAKEPM_CATALOG  JSON: {name: {"version": v, "files": [[src, dst], ...]}}; a src directory
                  is copied, a src file is symlinked at dst
  FAKEPM_FAIL     program names (comma-separated) whose changing commands fail the way the
                  real tool does when its network or lock is unavailable
  FAKEPM_REAL_BIN where the real compilers live (gcc/g++ wrappers log, then exec them)
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time


def _env(name, default=None):
    return os.environ.get(name, default)


def log(prog, argv):
    path = _env("FAKEPM_LOG")
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps({"prog": prog, "argv": [prog] + list(argv),
                                 "t": time.time()}) + "\n")


def load(name, default):
    path = _env(name)
    if not path or not os.path.exists(path):
        return default
    with open(path) as fh:
        return json.load(fh)


def db():
    data = load("FAKEPM_DB", {})
    data.setdefault("installed", {})
    data.setdefault("files", {})
    return data


def save_db(data):
    path = _env("FAKEPM_DB")
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)


def catalog():
    return load("FAKEPM_CATALOG", {})


def failing(prog):
    return prog in [p.strip() for p in (_env("FAKEPM_FAIL") or "").split(",") if p.strip()]


def out(text):
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    sys.stdout.flush()


def err(text):
    sys.stderr.write(text if text.endswith("\n") or not text else text + "\n")
    sys.stderr.flush()


def put_files(name, data):
    """Create the package's files; record them as owned by it."""
    entry = catalog()[name]
    for src, dst in entry.get("files", []):
        parent = os.path.dirname(dst)
        if parent and not os.path.isdir(parent):
            os.makedirs(parent)
        if os.path.lexists(dst):
            if os.path.isdir(dst) and not os.path.islink(dst):
                shutil.rmtree(dst)
            else:
                os.remove(dst)
        if os.path.isdir(src):
            shutil.copytree(src, dst, symlinks=True)
        else:
            os.symlink(src, dst)
        data["files"][dst] = name
    data["installed"][name] = entry.get("version", "1.0-1")


def known(name):
    return name in catalog()


# -- rpm, dnf, yum, zypper ----------------------------------------------------------------

def rpm_format(fmt, name, version):
    ver, _, rel = version.rpartition("-")
    if not ver:
        ver, rel = version, "1"
    text = fmt.replace("%{NAME}", name).replace("%{VERSION}", ver).replace("%{RELEASE}", rel)
    return text.replace("\\t", "\t").replace("\\n", "\n")


def rpm(args):
    data = db()
    fmt = "%{NAME}-%{VERSION}-%{RELEASE}\\n"
    if "--queryformat" in args:
        fmt = args[args.index("--queryformat") + 1]
    words = [a for i, a in enumerate(args) if not a.startswith("-")
             and (i == 0 or args[i - 1] != "--queryformat")]
    if args and args[0] == "-qf":
        rc = 0
        for path in words:
            owner = data["files"].get(path)
            if owner:
                out(rpm_format(fmt, owner, data["installed"].get(owner, "1.0-1")).rstrip("\n"))
            else:
                out("file %s is not owned by any package" % path)
                rc = 1
        return rc
    if args and args[0] == "-q":
        rc = 0
        for name in words:
            if name in data["installed"]:
                out(rpm_format(fmt, name, data["installed"][name]).rstrip("\n"))
            elif "--whatprovides" in args:
                out("no package provides %s" % name)
                rc = 1
            else:
                out("package %s is not installed" % name)
                rc = 1
        return rc
    err("rpm: fake supports only -q and -qf")
    return 1


def dnf_like(prog, args):
    data = db()
    verb = next((a for a in args if not a.startswith("-")), "")
    names = [a for a in args if not a.startswith("-") and a != verb]
    if verb == "makecache":
        if failing(prog):
            return _repo_failure(prog)
        out("Metadata cache created.")
        return 0
    if verb not in ("install", "reinstall"):
        err("fake %s: unsupported command %r" % (prog, verb))
        return 1
    if "-y" not in args and "--assumeyes" not in args:
        out("Is this ok [y/N]: Operation aborted.")
        return 1
    if failing(prog):
        return _repo_failure(prog)
    missing = [n for n in names if not known(n)]
    if missing:
        if prog == "dnf":
            for n in missing:
                out("No match for argument: %s" % n)
            err("Error: Unable to find a match: %s" % " ".join(missing))
        else:
            for n in missing:
                out("No package %s available." % n)
            err("Error: Nothing to do")
        return 1
    if verb == "reinstall":
        absent = [n for n in names if n not in data["installed"]]
        if absent:
            for n in absent:
                out("Package %s available, but not installed." % n)
            err("Error: No packages marked for reinstall.")
            return 1
    done = []
    for n in names:
        if verb == "install" and n in data["installed"]:
            out("Package %s-%s.x86_64 is already installed." % (n, data["installed"][n]))
            continue
        put_files(n, data)
        done.append(n)
    save_db(data)
    if done:
        out("%s:" % ("Reinstalled" if verb == "reinstall" else "Installed"))
        for n in done:
            out("  %s-%s.x86_64" % (n, data["installed"][n]))
    out("\nComplete!")
    return 0


def _repo_failure(prog):
    if prog == "dnf":
        err("Errors during downloading metadata for repository 'fedora':\n"
            "  - Curl error (6): Couldn't resolve host name\n"
            "Error: Failed to download metadata for repo 'fedora': Cannot download repomd.xml: "
            "Cannot download repodata/repomd.xml: All mirrors were tried")
    else:
        err("One of the configured repositories failed (Amazon Linux 2 core repository),\n"
            "and yum doesn't have enough cached data to continue.\n"
            "Cannot find a valid baseurl for repo: amzn2-core/2/x86_64")
    return 1


def zypper(args):
    data = db()
    if not ({"--non-interactive", "-n"} & set(args)):
        out("Continue? [y/n/v/...? shows all options] (y): ")
        err("Aborting: input needed in non-interactive use.")
        return 1
    words = [a for a in args if not a.startswith("-")]
    verb = words[0] if words else ""
    names = words[1:]
    if failing("zypper"):
        err("System management is locked by the application with pid 4242 (zypper).\n"
            "Close this application before trying again.")
        return 7  # ZYPPER_EXIT_ZYPP_LOCKED
    if verb in ("refresh", "ref"):
        out("All repositories have been refreshed.")
        return 0
    if verb not in ("install", "in"):
        err("fake zypper: unsupported command %r" % verb)
        return 1
    missing = [n for n in names if not known(n)]
    if missing:
        out("Loading repository data...\nReading installed packages...")
        for n in missing:
            out("'%s' not found in package names. Trying capabilities." % n)
            err("No provider of '%s' found." % n)
        return 104  # ZYPPER_EXIT_INF_CAP_NOT_FOUND
    todo = [n for n in names if "--force" in args or n not in data["installed"]]
    for n in todo:
        put_files(n, data)
    save_db(data)
    out("The following %d NEW package%s going to be installed:\n  %s"
        % (len(todo), "s are" if len(todo) != 1 else " is", " ".join(todo)))
    return 0


# -- apk -----------------------------------------------------------------------------------

def apk(args):
    data = db()
    words = [a for a in args if not a.startswith("-")]
    verb = words[0] if words else ""
    names = words[1:]
    if verb == "info" and "--who-owns" in args:
        path = names[0] if names else ""
        owner = data["files"].get(path)
        if not owner:
            err("ERROR: %s: Could not find owner package" % path)
            return 1
        out("%s is owned by %s-%s" % (path, owner, data["installed"].get(owner, "1.0-r0")))
        return 0
    if verb == "info" and "-e" in args:
        have = [n for n in names if n in data["installed"]]
        for n in have:
            out(n)
        return len(names) - len(have)
    if verb not in ("add", "fix"):
        err("fake apk: unsupported command %r" % verb)
        return 1
    if failing("apk"):
        err("ERROR: Unable to lock database: Resource temporarily unavailable\n"
            "ERROR: Failed to open apk database: Resource temporarily unavailable")
        return 99
    missing = [n for n in names if not known(n)]
    if missing:
        err("ERROR: unable to select packages:")
        for n in missing:
            err("  %s (no such package):\n    required by: world[%s]" % (n, n))
        return 1
    if verb == "fix":
        absent = [n for n in names if n not in data["installed"]]
        if absent:
            err("ERROR: %s: package not installed" % absent[0])
            return 1
    for i, n in enumerate(names, 1):
        put_files(n, data)
        out("(%d/%d) %s %s (%s)" % (i, len(names), "Reinstalling" if verb == "fix"
                                    else "Installing", n, data["installed"][n]))
    save_db(data)
    out("OK: 42 MiB in 31 packages")
    return 0


# -- pacman --------------------------------------------------------------------------------

def pacman(args):
    data = db()
    if args and args[0] in ("-Qqo", "-Qo"):
        path = args[1] if len(args) > 1 else ""
        owner = data["files"].get(path)
        if not owner:
            err("error: No package owns %s" % path)
            return 1
        if args[0] == "-Qqo":
            out(owner)
        else:
            out("%s is owned by %s %s" % (path, owner, data["installed"].get(owner, "1.0-1")))
        return 0
    if args and args[0] == "-Q":
        rc = 0
        for n in args[1:]:
            if n in data["installed"]:
                out("%s %s" % (n, data["installed"][n]))
            else:
                err("error: package '%s' was not found" % n)
                rc = 1
        return rc
    if not args or args[0] != "-S":
        err("fake pacman: unsupported operation %r" % (args[:1],))
        return 1
    names = [a for a in args[1:] if not a.startswith("-")]
    if "--noconfirm" not in args:
        out(":: Proceed with installation? [Y/n] ")
        err("error: failed to commit transaction (no terminal to confirm)")
        return 1
    if failing("pacman"):
        err("error: failed to init transaction (unable to lock database)\n"
            "error: could not lock database: File exists\n"
            "  if you're sure a package manager is not already\n"
            "  running, you can remove /var/lib/pacman/db.lck")
        return 1
    missing = [n for n in names if not known(n)]
    if missing:
        for n in missing:
            err("error: target not found: %s" % n)
        return 1
    todo = [n for n in names if "--needed" not in args or n not in data["installed"]]
    out("resolving dependencies...\nlooking for conflicting packages...")
    for n in todo:
        put_files(n, data)
    save_db(data)
    out("Packages (%d) %s" % (len(todo), " ".join("%s-%s" % (n, data["installed"][n])
                                                    for n in todo)))
    return 0


# -- brew, conda, pyenv, uv ----------------------------------------------------------------

def brew(args):
    data = db()
    verb = args[0] if args else ""
    names = [a for a in args[1:] if not a.startswith("-")]
    if verb == "list" and "--versions" in args:
        rc = 0
        for n in names:
            if n in data["installed"]:
                out("%s %s" % (n, data["installed"][n]))
            else:
                rc = 1
        return rc
    if verb not in ("install", "reinstall"):
        err("fake brew: unsupported command %r" % verb)
        return 1
    if failing("brew"):
        err("Error: %s: Failed to download resource \"%s\"\n"
            "Download failed: the bottle could not be fetched (network unreachable)"
            % (names[0], names[0]))
        return 1
    for n in names:
        if not known(n):
            err("Error: No available formula with the name \"%s\"." % n)
            return 1
    for n in names:
        out("==> %s %s" % ("Reinstalling" if verb == "reinstall" else "Installing", n))
        put_files(n, data)
        out("==> Pouring %s--%s.bottle.tar.gz" % (n, data["installed"][n]))
    save_db(data)
    return 0


def conda(prog, args):
    data = db()
    verb = args[0] if args else ""
    prefix = args[args.index("-p") + 1] if "-p" in args else None
    if prefix is not None and not os.path.isdir(os.path.join(prefix, "conda-meta")):
        err("\nEnvironmentLocationNotFound: Not a conda environment: %s\n" % prefix)
        return 1
    if verb == "list":
        rows = [{"name": n, "version": v, "channel": "conda-forge"}
                for n, v in sorted(data["installed"].items())]
        out(json.dumps(rows, indent=2))
        return 0
    if verb != "install":
        err("fake %s: unsupported command %r" % (prog, verb))
        return 1
    if "-y" not in args and "--yes" not in args:
        out("Proceed ([y]/n)? ")
        err("CondaSystemExit: Exiting.")
        return 1
    if failing(prog):
        err("CondaHTTPError: HTTP 000 CONNECTION FAILED for url "
            "<conda-forge/linux-64/repodata.json>\nElapsed: -\n\n"
            "An HTTP error occurred when trying to retrieve this URL.\n"
            "HTTP errors are often intermittent, and a simple retry will get you on your way.")
        return 1
    specs = [a for i, a in enumerate(args[1:], 1)
             if not a.startswith("-") and args[i - 1] != "-p"]
    for spec in specs:
        name = spec.split("=")[0]
        if not known(name):
            err("PackagesNotFoundError: The following packages are not available from "
                "current channels:\n\n  - %s" % spec)
            return 1
    out("## Package Plan ##\n\n  environment location: %s\n" % prefix)
    for spec in specs:
        name = spec.split("=")[0]
        want = spec.partition("=")[2].lstrip("=")
        if want and catalog()[name].get("version") != want:
            err("PackagesNotFoundError: The following packages are not available from "
                "current channels:\n\n  - %s" % spec)
            return 1
        put_files(name, data)
    save_db(data)
    out("Executing transaction: done")
    return 0


def pyenv(args):
    data = db()
    root = _env("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    verb = args[0] if args else ""
    if verb == "root":
        out(root)
        return 0
    if verb == "versions":
        versions = os.path.join(root, "versions")
        for v in sorted(os.listdir(versions)) if os.path.isdir(versions) else []:
            out(v)
        return 0
    if verb != "install":
        err("fake pyenv: unsupported command %r" % verb)
        return 1
    names = [a for a in args[1:] if not a.startswith("-")]
    for v in names:
        if not known(v):
            err("python-build: definition not found: %s\n\n"
                "See all available versions with `pyenv install --list'." % v)
            return 2
    for v in names:
        if os.path.isdir(os.path.join(root, "versions", v)) and "--force" not in args:
            if "--skip-existing" in args:
                continue
            err("pyenv: %s/versions/%s already exists" % (root, v))
            return 1
        out("Downloading Python-%s.tar.xz...\nInstalling Python-%s..." % (v, v))
        if failing("pyenv"):
            err("\nBUILD FAILED (Debian 12 using python-build 2.4.22)\n\n"
                "Inspect or clean up the working tree at /tmp/python-build.20261127.4242\n"
                "Results logged to /tmp/python-build.20261127.4242.log\n\n"
                "Last 10 log lines:\n"
                "./Modules/_ssl.c:45:10: fatal error: openssl/rand.h: No such file or "
                "directory\nmake: *** [Makefile:2014: build_all] Error 2")
            return 1
        put_files(v, data)
        out("Installed Python-%s to %s/versions/%s" % (v, root, v))
    save_db(data)
    return 0


def uv(args):
    data = db()
    if args[:2] == ["python", "list"]:
        for name in sorted(data["installed"]):
            out("cpython-%s-linux-x86_64-gnu    <installed>" % name)
        return 0
    if args[:2] != ["python", "install"]:
        err("error: unrecognized subcommand '%s'" % " ".join(args[:2]))
        return 2
    names = [a for a in args[2:] if not a.startswith("-")]
    if failing("uv"):
        err("error: Failed to install cpython-%s-linux-x86_64-gnu\n"
            "  Caused by: Request failed after 3 retries\n"
            "  Caused by: client error (Connect)" % names[0])
        return 2
    for v in names:
        if not known(v):
            err("error: No download found for request: cpython-%s-linux-x86_64-gnu" % v)
            return 2
    for v in names:
        put_files(v, data)
    save_db(data)
    out("Installed Python %s in 1.42s\n + cpython-%s-linux-x86_64-gnu"
        % (", ".join(names), names[0]))
    return 0


# -- apt (only so a flow on a Debian host can never reach the real one) -------------------

def apt_get(args):
    data = db()
    words = [a for i, a in enumerate(args) if not a.startswith("-")
             and (i == 0 or args[i - 1] != "-o")]
    verb = words[0] if words else ""
    if failing("apt-get"):
        err("E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 "
            "(apt-get)\nE: Unable to acquire the dpkg frontend lock "
            "(/var/lib/dpkg/lock-frontend), is another process using it?")
        return 100
    if verb == "update":
        out("Reading package lists... Done")
        return 0
    names = words[1:]
    for n in names:
        if not known(n):
            err("E: Unable to locate package %s" % n)
            return 100
    for n in names:
        put_files(n, data)
    save_db(data)
    return 0


def apt_cache(args):
    """apt-cache policy NAMES: a candidate for every package the archive (catalog) has."""
    if not args or args[0] != "policy":
        err("fake apt-cache: unsupported %r" % (args,))
        return 2
    data = db()
    for n in args[1:]:
        if not known(n):
            continue  # the real one prints nothing for a name no list knows
        out("%s:\n  Installed: %s\n  Candidate: %s\n  Version table:"
            % (n, data["installed"].get(n, "(none)"), catalog()[n].get("version", "1.0-1")))
    return 0


def dpkg_query(args):
    data = db()
    if args and args[0] == "-S":
        owner = data["files"].get(args[1] if len(args) > 1 else "")
        if not owner:
            err("dpkg-query: no path found matching pattern %s" % (args[1:] or [""])[0])
            return 1
        out("%s: %s" % (owner, args[1]))
        return 0
    if args and args[0] == "-W":
        names = [a for a in args[1:] if not a.startswith("-")]
        rc = 0
        for n in names:
            if n in data["installed"]:
                out("%s\tii \t%s" % (n, data["installed"][n]))
            else:
                err("dpkg-query: no packages found matching %s" % n)
                rc = 1
        return rc
    err("fake dpkg-query: unsupported %r" % (args,))
    return 2


# -- compilers: log, then run the real one -------------------------------------------------

def compiler(prog, args):
    real = os.path.join(_env("FAKEPM_REAL_BIN", "/usr/bin"), prog)
    sys.stdout.flush()
    os.execv(real, [real] + list(args))


def sudo(args):
    """sudo -n CMD...: runs CMD (we are root already); without -n it would prompt."""
    if not args or args[0] != "-n":
        err("sudo: a terminal is required to read the password; either use the -S option "
            "to read from standard input or configure an askpass helper")
        return 1
    if failing("sudo"):
        err("sudo: a password is required")
        return 1
    if len(args) < 2:
        err("usage: sudo -n command")
        return 1
    os.execvp(args[1], args[1:])


def main(prog, args):
    log(prog, args)
    if prog in ("gcc", "g++", "cc", "c++"):
        compiler(prog, args)
    if prog == "sudo":
        return sudo(args)
    handlers = {
        "rpm": rpm, "zypper": zypper, "apk": apk, "pacman": pacman, "brew": brew,
        "pyenv": pyenv, "uv": uv, "apt-get": apt_get, "dpkg-query": dpkg_query,
        "apt-cache": apt_cache,
    }
    if prog in ("dnf", "yum"):
        return dnf_like(prog, args)
    if prog in ("conda", "mamba", "micromamba"):
        return conda(prog, args)
    if prog in handlers:
        return handlers[prog](args)
    err("fake package manager: unknown program %r" % prog)
    return 127
