"""The docs site: its generated pages are their renderings, and its strict build fails on a dead link."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "ci"))

import docs_pages  # noqa: E402 - ci/ is not a package

MKDOCS = Path(sys.executable).with_name("mkdocs")


@pytest.mark.parametrize("page", sorted(docs_pages.PAGES))
def test_a_generated_page_is_what_ci_docs_pages_renders(page: str) -> None:
    assert docs_pages.PAGES[page].read_text(encoding="utf-8") == docs_pages.RENDER[page](), (
        f"docs/{page}.md is stale: run `python ci/docs_pages.py`")


def test_every_measured_record_names_its_commit_and_date() -> None:
    data = json.loads(docs_pages.DATA.read_text(encoding="utf-8"))
    records = [v for k, v in data.items() if k not in ("about", "ci")] + list(data["ci"].values())
    assert records
    for record in records:
        assert re.fullmatch(r"[0-9a-f]{7,40}", record["commit"]), record
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", record["date"]), record


def test_the_checks_page_counts_every_registered_check_once_with_the_rubrics_points() -> None:
    from course_utils import checks

    rubric = json.loads((ROOT / "answers" / "rubric.json").read_text(encoding="utf-8"))
    table = docs_pages.check_table()
    ids = [i for entry in table.values() for i, _, _ in entry["rows"]]
    assert sorted(ids) == sorted(checks.specs())
    assert sum(e["points"] for e in table.values()) == sum(rubric["points"].get(i, rubric["default"]) for i in ids)
    assert table["04_bert_gru_sentiment"]["checks"] == sum(i.startswith("lab.") for i in ids)


def _build(tmp_path: Path, extra: str = "") -> subprocess.CompletedProcess:
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    if extra:
        with (tmp_path / "docs" / "index.md").open("a", encoding="utf-8") as handle:
            handle.write(extra)
    return subprocess.run([str(MKDOCS), "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=tmp_path,
                          capture_output=True, text=True, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"), timeout=300)


def test_the_docs_build_strictly(tmp_path: Path) -> None:
    done = _build(tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "performance" / "index.html").exists()


def test_a_dead_link_fails_the_strict_build(tmp_path: Path) -> None:
    """A missing page, a missing anchor and a link out of docs/ each fail `mkdocs build --strict` (mkdocs.yml's
    validation settings; `make docs` must not add --quiet, which hides the warnings and lets the build pass)."""
    done = _build(tmp_path, "\n\n[gone](no-such-page.md), [gone](performance.md#no-such-anchor), [out](../README.md)\n")
    assert done.returncode != 0
    assert "contains a link 'no-such-page.md', but the target is not found" in done.stderr
    assert "does not contain an anchor '#no-such-anchor'" in done.stderr
    assert "contains a link '../README.md', but the target is not found" in done.stderr
