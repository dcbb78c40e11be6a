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

No capability and no root inside, whoever runs the grader. Started by an ordinary user, bwrap makes a
user namespace in which the kernel is uid ``INSIDE_UID`` with no capability (``--disable-userns``).
Started by root, bwrap would keep every capability inside; instead each sandbox gets a user namespace
of its own (``Identity``) whose ``INSIDE_UID`` is an unprivileged host uid (``KERNEL_UID_BASE`` + the
run's slot, so no two running notebooks share a uid, a process count or a signal target), bwrap sets the
sandbox up as root there (it can read a Python that lives under ``/root``) and ``setpriv`` switches to
that uid and clears every capability set before the first line of the grader's command runs. In both
cases a seccomp filter (``seccomp_filter``: libseccomp through ``pyseccomp``) refuses the calls a
notebook never needs (mount, namespaces, ptrace, keyrings, bpf, ...), every bind is read-only, and the
only writable places are size-limited tmpfs mounts that vanish with the sandbox (``Limits``).

``available()`` says whether bwrap works here; ``wrap()`` builds the command line; ``run()`` runs it
with a time limit. ``COURSE_GRADER_BWRAP`` names another bwrap binary (tests use a missing one).
"""

from __future__ import annotations

import compileall
import errno
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
INSIDE_UID = 1000  # the kernel's uid and gid inside every sandbox
KERNEL_UID_BASE = 2 ** 30  # as root: host uid of the sandbox in run slot k is KERNEL_UID_BASE + k (no such user)
UTIL_LINUX = ("unshare", "setpriv", "prlimit")  # util-linux, needed when the grader runs as root
MiB, GiB = 2 ** 20, 2 ** 30


@dataclass(frozen=True)
class Limits:
    """What one sandboxed notebook may use (``course-utils grade --limit-*``). Each is the notebook's own: the
    processes of one sandbox run as a uid no other sandbox has (as root) or in a user namespace of their own.

    memory: address space of each process (RLIMIT_AS, bytes). processes: processes and threads of the
    sandbox's user (RLIMIT_NPROC). disk: the scratch folder (``TMPDIR`` too), a tmpfs of this size; ``/tmp``
    and ``/dev/shm`` are tmpfs mounts of their own, of ``tmp`` and ``shm`` bytes.
    file_size: largest file a process may write (RLIMIT_FSIZE). output: the most the grader reads back
    from one run (its cell log, answers and pytest's output together, bytes). open_files: RLIMIT_NOFILE.
    """

    memory: int = 8 * GiB
    processes: int = 256
    disk: int = 1 * GiB
    file_size: int = 512 * MiB
    output: int = 16 * MiB
    open_files: int = 4096
    tmp: int = 256 * MiB  # /tmp, for what writes there by name (TMPDIR is the scratch folder)
    shm: int = 64 * MiB  # /dev/shm (multiprocessing's locks)

    def describe(self, name: str) -> str:
        """The limit's name and value as a report's detail says it, e.g. ``memory (8 GiB per process)``."""
        value = {"memory": f"{_size(self.memory)} per process", "processes": f"{self.processes} processes and threads",
                 "disk": f"{_size(self.disk)} of scratch space, {_size(self.tmp)} in /tmp", "file_size": f"{_size(self.file_size)} per file",
                 "output": f"{_size(self.output)} of results", "open_files": f"{self.open_files} open files"}[name]
        return f"{name.replace('_', ' ')} limit ({value})"


def _size(n: int) -> str:
    return f"{n / GiB:g} GiB" if n >= GiB and n % (GiB // 4) == 0 else f"{n / MiB:g} MiB"


DEFAULT_LIMITS = Limits()


def bwrap() -> str | None:
    """The bwrap binary to use (``COURSE_GRADER_BWRAP`` or ``bwrap`` on ``PATH``), or None."""
    named = os.environ.get("COURSE_GRADER_BWRAP")
    if named:
        return named if os.access(named, os.X_OK) else None
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=None)
def _probe(binary: str | None, user: tuple[int, int] | None) -> str | None:
    if binary is None:
        return f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}"
    missing = [tool for tool in (UTIL_LINUX if os.geteuid() == 0 else ("prlimit",)) if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found: apt-get install util-linux (the sandbox's limits and users)"
    try:
        seccomp_filter()
    except (ImportError, OSError, RuntimeError) as exc:
        return (f"the seccomp filter cannot be built ({type(exc).__name__}: {exc}): pip install pyseccomp "
                "and apt-get install libseccomp2")
    try:  # a real sandbox, as the grader makes them: no capability and not uid 0 inside
        result = run(["/bin/sh", "-c", "grep -q '^CapEff:[[:space:]]*0*$' /proc/self/status && [ \"$(id -u)\" != 0 ]"],
                     None, {"PATH": "/usr/bin:/bin"}, 30, python=False, slot=0, identity=Identity.for_grader(user))
    except RuntimeError as exc:  # the user namespace the sandbox needs was refused
        return (f"bubblewrap ({binary}) cannot make an unprivileged sandbox here ({exc}); user namespaces must be "
                "allowed (in a container: docs/grading-sandbox.md)")
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bubblewrap ({binary}) does not run ({exc}): {INSTALL_HINT}"
    if result.returncode != 0:
        why = (result.output.strip().splitlines() or ["exit %s" % result.returncode])[-1]
        return (f"bubblewrap ({binary}) cannot make an unprivileged sandbox here ({why}); it needs {INSTALL_HINT} "
                "and user namespaces allowed (in a container: docs/grading-sandbox.md)")
    return None


def available(user: tuple[int, int] | None = None) -> str | None:
    """None when sandboxing works on this machine (kernels run as ``user``, if given); else one line saying
    why not and what to install. The probe is a real sandbox: no capability and not uid 0 inside."""
    return _probe(bwrap(), user)


#: System calls no notebook needs, refused with EPERM: mounts, namespaces, tracing other processes, the
#: kernel's keyrings, bpf, modules, swap, reboot, raw handles, userfaultfd, io_uring (ENOSYS, as Docker).
DENIED_SYSCALLS = ("mount", "umount", "umount2", "pivot_root", "chroot", "unshare", "setns", "ptrace",
                   "process_vm_readv", "process_vm_writev", "kcmp", "keyctl", "add_key", "request_key", "bpf",
                   "perf_event_open", "userfaultfd", "open_by_handle_at", "name_to_handle_at", "init_module",
                   "finit_module", "delete_module", "kexec_load", "kexec_file_load", "swapon", "swapoff", "reboot",
                   "acct", "quotactl", "syslog", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
                   "open_tree", "mount_setattr", "lookup_dcookie", "vhangup", "settimeofday", "clock_settime",
                   "adjtimex", "clock_adjtime", "iopl", "ioperm", "uselib", "personality")
NO_SYSCALLS = ("io_uring_setup", "io_uring_enter", "io_uring_register", "clone3")  # ENOSYS: libc falls back
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080)


#: What bwrap itself calls to build a sandbox, inside a container: refused by Docker's default profile.
SANDBOX_SETUP_SYSCALLS = ("mount", "umount", "umount2", "pivot_root", "unshare", "setns")
CONTAINER_PROFILE = Path(__file__).with_name("container-seccomp.json")


def container_seccomp_profile() -> dict:
    """The seccomp profile (Docker's and Podman's JSON) for a container that grades with a sandbox per
    notebook (``docs/grading-sandbox.md``): every call allowed except ``DENIED_SYSCALLS`` and
    ``NO_SYSCALLS``, less the few bwrap needs to build each sandbox (``SANDBOX_SETUP_SYSCALLS``, and
    ``clone`` with namespace flags). Inside each sandbox ``seccomp_filter`` refuses those too.
    ``course_staff/grading/container-seccomp.json`` is this, written out (a test keeps the two equal)."""
    denied = [name for name in DENIED_SYSCALLS if name not in SANDBOX_SETUP_SYSCALLS]
    return {"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
            "syscalls": [{"names": denied, "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM},
                         {"names": [n for n in NO_SYSCALLS if n != "clone3"], "action": "SCMP_ACT_ERRNO",
                          "errnoRet": errno.ENOSYS}]}


@functools.lru_cache(maxsize=1)
def seccomp_filter() -> bytes:
    """The seccomp program (BPF, as bwrap's ``--seccomp`` reads it) that refuses ``DENIED_SYSCALLS`` and
    ``clone`` with any namespace flag (``clone3`` is ENOSYS, so libc uses ``clone``, whose flags a filter
    can see). Built once per process with libseccomp's Python binding (``pyseccomp``)."""
    import pyseccomp as seccomp

    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (ValueError, RuntimeError, OSError):  # a call this architecture does not have
            continue
    for name in NO_SYSCALLS:
        try:
            rules.add_rule(seccomp.ERRNO(errno.ENOSYS), name)
        except (ValueError, RuntimeError, OSError):
            continue
    for flag in NAMESPACE_FLAGS:
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    with tempfile.TemporaryFile() as handle:
        rules.export_bpf(handle)
        handle.seek(0)
        return handle.read()


@dataclass(frozen=True)
class Identity:
    """Who the processes of a sandbox are on the host.

    ``root``: the grader runs as root; each sandbox gets a user namespace of its own made here, in which
    ``INSIDE_UID`` is host uid ``uid`` (``KERNEL_UID_BASE`` + the run's slot, or ``--kernel-user``'s) and
    0 is root (so that bwrap, as root there, can bind a Python that only root can reach), and setpriv drops
    to ``INSIDE_UID`` with no capabilities before the command. Not ``root``: bwrap's own unprivileged user
    namespace, ``INSIDE_UID`` being the grader's uid, capabilities none and user namespaces disabled.
    """

    root: bool
    uid: int | None = None  # fixed host uid (--kernel-user); None: KERNEL_UID_BASE + slot
    gid: int | None = None

    @classmethod
    def for_grader(cls, user: tuple[int, int] | None = None) -> "Identity":
        """The identity for this process: root's (with ``user`` as the fixed kernel user, if given) or not."""
        if os.geteuid() != 0:
            return cls(False)
        return cls(True, *(user or (None, None)))

    def host_ids(self, slot: int) -> tuple[int, int]:
        """The host (uid, gid) of the sandbox in run slot ``slot`` (root only)."""
        if self.uid is not None:
            return self.uid, self.gid if self.gid is not None else self.uid
        return KERNEL_UID_BASE + slot, KERNEL_UID_BASE + slot


def _user_namespace(uid: int, gid: int) -> int:
    """A new user namespace mapping 0 to 0 and ``INSIDE_UID`` to host ``uid``/``gid``; returns an fd of it.

    A short-lived ``unshare --user`` process makes it; as root this process writes its maps; the fd keeps
    the namespace alive after that process has gone."""
    holder = subprocess.Popen(["unshare", "--user", "--", "/bin/sh", "-c", "echo; read line"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if holder.stdout.read(1) != b"\n":  # printed once inside the new namespace
            raise RuntimeError("unshare --user failed: " + holder.stderr.read(300).decode("utf-8", "replace").strip())
        for name, text in (("uid_map", f"0 0 1\n{INSIDE_UID} {uid} 1\n"), ("gid_map", f"0 0 1\n{INSIDE_UID} {gid} 1\n")):
            with open(f"/proc/{holder.pid}/{name}", "w", encoding="ascii") as handle:
                handle.write(text)
        return os.open(f"/proc/{holder.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        holder.stdin.close()
        holder.wait()
        holder.stdout.close()
        holder.stderr.close()


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
                from course_utils.lab.config import LabConfig
                from course_utils.lab.data import synthetic_imdb

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


def wrap(command: Sequence[str], scratch: Path | None, env: Mapping[str, str], environment: Environment | None = None,
         ro_binds: Iterable[tuple[Path | str, str]] = (), rw_binds: Iterable[tuple[Path | str, str]] = (),
         output: Path | None = None, python: bool = True, limits: Limits = DEFAULT_LIMITS,
         identity: Identity | None = None, files: Iterable[tuple[int, str]] = (), dirs: Iterable[str] = (),
         userns_fd: int | None = None, seccomp_fd: int | None = None) -> list[str]:
    """The bwrap command line running ``command`` in a sandbox.

    scratch: None (the grader's runs): ``WORK`` is a fresh tmpfs of ``limits.disk`` bytes, the working
    folder (``/tmp`` is a tmpfs of ``limits.tmp``); a host folder: bound read-write at ``WORK`` instead (tests). env: the
    whole environment inside (paths in it are the sandbox's). environment: the release and grader folders
    (bound read-only at ``RELEASE`` and ``GRADER``). ro_binds / rw_binds: more (host path, sandbox path)
    pairs. output: a host folder bound read-write at ``OUTPUT``. python: bind this interpreter and its
    packages (``python_binds``). limits: rlimits set (by ``prlimit``) before the command. identity: who runs
    it (``Identity``; root's needs ``userns_fd`` from ``_user_namespace``). files: (fd, sandbox path) pairs,
    each copied from the open file into a new file there (``--file``, mode 0644); dirs: folders made
    writable (0777) in the tmpfs before them. seccomp_fd: the ``seccomp_filter()`` program, open.
    ``start`` fills in the fds.
    """
    binary = bwrap() or "bwrap"
    identity = identity or Identity.for_grader()
    args = [binary, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "sandbox", "--cap-drop", "ALL"]
    if identity.root:
        if userns_fd is None:
            raise ValueError("a sandbox started by root needs its user namespace (start() makes it)")
        # root inside (only until setpriv below) so that bwrap can bind what only root can reach
        args[1:1] = ["--userns", str(userns_fd)]
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    else:
        args[1:1] = ["--unshare-user", "--uid", str(INSIDE_UID), "--gid", str(INSIDE_UID), "--disable-userns"]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    mounts: list[str] = []
    for path in SYSTEM:
        if os.path.islink(path):
            mounts += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            mounts += ["--ro-bind", path, path]
    for path in HIDDEN_SYSTEM:
        if os.path.exists(path):
            mounts += ["--ro-bind", "/dev/null", path]
    mounts += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(limits.shm), "--tmpfs", "/dev/shm"]
    for device in sorted(Path("/dev").glob("nvidia*")):  # a GPU, where the grader has one
        mounts += ["--dev-bind", str(device), str(device)]
    # /tmp first, so that a later bind under it (a Python installed below /tmp) is not hidden by it
    mounts += ["--perms", "1777", "--size", str(limits.tmp), "--tmpfs", "/tmp"]
    if scratch is None:
        mounts += ["--perms", "0777", "--size", str(limits.disk), "--tmpfs", WORK]
    else:
        mounts += ["--bind", str(scratch), WORK]
    if python:
        if environment is None:
            raise ValueError("a sandbox with Python needs the batch's Environment (build_environment)")
        mounts += python_binds(environment.masks)
    if environment is not None:
        mounts += ["--ro-bind", str(environment.release), RELEASE, "--ro-bind", str(environment.grader), GRADER]
    for host, inside in ro_binds:
        mounts += ["--ro-bind", str(host), inside]
    for host, inside in rw_binds:
        mounts += ["--bind", str(host), inside]
    if output is not None:
        mounts += ["--bind", str(output), OUTPUT]
    for folder in dirs:
        mounts += ["--perms", "0777", "--dir", folder]
    for fd, inside in files:
        mounts += ["--perms", "0644", "--file", str(fd), inside]
    # the sandbox's own root (a tmpfs with no size limit, holding the folders made for mount points) read-only
    # too: as an ordinary user's sandbox, uid 1000 owns those folders and could fill memory through them
    args += _with_parents(mounts) + ["--remount-ro", "/", "--chdir", WORK, "--clearenv"]
    for name, value in env.items():
        args += ["--setenv", name, value]
    prefix = [shutil.which("prlimit") or "prlimit", f"--as={limits.memory}", f"--nproc={limits.processes}",
              f"--fsize={limits.file_size}", f"--nofile={limits.open_files}", "--core=0", "--"]
    if identity.root:
        prefix += [shutil.which("setpriv") or "setpriv", f"--reuid={INSIDE_UID}", f"--regid={INSIDE_UID}",
                   "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--"]
    return [*args, "--", *prefix, *command]


_MOUNT_ARITY = {"--ro-bind": 2, "--bind": 2, "--dev-bind": 2, "--symlink": 2, "--file": 2, "--tmpfs": 1, "--dir": 1,
                "--proc": 1, "--dev": 1, "--perms": 1, "--size": 1, "--remount-ro": 1}
_READ_ONLY_TARGETS = ("--ro-bind", "--bind", "--dev-bind", "--file")  # no folder can be made below these


def _with_parents(mounts: Sequence[str]) -> list[str]:
    """``mounts`` with ``--perms 0755 --dir F`` before each mount for every folder F above its target that
    nothing made yet: bwrap would make them with the mode of the host's folder (``/root``: 0700, which the
    kernel's uid could not pass). Folders below a bind are left alone (a bind cannot be written)."""
    ops, i, modifiers = [], 0, []  # each op with the --perms/--size that modify it, as bwrap reads them
    while i < len(mounts):
        arity = _MOUNT_ARITY.get(mounts[i], 0)
        if mounts[i] in ("--perms", "--size"):
            modifiers += mounts[i:i + arity + 1]
        else:
            ops.append((modifiers, mounts[i:i + arity + 1]))
            modifiers = []
        i += arity + 1
    binds = [op[-1] for _, op in ops if op[0] in _READ_ONLY_TARGETS] + list(SYSTEM)
    made: set[str] = {op[-1] for _, op in ops if op[0] in ("--tmpfs", "--dir", "--proc", "--dev", "--symlink")}
    result: list[str] = []
    for modifiers, op in ops:
        if op[0] != "--remount-ro":
            parts = Path(op[-1]).parts
            for depth in range(2, len(parts)):
                folder = str(Path(*parts[:depth]))
                if folder in made or any(folder == b or folder.startswith(b.rstrip("/") + "/") for b in binds):
                    continue
                made.add(folder)
                result += ["--perms", "0755", "--dir", folder]
        result += modifiers + op
    return result


@dataclass
class Result:
    """How a sandboxed command ended: its exit status (None if killed at the time limit) and its output."""

    returncode: int | None
    output: str
    timed_out: bool


def start(command: Sequence[str], env: Mapping[str, str], *, slot: int = 0, identity: Identity | None = None,
          files: Iterable[tuple[Path, str]] = (), pass_fds: Sequence[int] = (), stdout: object = subprocess.PIPE,
          scratch: Path | None = None, **options) -> subprocess.Popen:
    """Start ``command`` in a new sandbox (``wrap``'s options in ``options``) and return its process (its own
    session, stdin /dev/null, stderr into ``stdout``). slot: the run slot (as root, the host uid).
    files: (host file, sandbox path) pairs copied into the sandbox's tmpfs. pass_fds: more fds the command
    inherits (pipes the grader reads)."""
    identity = identity or Identity.for_grader()
    opened: list[int] = []
    try:
        seccomp = os.memfd_create("course-seccomp", 0)
        opened.append(seccomp)
        os.write(seccomp, seccomp_filter())
        os.lseek(seccomp, 0, os.SEEK_SET)
        copies = []
        for host, inside in files:
            fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            opened.append(fd)
            copies.append((fd, inside))
        userns = None
        if identity.root:
            userns = _user_namespace(*identity.host_ids(slot))
            opened.append(userns)
        argv = wrap(command, scratch, env, identity=identity, files=copies, userns_fd=userns, seccomp_fd=seccomp,
                    **options)
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.STDOUT,
                                start_new_session=True, pass_fds=(*opened, *pass_fds))
    finally:
        for fd in opened:
            os.close(fd)


def run(command: Sequence[str], scratch: Path | None, env: Mapping[str, str], timeout: float,
        user: tuple[int, int] | None = None, identity: Identity | None = None, **options) -> Result:
    """Run ``command`` sandboxed (``start``'s and ``wrap``'s arguments in ``options``), output captured
    (at most ``Limits.output`` bytes kept); past ``timeout`` seconds the sandbox and everything in it are
    killed. user: as root, the host (uid, gid) the command runs as instead of a slot's."""
    limits = options.get("limits", DEFAULT_LIMITS)
    proc = start(command, env, scratch=scratch, identity=identity or Identity.for_grader(user), **options)
    reader = CappedReader(proc.stdout, limits.output)
    try:
        proc.wait(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        stop(proc)
        proc.wait()
        timed_out = True
    reader.join()
    return Result(None if timed_out else proc.returncode, reader.text(), timed_out)


class CappedReader:
    """Reads a pipe (a file object or an fd, closed at its end) in a thread until every writer has gone,
    keeping at most ``cap`` bytes: the first ``cap`` (``tail`` false) or the last (``tail`` true); the
    rest is read and dropped, so the writer never blocks. ``overflowed``: something was dropped.
    ``lines``: newline-ended lines kept so far (the cell log's records)."""

    def __init__(self, pipe, cap: int, tail: bool = False) -> None:
        self.cap, self.tail, self.data, self.overflowed, self.lines = cap, tail, bytearray(), False, 0
        self._fd = pipe if isinstance(pipe, int) else pipe.fileno()
        self._pipe = pipe
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while chunk := os.read(self._fd, 65536):
                if self.tail:
                    self.data += chunk
                    if len(self.data) > self.cap:
                        del self.data[:len(self.data) - self.cap]
                        self.overflowed = True
                    continue
                room = self.cap - len(self.data)
                kept = chunk[:max(room, 0)]
                self.data += kept
                self.lines += kept.count(b"\n")
                if len(kept) < len(chunk):
                    self.overflowed = True
        except OSError:
            pass
        finally:
            try:
                os.close(self._fd) if isinstance(self._pipe, int) else self._pipe.close()
            except OSError:
                pass

    def join(self, timeout: float | None = 10.0) -> None:
        """Wait for the pipe's end (every process holding its write end has exited)."""
        self._thread.join(timeout)

    def text(self) -> str:
        """What was kept, as text."""
        return bytes(self.data).decode("utf-8", "replace")


def stop(proc: subprocess.Popen) -> None:
    """Kill a sandbox started with ``start_new_session``: its process group; bwrap's ``--die-with-parent``
    and the pid namespace take every process inside with it."""
    for kill in (os.killpg, os.kill):
        try:
            kill(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
