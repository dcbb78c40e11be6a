"""The README is the front door: short, and its links, badges, commands and numbers must stay true."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from course_staff import settings

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = settings.load(ROOT / "course.toml").repository  # the release's repository
README = (ROOT / "README.md").read_text()
sys.path.insert(0, str(ROOT / "ci"))

import docs_pages  # noqa: E402 - ci/ is not a package


def test_the_readme_is_a_front_door_of_at_most_150_lines():
    assert len(README.splitlines()) <= 150


def test_every_handout_has_a_colab_badge_for_this_repository():
    badges = re.findall(r"colab\.research\.google\.com/github/([^/]+/[^/]+)/blob/main/(notebooks/[\w.]+)", README)
    assert {repo for repo, _ in badges} == {REPOSITORY}
    assert sorted(path for _, path in badges) == sorted(
        f"notebooks/{p.name}" for p in (ROOT / "notebooks").glob("*.ipynb")
    )


def test_relative_links_point_at_files():
    for target in re.findall(r"\]\(((?!https?:)[^)#]+)\)", README):
        assert (ROOT / target).exists(), target


def test_quickstart_commands_are_make_targets_and_ci_runs_the_test_one():
    quickstart = README.split("## Quickstart", 1)[1].split("##", 1)[0]
    commands = re.findall(r"^(make \w+)", quickstart, flags=re.M)
    assert commands == ["make keys", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert all(re.search(rf"^{c.split()[1]}:", makefile, flags=re.M) for c in commands)
    assert re.search(r"^make test$", (ROOT / ".ci/run").read_text(), flags=re.M)


def test_quickstart_pins_cpu_torch_before_its_first_install():
    """Pasted as it stands, the block constrains torch before `make keys` installs anything (as .ci/run does)."""
    block = README.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    before = block.split("make keys", 1)[0]
    constraint = re.search(r'^export PIP_CONSTRAINT="\$PWD/(ci/constraints-cpu\.txt)"', before, flags=re.M)
    assert constraint and (ROOT / constraint.group(1)).exists()
    assert re.search(r"^torch==", (ROOT / constraint.group(1)).read_text(), flags=re.M)
    assert "PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu" in before
    assert "ci/constraints-cpu.txt" in (ROOT / ".ci/run").read_text()


def test_make_test_builds_the_docs_strictly():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: .*\bdocs\b", makefile, flags=re.M)
    docs = makefile.split("\ndocs:", 1)[1].split("\n\n", 1)[0]
    assert "ci/docs_pages.py --check" in docs and "mkdocs build --strict" in docs and "--quiet" not in docs


def test_the_notebook_table_counts_the_checks_and_points_the_handouts_and_rubric_have():
    rows = {m.group(1): (int(m.group(2)), int(m.group(3)))
            for m in re.finditer(r"\]\(notebooks/(\w+)\.ipynb\) \|[^|]*\| (\d+) \((\d+)\) \|", README)}
    expected = {handout: (entry["checks"], entry["points"]) for handout, entry in docs_pages.check_table().items()}
    assert rows == expected


def test_every_docs_page_is_in_the_nav_and_linked_from_the_readme():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())

    def pages(nav):
        for item in nav:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            yield from pages(value) if isinstance(value, list) else [value]

    nav = set(pages(config["nav"]))
    assert nav == {p.name for p in (ROOT / "docs").glob("*.md")}
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)\)", README))
    assert nav - {"index.md"} <= linked
