"""Sandbox cost: the same 6 fixture notebooks graded with and without the sandbox, alternating, in one run (.venv/bin/python ci/sandbox_cost.py)."""
import csv, json, os, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path
REPO = Path(__file__).resolve().parent.parent; FIX = REPO / "tests/fixtures/grading"
names = ["honest_tiny.ipynb", "honest_full.ipynb", "Copy of my homework FINAL (2).ipynb", "typed_verdict.ipynb",
         "deleted_check.ipynb", "monkeypatch.ipynb"]
root = Path(tempfile.mkdtemp()); subs = root / "subs"; subs.mkdir()
for n in names: shutil.copyfile(FIX / "submissions" / n, subs / n)
(root / "rubric.json").write_text(json.dumps({"default": 1, "points": {"q2.tie_output": 2, "q3.norms": 3}}))
per = {"sandbox": [], "no-sandbox": []}; wall = {"sandbox": [], "no-sandbox": []}; results = {}
for rnd in range(2):
    for mode in (["sandbox", "no-sandbox"] if rnd == 0 else ["no-sandbox", "sandbox"]):
        rep = root / f"{mode}-{rnd}.csv"
        t = time.monotonic()
        p = subprocess.run([sys.executable, "-m", "course_utils", "grade", str(subs), "--handouts", str(FIX / "handouts"),
                            "--rubric", str(root / "rubric.json"), "--jobs", "1", "--timeout", "120", "--report", str(rep),
                            *(["--no-sandbox"] if mode == "no-sandbox" else [])], cwd=root, capture_output=True, text=True)
        wall[mode].append(time.monotonic() - t)
        rows = list(csv.DictReader(rep.open()))
        per[mode] += [float(r["seconds"]) for r in rows]
        results[mode] = {r["file"]: (r["status"], r["score"]) for r in rows}
for mode in per:
    print(f"{mode:11s} median {statistics.median(per[mode]):.2f} s/notebook (n={len(per[mode])}), batch wall {[round(w,1) for w in wall[mode]]}")
print("ratio sandbox/no-sandbox (median s/notebook): %.3f" % (statistics.median(per['sandbox']) / statistics.median(per['no-sandbox'])))
print("ratio of batch wall: %.3f" % (sum(wall['sandbox']) / sum(wall['no-sandbox'])))
print("same statuses/scores:", results["sandbox"] == results["no-sandbox"], results["sandbox"])
shutil.rmtree(root)
