"""Each notebook in its own sandbox: bubblewrap (``bwrap``, Debian package ``bubblewrap``).

A sandboxed command gets its own pid, network, ipc, uts and cgroup namespaces (``--unshare-all``;
stopping it stops every process it started, the network is a loopback of its own), a read-only
system (``/usr``, ``/etc``, the interpreter), a fresh scratch folder of the grader's bound read-write at
``WORK``, and a clear environment. Its Python environment is the **student release**: the release's
``course_utils/`` (``release.package_files()``, written once per batch into a folder of its own, outside
every scratch folder) first on ``PYTHONPATH``; third-party packages from the grader's interpreter, bound
read-only, with every ``course_utils*``/``course_staff*`` entry of each site-packages masked (package
folders, dist-info, ``__editable__`` finders and ``.pth`` files), so ``import course_staff`` fails and
nothing of the staff repository, the other submissions or the report is there to read. Files the grader
means the sandbox to have (its pytest plugin, the in-kernel side of the grader) are copied into
``GRADER``, also on ``PYTHONPATH``.

``available()`` says whether bwrap works here; ``wrap()`` builds the command line; ``run()`` runs it
with a time limit. ``COURSE_GRADER_BWRAP`` names another bwrap binary (tests use a missing one).
"""

from __future__ import annotations

import compileall
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = "/course"  # inside the sandbox
WORK = f"{ROOT}/work"  # the scratch folder, read-write, the working folder
RELEASE = f"{ROOT}/release"  # the student release's course_utils/, read-only
GRADER = f"{ROOT}/grader"  # modules the grader provides, read-only
OUTPUT = f"{ROOT}/out"  # the one folder the grader reads back, where given
INSTALL_HINT = "apt-get install bubblewrap (Debian/Ubuntu package 'bubblewrap')"
STAFF = ("course_utils", "course_staff")  # distribution/package names left out of every site-packages
SYSTEM = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt/conda")
HIDDEN_SYSTEM = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/sudoers")


def bwrap() -> str | None:
    """The bwrap binary to use (``COURSE_GRADER_BWRAP`` or ``bwrap`` on ``PATH``), or None."""
    named = os.environ.get("COURSE_GRADER_BWRAP")
    if named:
        return named if os.access(named, os.X_OK) else None
    return shutil.which("bwrap")


def as_user(user: tuple[int, int] | None) -> dict:
    """``subprocess.Popen`` keywords that start a process as ``user`` (uid, gid; no other groups), or {}."""
    return {"user": user[0], "group": user[1], "extra_groups": []} if user else {}


@functools.lru_cache(maxsize=None)
def _probe(binary: str | None, user: tuple[int, int] | None) -> str | None:
    if binary is None:
        return f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}"
    try:
        proc = subprocess.run([binary, "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/", "/",
                               "--proc", "/proc", "--dev", "/dev", "true"], capture_output=True, text=True, timeout=30,
                              **as_user(user))
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bubblewrap ({binary}) does not run ({exc}): {INSTALL_HINT}"
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1]
        return f"bubblewrap ({binary}) cannot create namespaces here ({why}); it needs {INSTALL_HINT} and namespaces allowed"
    return None


def available(user: tuple[int, int] | None = None) -> str | None:
    """None when sandboxing works on this machine (started as ``user``, if given); else one line saying why
    not and what to install."""
    return _probe(bwrap(), user)


def is_staff(name: str) -> bool:
    """Whether a site-packages entry belongs to the staff install (``course_utils``/``course_staff`` package,
    dist-info, egg-link, ``__editable__`` finder or .pth)."""
    flat = name.lower().replace("-", "_").replace(".", "_")
    return any(flat.startswith(p) or flat.startswith(f"__editable___{p}") or flat.startswith(f"__editable__{p}")
               for p in STAFF)


def site_dirs() -> list[str]:
    """The site-packages folders of this interpreter (``sys.path`` entries named site-/dist-packages)."""
    return [p for p in dict.fromkeys(os.path.realpath(p) for p in sys.path if p)
            if os.path.basename(p) in {"site-packages", "dist-packages"} and os.path.isdir(p)]


