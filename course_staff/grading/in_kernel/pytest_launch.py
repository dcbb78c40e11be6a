"""Start pytest for one graded notebook (``python -m course_grader_pytest ARGS``), minus a slow import and two sleeps.

Standalone (pytest, the standard library and ``course_grader_kernel``): the grader copies this file into
the sandbox's grader folder as ``course_grader_pytest.py``, beside its plugin and ``course_grader_kernel.py``.

nbval imports nbformat, which imports jsonschema, whose format checkers import ``rfc3987_syntax``
when it is installed (jupyterlab's ``jsonschema[format-nongpl]`` installs it): that module builds a
Lark grammar at import, about 1 s on a 2-core machine, a second of every graded notebook (see
python-jsonschema/jsonschema#1428). Nothing the grader runs validates an ``iri`` format, so the
module is marked missing here (jsonschema then leaves that one format unchecked) and pytest runs as
``python -m pytest`` would. So are two more of those optional format checkers, ``isoduration`` (it
imports ``arrow``) and ``rfc3986_validator``: 34 ms of every graded notebook's start, for formats
that nothing here checks (nbformat validates without a format checker).

The kernel is another process. nbval starts it with ``course_grader_kernel`` instead of
``ipykernel_launcher`` (``start_kernels_with_the_course_launcher``): the same launch, with fewer full
garbage collections, as this process has too (``course_grader_kernel.fewer_full_collections``). The
kernel's stop, at the end, waits for its exit in 5 ms polls instead of 0.1 s (``poll_kernel_exit_faster``);
its start no longer waits 0.2 s for IOPub to go quiet (``skip_the_idle_flush``); and the process ends
without the interpreter's finalisation (``exit_now``).
"""

from __future__ import annotations

import ctypes
import os
import sys

from course_grader_kernel import fewer_full_collections  # the grader folder's, beside this file


def not_dumpable() -> bool:
    """Make this process non-dumpable (``PR_SET_DUMPABLE`` 0): its ``/proc/PID/fd`` and memory are then
    closed to the kernel, which runs as the same uid, so the cell log's descriptor stays this process's.
    (The kernel is started by exec, which makes it dumpable again, as any program.)"""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) == 0  # PR_SET_DUMPABLE
    except (OSError, AttributeError):
        return False


not_dumpable()

fewer_full_collections()  # before pytest, nbval and jupyter_client are imported
KERNEL_LAUNCHER = "course_grader_kernel"  # replaces ipykernel_launcher in the kernel's command line

SKIPPED_IMPORTS = ("rfc3987_syntax", "isoduration", "rfc3986_validator")  # jsonschema's optional format checkers
for _name in SKIPPED_IMPORTS:
    sys.modules.setdefault(_name, None)  # an ImportError for jsonschema, which it expects

import pytest  # noqa: E402 - after the line above, on purpose

KERNEL_EXIT_POLL_S = 0.005  # jupyter_client polls a killed kernel's exit every 0.1 s
FLUSH_WAIT_S = 0.005  # and, starting one, waits for 0.2 s of quiet on IOPub


def _replace(owner, name: str, marker: str, wrap) -> bool:
    """Replace ``owner.name`` by ``wrap(original)``, marked with the attribute ``marker`` so that a second call
    changes nothing. Returns False (and changes nothing) where ``owner`` has no such attribute."""
    original = getattr(owner, name, None)
    if original is None:
        return False
    if getattr(original, marker, False):
        return True
    replacement = wrap(original)
    setattr(replacement, marker, True)
    setattr(owner, name, replacement)
    return True


def poll_kernel_exit_faster() -> bool:
    """Make jupyter_client check every ``KERNEL_EXIT_POLL_S`` whether a kernel it stopped has exited.

    nbval stops the kernel with ``shutdown_kernel(now=True)``: a SIGKILL, then ``_async_wait`` polls
    every 0.1 s until the process is gone, about 0.1 s of every graded notebook spent asleep. Returns
    False (and changes nothing) where this jupyter_client has no such method.
    """
    try:
        from jupyter_client.manager import KernelManager
    except ImportError:
        return False

    def wrap(original):
        async def _async_wait(self, pollinterval: float = 0.1) -> None:
            await original(self, pollinterval=min(pollinterval, KERNEL_EXIT_POLL_S))
        return _async_wait

    return _replace(KernelManager, "_async_wait", "course_fast_poll", wrap)


