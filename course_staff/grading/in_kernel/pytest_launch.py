"""Start pytest for one graded notebook (``python -m course_grader_pytest ARGS``), minus a slow import.

Standalone (pytest, the standard library and ``course_grader_kernel``): the grader copies this file into
the sandbox's grader folder as ``course_grader_pytest.py``, beside its plugin and ``course_grader_kernel.py``.

nbval imports nbformat, which imports jsonschema, whose format checkers import ``rfc3987_syntax``
when it is installed (jupyterlab's ``jsonschema[format-nongpl]`` installs it): that module builds a
Lark grammar at import (python-jsonschema/jsonschema#1428), about 1.2 s of CPU in every graded
notebook's pytest. Nothing the grader runs validates an ``iri`` format (nbformat validates without a
format checker), so the module is marked missing here: jsonschema then leaves that one format
unchecked, and pytest runs as ``python -m pytest`` would. ``tests/test_grading_parts.py`` fails when
jsonschema stops importing it as an optional import.

The kernel is another process. nbval starts it with ``course_grader_kernel`` instead of
``ipykernel_launcher`` (``start_kernels_with_the_course_launcher``, which replaces
``ipykernel.kernelspec.get_kernel_dict``): the same launch, with fewer full garbage collections, as
this process has too (``course_grader_kernel.fewer_full_collections``). The process ends without the
interpreter's finalisation (``exit_now``).

Nothing else of a library is changed: jupyter_client's 0.1 s polls for a killed kernel's exit, its
0.2 s wait for IOPub to go quiet at a kernel's start and jsonschema's other optional imports each cost
under 5% of a class's grading time (docs/grading-sandbox.md, "Library patches, measured").
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

# With the kernel's (start_kernels_with_the_course_launcher): saves 11% of a class's grading time, measured
# side by side (docs/grading-sandbox.md); pinned by tests/test_grading_parts.py.
fewer_full_collections()  # before pytest, nbval and jupyter_client are imported
KERNEL_LAUNCHER = "course_grader_kernel"  # replaces ipykernel_launcher in the kernel's command line

# Saves 16% of a class's grading time, measured side by side (docs/grading-sandbox.md); pinned by a test.
SKIPPED_IMPORTS = ("rfc3987_syntax",)  # an optional import of jsonschema's format checkers
for _name in SKIPPED_IMPORTS:
    sys.modules.setdefault(_name, None)  # an ImportError for jsonschema, which it expects

import pytest  # noqa: E402 - after the line above, on purpose


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
    start_kernels_with_the_course_launcher()
    exit_now(int(pytest.main()))
