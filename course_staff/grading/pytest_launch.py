"""Start pytest for one graded notebook (``python -m course_grader_pytest ARGS``), minus a slow import and a sleep.

Standalone (pytest and the standard library only): the grader copies this file into the sandbox's
grader folder as ``course_grader_pytest.py``, beside its plugin.

nbval imports nbformat, which imports jsonschema, whose format checkers import ``rfc3987_syntax``
when it is installed (jupyterlab's ``jsonschema[format-nongpl]`` installs it): that module builds a
Lark grammar at import, about 1 s on a 2-core machine, a second of every graded notebook (see
python-jsonschema/jsonschema#1428). Nothing the grader runs validates an ``iri`` format, so the
module is marked missing here (jsonschema then leaves that one format unchecked) and pytest runs as
``python -m pytest`` would. The kernel is another process and is not touched. And the kernel's stop,
at the end, waits for its exit in 5 ms polls instead of 0.1 s (``poll_kernel_exit_faster``).
"""

from __future__ import annotations

import sys

sys.modules.setdefault("rfc3987_syntax", None)  # an ImportError for jsonschema, which it expects

import pytest  # noqa: E402 - after the line above, on purpose

KERNEL_EXIT_POLL_S = 0.005  # jupyter_client polls a killed kernel's exit every 0.1 s


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
    original = getattr(KernelManager, "_async_wait", None)
    if original is None:
        return False
    if getattr(original, "course_fast_poll", False):
        return True

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        await original(self, pollinterval=min(pollinterval, KERNEL_EXIT_POLL_S))

    _async_wait.course_fast_poll = True  # type: ignore[attr-defined]
    KernelManager._async_wait = _async_wait  # type: ignore[method-assign]
    return True


if __name__ == "__main__":
    poll_kernel_exit_faster()
    sys.exit(pytest.console_main())
