"""Progress bars: Colab's widgets where the notebook kernel has ipywidgets, a plain text bar elsewhere.

``tqdm.auto`` picks the widget bar in any notebook kernel and, where ipywidgets is missing (a bare
kernel, the grader's environment), warns "IProgress not found" before falling back. :func:`tqdm`
asks first, so the fallback is silent; in a terminal or a script it is tqdm's plain bar.
"""

from __future__ import annotations

import importlib.util
import sys


def widgets_available() -> bool:
    """True inside a Jupyter/Colab kernel (IPython's ``IPKernelApp``) that can import ipywidgets."""
    ipython = sys.modules.get("IPython")
    try:
        shell = ipython.get_ipython() if ipython is not None else None
        in_kernel = shell is not None and "IPKernelApp" in shell.config
    except Exception:  # an IPython too old or too odd to ask: the plain bar is always safe
        return False
    return in_kernel and importlib.util.find_spec("ipywidgets") is not None


def tqdm(*args, **kwargs):
    """A ``tqdm`` progress bar: the widget one where :func:`widgets_available`, else the plain one."""
    if widgets_available():
        from tqdm.notebook import tqdm as bar
    else:
        from tqdm.std import tqdm as bar
    return bar(*args, **kwargs)
