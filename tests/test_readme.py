"""The README is the front door: its links, badges and commands must stay true."""

from __future__ import annotations

import re
from pathlib import Path

from course_staff.authoring.keys import REPOSITORY

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


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
