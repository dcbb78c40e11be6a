"""Real browser: JupyterLab + headless Debian chromium driven by Playwright.

Opens every handout (``notebooks/``) and every key (``answers/``) in JupyterLab and checks what a
person sees, cell by cell: selecting each cell from the top down as a reader pressing J would (so
JupyterLab scrolls it into view and renders it, however it virtualises the notebook), every figure the
notebook holds is shown as an image and every formula is typeset by MathJax, with no traceback and no
MathJax error anywhere; the expected counts come from the notebook file (``notebook_view.py``). The keys
are also opened with JupyterLab's most aggressive windowing (``windowingMode: full``, only the cells in
view are in the page). In the handouts the first two code cells are then run. Screenshots (the first
screen, each cell with a figure, the last screen) are kept in ``test-artifacts/browser/``. Outside CI,
a missing chromium or playwright skips, saying why.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from notebook_view import expected_view

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
NOTEBOOKS = sorted(ROOT.glob("notebooks/*.ipynb")) + sorted(ROOT.glob("answers/*.ipynb"))
ERROR_OUTPUTS = ('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]',
                 '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')
ERROR_WORDS = ("Traceback", "Error")  # an error or stderr output that holds one of these fails the test
KERNEL_IDLE = re.compile(r"\|\s*Idle$")  # the status bar's "Python 3 (ipykernel) | Idle"
# Every notebook with JupyterLab's default windowing; the keys (they hold the figures) also with "full".
PAGES = [(path, "default") for path in NOTEBOOKS] + [(path, "full") for path in NOTEBOOKS
                                                      if path.parent.name == "answers"]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CELL_TIMEOUT_MS = 20_000  # how long one cell may take to show its figures and formulas
# What the selected cell shows. Called with [index, figures, formulas]: the view once the selected cell
# is cell `index` and shows that many loaded images and typeset formulas, else null (keep waiting);
# with figures null: the view as it is. `index` is -1 where JupyterLab does not number its cells.
ACTIVE_CELL_VIEW = """([index, figures, formulas]) => {
  const cell = document.querySelector('.jp-Notebook .jp-Cell.jp-mod-active');
  if (!cell) return null;
  const at = cell.dataset.windowedListIndex;
  const outputs = [...cell.querySelectorAll(%s)].map(e => e.innerText);
  const words = %s;
  const view = {
    index: at === undefined ? -1 : Number(at),
    figures: [...cell.querySelectorAll('.jp-RenderedImage img')].filter(
      img => img.complete && img.naturalWidth > 0 && img.getBoundingClientRect().height > 0).length,
    formulas: cell.querySelectorAll('mjx-container').length,
    errors: outputs.filter(t => words.some(word => t.includes(word))).concat(
      [...cell.querySelectorAll('mjx-merror')].map(e => 'MathJax error: ' + e.getAttribute('data-mjx-error')),
      // MathJax shows an undefined macro (a typo such as \\bta) as its name in red
      [...cell.querySelectorAll('mjx-mtext[style*="color: red"]')].map(e => 'undefined TeX macro: ' +
        (e.closest('mjx-container').querySelector('mtext[mathcolor="red"]') || {textContent: '?'}).textContent)),
  };
  if (figures === null) return view;
  const here = view.index === index || view.index === -1;
  return here && view.figures === figures && view.formulas === formulas ? view : null;
}""" % (json.dumps(", ".join(ERROR_OUTPUTS)), json.dumps(ERROR_WORDS))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    """JupyterLab on 127.0.0.1 (random port and token) over copies of the notebooks.

    Yields (base URL, token, user settings folder: JupyterLab reads it on every page load).
    """
    # Outside CI a missing browser skips with the fix; in CI (.ci/run installs chromium) it is a failure.
    missing = pytest.fail if os.environ.get("CI") else pytest.skip
    if not CHROMIUM.is_file():
        missing(f"no chromium at {CHROMIUM}: apt-get install -y chromium (or set COURSE_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("playwright is not installed: pip install playwright")
    root = tmp_path_factory.mktemp("lab")
    for folder in ("notebooks", "answers"):
        (root / folder).mkdir()
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            shutil.copy(path, root / folder / path.name)
        if (ROOT / folder / "figures").is_dir():
            shutil.copytree(ROOT / folder / "figures", root / folder / "figures")
    config = tmp_path_factory.mktemp("jupyter-config")
    (config / "jupyter_server_config.py").write_text(
        "c.LabApp.news_url = None\nc.LabApp.check_for_updates_class = 'jupyterlab.NeverCheckForUpdate'\n"
        "c.LabApp.extension_manager = 'readonly'\nc.ServerApp.allow_root = True\n")
    news = config / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))  # no "news?" toast
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, COURSE_TINY="1", JUPYTER_CONFIG_DIR=str(config),
               JUPYTERLAB_SETTINGS_DIR=str(config / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(config / "ws"),
               JUPYTER_RUNTIME_DIR=str(config / "runtime"), IPYTHONDIR=str(config / "ipython"),
               MPLCONFIGDIR=str(config / "mpl"))
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.disable_check_xsrf=True"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=(config / "server.log").open("wb"),
        start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(config / 'server.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield base, token, config / "settings"
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def test_notebooks_exist() -> None:
    assert NOTEBOOKS, "no notebooks in notebooks/ or answers/: nothing for the browser to open"


@pytest.mark.parametrize(("path", "windowing"), PAGES, ids=lambda p: p if isinstance(p, str) else
                         f"{p.parent.name}/{p.name}")
def test_notebook_renders_and_runs_in_jupyterlab(lab, browser, path: Path, windowing: str) -> None:
    base, token, settings = lab
    cells = _cells(path)
    _set_windowing(settings, windowing)
    shots = ARTIFACTS / f"{path.parent.name}_{path.stem}_{windowing}"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.set_default_timeout(30_000)
        page.goto(f"{base}/lab/tree/{path.parent.name}/{path.name}?token={token}&reset")
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        _wait_for_idle_kernel(page)
        page.screenshot(path=str(shots / "top.png"))
        expected = {index: expected_view(cell) for index, cell in enumerate(cells)}
        seen, errors = _walk(page, expected, shots)
        wrong = [f"cell {i} ({cells[i]['cell_type']}, {''.join(cells[i]['source'])[:60]!r}): "
                 f"expected {expected[i]}, shown {seen[i]}" for i in expected if seen[i] != expected[i]]
        if wrong:
            pytest.fail(f"(figures, formulas) expected {_totals(expected)} in all, shown {_totals(seen)}:\n"
                        + "\n".join(wrong))
        if errors:
            pytest.fail("\n".join(errors)[:2000])
        if path.parent.name == "notebooks":
            _run_first_code_cells(page, cells)
            errors = [text for selector in ERROR_OUTPUTS for text in page.locator(selector).all_inner_texts()
                      if any(word in text for word in ERROR_WORDS)]
            assert errors == [], errors[0][:2000]
        page.screenshot(path=str(shots / "end.png"))
    finally:
        page.close()
        _shut_down_kernels(base, token)


def _totals(view: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """(figures, formulas) summed over the cells of a {cell index: (figures, formulas)} view."""
    return sum(figures for figures, _ in view.values()), sum(formulas for _, formulas in view.values())


def _set_windowing(settings_dir: Path, windowing: str) -> None:
    """Write JupyterLab's notebook setting `windowingMode` (or remove it: JupyterLab's own default)."""
    settings = settings_dir / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    settings.parent.mkdir(parents=True, exist_ok=True)
    if windowing == "default":
        settings.unlink(missing_ok=True)
    else:
        settings.write_text(json.dumps({"windowingMode": windowing}))


def _walk(page, expected: dict[int, tuple[int, int]],
          shots: Path) -> tuple[dict[int, tuple[int, int]], list[str]]:
    """Select every cell from the top down, as a person pressing J does; JupyterLab scrolls each into view
    and renders it however it virtualises. Wait (up to CELL_TIMEOUT_MS) until the selected cell shows what
    ``expected`` says, then read what it shows: {index: (figures, formulas)}, and the text of every
    traceback or MathJax error in it. A cell with a figure is saved as ``cell-NN.png`` in ``shots``.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.keyboard.press("Escape")  # command mode
    seen, errors = {}, []
    for index, (figures, formulas) in expected.items():
        if index:
            page.keyboard.press("j")
        try:
            page.wait_for_function(ACTIVE_CELL_VIEW, arg=[index, figures, formulas], timeout=CELL_TIMEOUT_MS)
        except PlaywrightTimeout:
            pass  # reported below with what the cell shows instead
        view = page.evaluate(ACTIVE_CELL_VIEW, [index, None, None])
        assert view and view["index"] in (index, -1), f"cell {index} is not the selected one: {view}"
        seen[index] = (view["figures"], view["formulas"])
        errors += view["errors"]
        if view["figures"]:
            cell = page.locator(".jp-Notebook .jp-Cell.jp-mod-active")
            cell.screenshot(path=str(shots / f"cell-{index:02d}.png"))
    return seen, errors


def _run_first_code_cells(page, cells: list[dict]) -> None:
    """Back at the top of a handout, run its first two code cells with Shift+Enter and wait for them."""
    for _ in range(len(cells) - 1):
        page.keyboard.press("k")
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code"][:2]
    for _ in range(code[-1] + 1):
        page.keyboard.press("Shift+Enter")
    for n in range(1, len(code) + 1):
        page.wait_for_selector(f".jp-InputPrompt:has-text('[{n}]:')")
    _wait_for_idle_kernel(page)


def _wait_for_idle_kernel(page) -> None:
    """Wait until the status bar says the notebook's kernel is idle (started, or done running)."""
    page.locator(".jp-StatusBar-TextItem").filter(has_text=KERNEL_IDLE).first.wait_for()


def _shut_down_kernels(base: str, token: str) -> None:
    """Stop every session's kernel, so that kernels do not pile up across notebooks."""
    with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=10) as reply:
        sessions = json.load(reply)
    for session in sessions:
        request = urllib.request.Request(f"{base}/api/sessions/{session['id']}?token={token}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()