def skip_the_idle_flush() -> bool:
    """Make a blocking client's ``wait_for_ready`` drain IOPub without waiting 0.2 s for it to go quiet.

    Once the kernel answers ``kernel_info`` on both channels, jupyter_client "flushes" IOPub by reading
    until no message comes for 0.2 s: 0.2 s of every kernel start spent asleep. nbval reads IOPub by
    each request's message id and skips the rest, so the flush needs only what is already there:
    after the handshake, each read of that flush waits at most ``FLUSH_WAIT_S``. The handshake itself,
    its retries and its time limit are jupyter_client's. Returns False (and changes nothing) where this
    jupyter_client has no such client or method.
    """
    try:
        from jupyter_client.blocking.client import BlockingKernelClient
    except ImportError:
        return False
    original = getattr(BlockingKernelClient, "wait_for_ready", None)
    if original is None or not hasattr(BlockingKernelClient, "_handle_kernel_info_reply"):
        return False
    if getattr(original, "course_no_idle_flush", False):
        return True

    def wait_for_ready(self, timeout: float | None = None) -> None:
        channel, ready = self.iopub_channel, []
        read, answered = channel.get_msg, self._handle_kernel_info_reply

        def handle(msg):
            ready.append(True)  # the handshake is done: what follows is the flush
            return answered(msg)

        def get_msg(timeout: float | None = None):
            return read(timeout=min(timeout, FLUSH_WAIT_S) if ready and timeout is not None else timeout)

        self._handle_kernel_info_reply, channel.get_msg = handle, get_msg
        try:
            return original(self, timeout=timeout)
        finally:
            del self._handle_kernel_info_reply, channel.get_msg

    wait_for_ready.course_no_idle_flush = True  # type: ignore[attr-defined]
    BlockingKernelClient.wait_for_ready = wait_for_ready  # type: ignore[method-assign]
    return True


def start_kernels_with_the_course_launcher() -> bool:
    """Make nbval's kernel (``--nbval-current-env``: this interpreter, ``-m ipykernel_launcher``) start with
    ``-m course_grader_kernel`` instead, which is ``ipykernel_launcher`` with fewer full garbage collections.

    nbval builds that kernel's command line with ``ipykernel.kernelspec.get_kernel_dict`` each time it
    starts one; the command line keeps every other argument. Returns False (and changes nothing) where
    ipykernel has no such function, or where the kernel could not import the launcher: its folder is not
    on the ``PYTHONPATH`` that the kernel inherits (the grader puts it there).
    """
    import course_grader_kernel

    folder = os.path.dirname(os.path.abspath(course_grader_kernel.__file__))
    if folder not in [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]:
        return False
    try:
        import ipykernel.kernelspec as kernelspec
    except ImportError:
        return False

    def wrap(original):
        def get_kernel_dict(*args, **kwargs):
            spec = original(*args, **kwargs)
            argv = [KERNEL_LAUNCHER if arg == "ipykernel_launcher" else arg for arg in spec["argv"]]
            return {**spec, "argv": argv}
        return get_kernel_dict

    return _replace(kernelspec, "get_kernel_dict", "course_launcher", wrap)


def exit_now(code: int) -> None:
    """End this process with pytest's exit status, without the interpreter's finalisation.

    By then the kernel is killed and every file the run writes is closed (the cell log is appended
    and closed per record, the cache provider is off); what is left is tearing down the modules of
    pytest, nbval, jupyter_client and zmq, 0.07-0.1 s of every graded notebook. Output is flushed first.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    poll_kernel_exit_faster()
    skip_the_idle_flush()
    start_kernels_with_the_course_launcher()
    exit_now(int(pytest.main()))