def python_binds(masks: Path) -> list[str]:
    """bwrap arguments that make this interpreter and its third-party packages visible, read-only, at their
    own paths, each staff entry of a site-packages masked: a file by /dev/null, a dist-info folder by one
    holding only a stub METADATA (so ``importlib.metadata`` still reads every distribution), a package
    folder by one holding only an ``__init__.py`` that raises ImportError. masks: the folder holding those
    two stubs (``Environment.masks``). (One bind per entry instead costs about 0.7 s per sandbox.)"""
    args: list[str] = []
    roots = dict.fromkeys(os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, os.path.dirname(sys.executable),
                                                        os.path.dirname(os.path.realpath(sys.executable))))
    kept: list[str] = []
    for root in sorted(roots):
        if not any(root == s or root.startswith(s + "/") for s in (*SYSTEM, *kept)):
            kept.append(root)
            args += ["--ro-bind", root, root]
    for prefix in (sys.prefix, os.path.dirname(sys.executable)):  # a venv reached through a symlink
        if os.path.realpath(prefix) != prefix and os.path.isdir(prefix):
            args += ["--symlink", os.path.realpath(prefix), prefix]
    for site in site_dirs():
        if not any(site == r or site.startswith(r + "/") for r in (*SYSTEM, *kept)):
            args += ["--ro-bind", site, site]
        for entry in sorted(e for e in os.listdir(site) if is_staff(e)):
            path = f"{site}/{entry}"
            if not os.path.isdir(path):
                args += ["--ro-bind", "/dev/null", path]
                continue
            stub, name = (("METADATA", "METADATA") if entry.endswith((".dist-info", ".egg-info"))
                          else ("blocked_init.py", "__init__.py"))
            args += ["--tmpfs", path, "--ro-bind", str(masks / stub), f"{path}/{name}", "--remount-ro", path]
    return args


@dataclass
class Environment:
    """The per-batch folders a sandbox reads: ``release`` (holds ``course_utils/``) and ``grader``.

    ``root`` is a fresh folder on the host (``tempfile.mkdtemp``), never inside a scratch folder.
    """

    root: Path
    release: Path = field(init=False)
    grader: Path = field(init=False)
    masks: Path = field(init=False)  # the stubs python_binds masks staff entries with
    _tiny_cache: Path | None = field(default=None, init=False, repr=False)
    _font_cache: Path | None = field(default=None, init=False, repr=False)
    _font_cache_made: bool = field(default=False, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.release, self.grader, self.masks = self.root / "release", self.root / "grader", self.root / "masks"

    def tiny_cache(self) -> Path:
        """A ``COURSE_UTILS_CACHE`` for tiny-mode lab kernels, made once per batch: the tiny lab's synthetic
        review set (``LabConfig.tiny()``'s sizes and seed), which every such notebook would otherwise write
        again, 6,200 small files, about 3 s of a 2-core machine. Kernels get it read-only (``run``); a
        notebook finds the set there and reads it, as it would read its own."""
        with self._lock:
            if self._tiny_cache is None:
                from course_utils.sentiment.config import LabConfig
                from course_utils.sentiment.data import synthetic_imdb

                folder, config = self.root / "tiny-cache", LabConfig.tiny()
                synthetic_imdb(folder, config.n_synthetic, config.seed, config.n_synthetic_test or None)
                for path in [folder, *folder.rglob("*")]:
                    path.chmod(0o755 if path.is_dir() else 0o644)
                self._tiny_cache = folder
            return self._tiny_cache

    def font_cache(self) -> Path | None:
        """matplotlib's font list (``fontlist-v*.json``), made once per batch, or None where it could not be.

        Every kernel gets a fresh ``MPLCONFIGDIR`` (``run.kernel_environment``), so every notebook that
        imports matplotlib scanned the system's fonts again: 0.15-0.3 s of a 2-core machine per notebook.
        It is made here by this interpreter's matplotlib with an empty ``HOME`` (as a kernel's scratch folder
        is), so it lists the fonts a sandboxed kernel sees (``/usr`` and matplotlib's own, bound at the same
        paths); ``seed_font_cache`` copies it into each run's ``MPLCONFIGDIR``. matplotlib checks the list's
        version, and rescans by itself when a font it picks is missing."""
        with self._lock:
            if not self._font_cache_made:
                self._font_cache_made = True
                folder = self.root / "mpl"
                (folder / "home").mkdir(parents=True)
                env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(folder / "home"), "LANG": "C.UTF-8",
                       "MPLCONFIGDIR": str(folder), "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
                try:
                    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env, timeout=300,
                                   capture_output=True, check=True)
                except (OSError, subprocess.SubprocessError):
                    return None
                lists = sorted(folder.glob("fontlist-*.json"))
                if lists:
                    lists[0].chmod(0o644)
                    self._font_cache = lists[0]
            return self._font_cache

    def seed_font_cache(self, config_dir: Path, user: tuple[int, int] | None = None) -> bool:
        """Copy ``font_cache()`` into ``config_dir`` (a run's ``MPLCONFIGDIR`` on the host, made here; owned by
        ``user`` where given, as matplotlib must be able to write there). False where there is no cache."""
        cache = self.font_cache()
        if cache is None:
            return False
        config_dir.mkdir(exist_ok=True)
        shutil.copyfile(cache, config_dir / cache.name)
        if user is not None:
            for path in (config_dir, config_dir / cache.name):
                os.chown(path, *user)
        return True

    def close(self) -> None:
        """Delete the folders."""
        shutil.rmtree(self.root, ignore_errors=True)


