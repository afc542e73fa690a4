"""Whole-run atomic output directories.

A run's files (summary.json, run.nc, report.html ...) are written into a staging directory beside the target,
`.<name>.partial-<pid>-<token>`, which is then renamed into place:

    target -> .<name>.old-<pid>-<token>      (if a previous run is there)
    staging -> target
    remove the old directory

So the target always holds one complete run: the previous one or the new one (between the two renames, briefly,
none). Files from two runs are never mixed.

A killed run cannot clean up after itself, so each run starts a tiny watchdog process in its own session (it
survives a SIGKILL of the run and of the run's process group). The watchdog waits on a pipe from the run; when
the pipe closes without the word "done" (the run died), it removes the staging directory and puts the previous
output back if the run died between the two renames. Runs also clear leftovers of dead runs (a machine that lost
power) before they start.

`check_target` refuses, before any simulation, a target that is not a directory, cannot be written, or holds files
that are not a computerace run (so `--out .` never replaces a user's files).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from .errors import UserError

#: Files a run directory may hold (anything else means the directory is not ours to replace).
RUN_FILES = frozenset({"summary.json", "run.nc", "quantiles.csv", "manifest.json", "report.html", "inference.nc"})
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)-[0-9a-f]+$")

# The watchdog: argv = staging, old, target. Reads stdin until "done" or EOF (the run died), then restores.
_WATCHDOG = r"""
import os, shutil, sys
staging, old, target = sys.argv[1:4]
try:
    line = sys.stdin.readline()
except Exception:
    line = ""
if line.strip() != "done":
    shutil.rmtree(staging, ignore_errors=True)
    if os.path.isdir(old):
        if not os.path.exists(target):
            os.replace(old, target)
        else:
            shutil.rmtree(old, ignore_errors=True)
"""


def safe_name(name: str) -> str:
    """A scenario name as one directory name: letters, digits, '.', '_', '+', '-' only, at most 100 characters."""
    s = re.sub(r"[^A-Za-z0-9._+-]+", "-", name).strip(".-")[:100]
    return s or "scenario"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_leftovers(parent: Path) -> None:
    """Remove staging and old directories of runs that died (their pid is gone), restoring a lost output."""
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for p in entries:
        m = _LEFTOVER.match(p.name)
        if not m or _alive(int(m["pid"])):
            continue
        target = parent / m["name"]
        if m["kind"] == "old" and not target.exists():
            os.replace(p, target)
        else:
            shutil.rmtree(p, ignore_errors=True)


def check_target(target: Path, flag: str = "--out") -> None:
    """Refuse, before any work, a target that cannot receive a run (a UserError naming the path and the fix)."""
    if target.exists() and not target.is_dir():
        raise UserError(f"{flag} {target} exists and is not a directory; give a directory path")
    if target.is_dir():
        foreign = sorted(p.name for p in target.iterdir() if p.name not in RUN_FILES)
        if foreign:
            raise UserError(f"{flag} {target} holds files that are not a computerace run ({', '.join(foreign[:3])}"
                            f"{' ...' if len(foreign) > 3 else ''}); a run replaces its whole directory, so give a "
                            "new or empty directory, or a previous run's")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{flag} {target}: cannot create {parent} ({e.strerror or e}); give a writable directory") \
            from None
    try:  # the real test: make (and remove) a directory there, as the run will
        probe = tempfile.mkdtemp(dir=parent, prefix=".computerace-probe-")
        os.rmdir(probe)
    except OSError as e:
        raise UserError(f"{flag} {target}: cannot write in {parent} ({e.strerror or e}); give a writable directory") \
            from None


class RunDirectory:
    """`with RunDirectory(target) as staging:` write the run's files into `staging`; on success they replace
    `target` as a whole; on an exception (or a kill) `target` keeps its previous content."""

    def __init__(self, target: str | Path) -> None:
        self.target = Path(target)
        self.parent = self.target.parent
        token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.staging = self.parent / f".{self.target.name}.partial-{token}"
        self.old = self.parent / f".{self.target.name}.old-{token}"
        self._dog: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Path:
        check_target(self.target, "output directory")
        clear_leftovers(self.parent)
        self.staging.mkdir()
        try:
            self._dog = subprocess.Popen([sys.executable, "-S", "-c", _WATCHDOG, str(self.staging), str(self.old),
                                          str(self.target)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        except OSError:  # no watchdog (e.g. no process slots): leftovers are cleared by the next run
            self._dog = None
        return self.staging

    def _release(self) -> None:
        if self._dog is not None:
            try:
                assert self._dog.stdin is not None
                self._dog.stdin.write(b"done\n")
                self._dog.stdin.close()
            except OSError:
                pass
            self._dog.wait()
            self._dog = None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if kind is not None:
                shutil.rmtree(self.staging, ignore_errors=True)
                return
            if self.target.exists():
                os.replace(self.target, self.old)
            os.replace(self.staging, self.target)
            shutil.rmtree(self.old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(self.staging, ignore_errors=True)
            if self.old.exists() and not self.target.exists():
                os.replace(self.old, self.target)
            raise
        finally:
            self._release()
