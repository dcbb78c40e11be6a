"""course.toml: the one file an instructor edits for a course (issue 41), read by keys and release."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from course_staff import settings
from course_utils.cli import main

ROOT = Path(__file__).resolve().parents[1]
VALID = """[course]
name = "Deep Learning"
assignment = "Assignment 3"

[release]
repository = "course-dl/dl-assignment3-student"
"""


def test_the_committed_settings_are_valid_and_name_the_release_repository():
    course = settings.load(ROOT / "course.toml")
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", course.repository)
    assert course.install_spec == f"course-utils @ git+https://github.com/{course.repository}"
    assert course.colab_url("notebooks/01_x.ipynb") == \
        f"https://colab.research.google.com/github/{course.repository}/blob/{course.branch}/notebooks/01_x.ipynb"


def test_optional_keys_have_defaults_and_a_term_joins_the_title():
    course = settings.parse(VALID)
    assert (course.term, course.branch, course.title) == ("", "main", "Deep Learning Assignment 3")
    termed = settings.parse(VALID.replace('assignment = "Assignment 3"', 'assignment = "A3"\nterm = "Fall 2027"'))
    assert termed.title == "Deep Learning A3 (Fall 2027)"


@pytest.mark.parametrize("text, key, fix", [
    (VALID.replace('repository = "course-dl/dl-assignment3-student"', ""), "[release] repository is missing",
     'repository = "someuni/dl-a3-2027"'),
    (VALID.replace("course-dl/dl-assignment3-student", "https://github.com/someuni/dl-a3"), "[release] repository",
     "without https://github.com/"),
    (VALID.replace("course-dl/dl-assignment3-student", "someuni/dl-a3.git"), "[release] repository", "or .git"),
    (VALID.replace("course-dl/dl-assignment3-student", "dl-a3"), "is not OWNER/NAME", "e.g. repository ="),
    (VALID.replace('name = "Deep Learning"', "name = 3"), "[course] name = 3", "string in double quotes"),
    (VALID.replace('name = "Deep Learning"', 'name = ""'), "[course] name", "non-empty"),
    (VALID.replace('name = "Deep', 'nmae = "Deep'), "unknown key [course] nmae", "the keys of [course] are"),
    (VALID + "[grading]\npoints = 3\n", "'grading'", "the tables are [course], [variants], [release]"),
    (VALID.replace('"Deep Learning"', "Deep Learning"), "not valid TOML", "fix the line"),
    (VALID + 'branch = "my branch"\n', "[release] branch", 'branch = "main"'),
    (VALID.replace('"Assignment 3"', '"Assignment\\n3"'), "[course] assignment", "one line"),
])
def test_a_mistake_names_the_key_and_the_fix(text, key, fix):
    with pytest.raises(settings.CourseSettingsError) as caught:
        settings.parse(text, "course.toml")
    message = str(caught.value)
    assert message.startswith("course.toml: ") and key in message and fix in message and "\n" not in message


def test_a_missing_file_says_where_to_run_and_how_to_name_it(tmp_path):
    with pytest.raises(settings.CourseSettingsError, match=r"no .*course.toml here .*--settings FILE"):
        settings.load(tmp_path / "course.toml")


def test_keys_and_release_stop_on_bad_settings_with_one_line(tmp_path, capsys):
    bad = tmp_path / "course.toml"
    bad.write_text(VALID.replace("course-dl/dl-assignment3-student", "nobody"))
    assert main(["keys", "--no-execute", "--no-registry", "--settings", str(bad), "--notebooks",
                 str(tmp_path / "nb")]) == 2
    assert main(["release", str(tmp_path / "rel"), "--settings", str(bad)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert [line.split(": ", 1)[0] for line in err] == ["course-utils keys", "course-utils release"]
    assert all("[release] repository = 'nobody' is not OWNER/NAME" in line for line in err)
    assert not (tmp_path / "nb").exists() and not (tmp_path / "rel").exists()


def test_a_release_for_another_repository_holds_no_trace_of_the_default_one(tmp_path, capsys):
    default = settings.load(ROOT / "course.toml")
    course_toml = tmp_path / "course.toml"
    course_toml.write_text('[course]\nname = "Deep Learning"\nassignment = "A3"\nterm = "Spring 2027"\n\n'
                           '[release]\nrepository = "someuni/dl-a3-2027"\nbranch = "spring"\n')
    target = tmp_path / "student"
    assert main(["release", str(target), "--answers", str(ROOT / "answers"), "--pyproject",
                 str(ROOT / "pyproject.toml"), "--settings", str(course_toml)]) == 0
    out = capsys.readouterr().out
    assert "publish it at https://github.com/someuni/dl-a3-2027 (branch spring)" in out
    owner, name = default.repository.split("/")
    files = {p.relative_to(target).as_posix(): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    traces = [(path, needle) for path, data in files.items() for needle in (default.repository, owner, name)
              if needle.encode() in data]
    assert traces == []
    assert default.repository not in out
    handouts = [path for path in files if path.startswith("notebooks/")]
    assert handouts and all(b"install -q 'course-utils @ git+https://github.com/someuni/dl-a3-2027'" in files[path]
                            for path in handouts)
    readme = files["README.md"].decode()
    assert readme.splitlines()[1] == "# Deep Learning A3 (Spring 2027)"
    badges = re.findall(r"colab\.research\.google\.com/github/(\S+?)/blob/(\w+)/(notebooks/[\w.]+)\)", readme)
    assert sorted(badges) == sorted(("someuni/dl-a3-2027", "spring", path) for path in handouts)
    assert 'description = "Student package of Deep Learning A3 (Spring 2027):' in files["pyproject.toml"].decode()


def test_the_gradebooks_canvas_column_is_the_assignment_of_course_toml(tmp_path, monkeypatch, capsys):
    from course_staff.formats.report import Row, write_report

    report = tmp_path / "report.csv"
    write_report([Row("amy_1_1_hw3.ipynb", "pass", 3.0, 3.0, "fx_rnn")], report, [])
    args = ["gradebook", str(report), "--out", str(tmp_path / "g.csv"), "--canvas", str(tmp_path / "c.csv"),
            "--rubric", str(ROOT / "answers" / "written_rubric.json")]
    monkeypatch.chdir(tmp_path)
    assert main(args) == 0  # no course.toml here: the default column
    assert (tmp_path / "c.csv").read_text().splitlines()[0].endswith(",Assignment 3")
    (tmp_path / "course.toml").write_text(VALID.replace('"Assignment 3"', '"HW3 Spring 2027"'))
    assert main(args) == 0
    assert (tmp_path / "c.csv").read_text().splitlines()[0].endswith(",HW3 Spring 2027")
    assert "the import's column is 'HW3 Spring 2027'" in capsys.readouterr().err
    (tmp_path / "course.toml").write_text(VALID.replace('assignment = "Assignment 3"', ""))
    assert main(args) == 2
    assert "[course] assignment is missing" in capsys.readouterr().err
    assert main([*args, "--assignment", "HW3"]) == 0
