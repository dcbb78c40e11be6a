"""A progress bar the student's function draws never changes a compared output, whatever the front end.

``tqdm.auto`` draws a widget where ipywidgets is installed, and writes a warning and a text bar on stderr
where it is not (nbclient, VS Code, a Jupyter without the extra). A cell that uses the student's function
through ``require`` (as Q1's receptive-field cell does) must print the same either way.
"""

from __future__ import annotations

import os
import sys

import nbformat
import pytest

nbclient = pytest.importorskip("nbclient")

_FUNCTION = '''
def stack_rows_seen(n_layers, k):
    from tqdm.auto import tqdm
    rows = 1
    for _ in tqdm(range(n_layers), desc="layers"):
        rows += k - 1
    print("debug:", rows)
    return rows
'''
_COMPARED = '''
from course_utils.checks.blanks import require
rows_of_stack = require(stack_rows_seen, "stack_rows_seen", "q1.stack_rows_seen")
print([rows_of_stack(n, 3) for n in (1, 2, 5)])
'''


def _outputs(tmp_path, hide_ipywidgets: bool) -> list:
    env = dict(os.environ)
    if hide_ipywidgets:  # a module that fails to import stands for an environment without the extra
        shim = tmp_path / "shim"
        (shim / "ipywidgets").mkdir(parents=True, exist_ok=True)
        (shim / "ipywidgets" / "__init__.py").write_text("raise ImportError('ipywidgets is not installed here')\n")
        env["PYTHONPATH"] = os.pathsep.join([str(shim), env.get("PYTHONPATH", "")])
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(_FUNCTION), nbformat.v4.new_code_cell(_COMPARED)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                         resources={"metadata": {"path": str(tmp_path)}})
        client.km = client.create_kernel_manager()
        client.km.kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return [dict(o) for o in nb.cells[1].outputs]


def test_a_compared_cell_prints_the_same_with_and_without_ipywidgets(tmp_path):
    with_widgets, without = _outputs(tmp_path, False), _outputs(tmp_path, True)
    assert with_widgets == without == [{"output_type": "stream", "name": "stdout", "text": "[3, 5, 11]\n"}]


def test_a_missing_checkpoint_names_no_command_the_student_lacks(tmp_path):
    from course_utils.lab.checkpoint import load_checkpoint

    with pytest.raises(FileNotFoundError) as missing:
        load_checkpoint(tmp_path / "best.pt")
    assert "course-utils lab" not in str(missing.value) and "training cell" in str(missing.value)


def test_require_inside_require_restores_the_display(monkeypatch):
    """A function passed through require twice (Q3's query-map demo hands require's result to a plot helper
    that requires it again) runs with display muted and leaves IPython's publisher as it found it."""
    import types

    from course_utils.checks.blanks import require

    class Publisher:
        def publish(self, *args, **kwargs):
            return "shown"

    publisher = Publisher()
    shell = types.SimpleNamespace(display_pub=publisher)
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    inner = require(lambda: publisher.publish("widget"), "f")
    outer = require(lambda: (inner(), publisher.publish("widget")), "g")
    assert outer() == (None, None) and require(inner, "f")() is None
    assert "publish" not in vars(publisher) and publisher.publish() == "shown"
