"""The browser test's expected counts: formulas as JupyterLab finds them, figures as it shows them.

The browser test checks these counts against MathJax and Chromium on the real notebooks; these cases
pin the rules of JupyterLab's ``removeMath`` one at a time.
"""

from __future__ import annotations

import pytest
from notebook_view import count_formulas, expected_view, shown_mime


@pytest.mark.parametrize(("text", "formulas"), [
    ("no math here", 0),
    ("$a$ and $b$", 2),
    ("display $$\\sum_i x_i$$ then $y$", 2),
    ("\\begin{align} x &= 1 \\end{align}", 1),
    ("escaped brackets \\\\(x\\\\) and \\\\[y\\\\]", 2),  # markdown source of \( \) and \[ \]
    ("a price of \\$5 is not math", 0),
    ("`$x$` in code, $y$ outside", 1),
    ("```python\nprint('$a$')\n```\nthen $b$", 1),
    ("~~~\n$a$\n~~~\n", 0),
    ("$x^{a$}$", 1),  # the first `$` inside braces does not close the formula
    ("$a\n\nb$", 0),  # a blank line ends an unclosed formula
    ("$a\r\nb$", 1),  # Windows line ends are one line break
    ("a lone $ sign", 0),
])
def test_count_formulas_follows_jupyterlab(text: str, formulas: int) -> None:
    assert count_formulas(text) == formulas


def _output(**data: str) -> dict:
    return {"output_type": "display_data", "metadata": {}, "data": {k.replace("_", "/", 1): v for k, v in data.items()}}


def test_a_figure_is_an_output_whose_shown_type_is_an_image() -> None:
    figure = _output(image_png="iVBOR", text_plain="<Figure>")
    html_table = _output(text_html="<table>$x$</table>", image_png="iVBOR")  # HTML wins, and is typeset
    cell = {"cell_type": "code", "source": [], "outputs": [
        figure, figure, html_table, {"output_type": "stream", "name": "stdout", "text": "$1 and $2"}]}
    assert shown_mime(figure) == "image/png"
    assert shown_mime(html_table) == "text/html"
    assert shown_mime(cell["outputs"][3]) is None
    assert expected_view(cell) == (2, 1)


def test_markdown_cells_and_latex_outputs_count_their_formulas() -> None:
    markdown = {"cell_type": "markdown", "source": ["Let $x$ be\n", "$$x^2$$"]}
    latex = {"cell_type": "code", "source": [], "outputs": [_output(text_latex=["$\\frac{1}{2}$"], text_plain="1/2")]}
    assert expected_view(markdown) == (0, 2)
    assert expected_view(latex) == (0, 1)