def build_environment(grader_files: Mapping[str, Path | bytes], parent: Path | None = None) -> Environment:
    """Write the student release's ``course_utils/`` and ``grader_files`` (file name in ``GRADER`` -> a
    source file or its bytes) into a new folder under ``parent`` (default: the system temporary folder).

    Returns the Environment; the caller closes it when the batch is done.
    """
    from course_staff.authoring.release import package_files

    env = Environment(Path(tempfile.mkdtemp(prefix="course-sandbox-env-", dir=parent)))
    files = {**{env.release / k: v for k, v in package_files().items()},
             **{env.grader / k: v for k, v in grader_files.items()},
             env.masks / "METADATA": b"Metadata-Version: 2.1\nName: course-utils-staff-masked\nVersion: 0\n",
             env.masks / "blocked_init.py": b'raise ImportError("instructor code is not in the grading sandbox")\n'}
    env.grader.mkdir()
    for target, data in files.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data if isinstance(data, bytes) else Path(data).read_bytes())
    for folder in (env.release, env.grader):  # compiled once per batch: every kernel and pytest imports them
        compileall.compile_dir(folder, quiet=1)  # read-only there, so each would compile them again
    for path in [env.root, *env.root.rglob("*")]:  # readable by an unprivileged kernel user too
        path.chmod(0o755 if path.is_dir() else 0o644)
    return env


def python_path(env: Environment | None, sandboxed: bool) -> str:
    """``PYTHONPATH`` of a grading process: the release, then the grader's modules (host paths unsandboxed)."""
    if env is None:
        return ""
    return f"{RELEASE}:{GRADER}" if sandboxed else f"{env.release}:{env.grader}"


def wrap(command: Sequence[str], scratch: Path, env: Mapping[str, str], environment: Environment | None = None,
         ro_binds: Iterable[tuple[Path | str, str]] = (), rw_binds: Iterable[tuple[Path | str, str]] = (),
         output: Path | None = None, uid: int | None = None, gid: int | None = None, python: bool = True) -> list[str]:
    """The bwrap command line running ``command`` in a sandbox.

    scratch: the host folder bound read-write at ``WORK`` (the working folder). env: the whole environment
    inside (paths in it are the sandbox's). environment: the release and grader folders (bound read-only at
    ``RELEASE`` and ``GRADER``). ro_binds / rw_binds: more (host path, sandbox path) pairs, e.g. a data cache
    or a named pipe the grader passes in. output: a host folder bound read-write at ``OUTPUT``. uid/gid: the
    ids inside (a user namespace; for a real unprivileged user run bwrap itself as that user, see ``run``).
    python: bind this interpreter and its packages (``python_binds``).
    """
    binary = bwrap() or "bwrap"
    args = [binary, "--unshare-all", "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    if uid is not None:
        args += ["--unshare-user", "--uid", str(uid), "--gid", str(gid if gid is not None else uid)]
    for path in SYSTEM:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in HIDDEN_SYSTEM:
        if os.path.exists(path):
            args += ["--ro-bind", "/dev/null", path]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for device in sorted(Path("/dev").glob("nvidia*")):  # a GPU, where the grader has one
        args += ["--dev-bind", str(device), str(device)]
    if python:
        if environment is None:
            raise ValueError("a sandbox with Python needs the batch's Environment (build_environment)")
        args += python_binds(environment.masks)
    if environment is not None:
        args += ["--ro-bind", str(environment.release), RELEASE, "--ro-bind", str(environment.grader), GRADER]
    for host, inside in ro_binds:
        args += ["--ro-bind", str(host), inside]
    for host, inside in rw_binds:
        args += ["--bind", str(host), inside]
    if output is not None:
        args += ["--bind", str(output), OUTPUT]
    args += ["--bind", str(scratch), WORK, "--chdir", WORK, "--clearenv"]
    for name, value in env.items():
        args += ["--setenv", name, value]
    return [*args, "--", *command]


@dataclass
class Result:
    """How a sandboxed command ended: its exit status (None if killed at the time limit) and its output."""

    returncode: int | None
    output: str
    timed_out: bool


def run(command: Sequence[str], scratch: Path, env: Mapping[str, str], timeout: float,
        user: tuple[int, int] | None = None, **options) -> Result:
    """Run ``command`` sandboxed (``wrap``'s arguments in ``options``), output captured; past ``timeout``
    seconds the sandbox and everything in it are killed. user: (uid, gid) of the host to run bwrap as
    (needs root; the scratch folder must be that user's)."""
    argv = wrap(command, scratch, env, **options)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                            **as_user(user))
    try:
        out, _ = proc.communicate(timeout=timeout)
        return Result(proc.returncode, out.decode("utf-8", "replace"), False)
    except subprocess.TimeoutExpired:
        stop(proc)
        out, _ = proc.communicate()
        return Result(None, out.decode("utf-8", "replace"), True)


def stop(proc: subprocess.Popen) -> None:
    """Kill a sandbox started with ``start_new_session``: its process group; bwrap's ``--die-with-parent``
    and the pid namespace take every process inside with it."""
    for kill in (os.killpg, os.kill):
        try:
            kill(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
