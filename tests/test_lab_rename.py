"""The lab's package is ``course_utils.lab``; handouts released before the rename import ``course_utils.sentiment``.

For one term the old path imports the very same modules, classes and functions (not copies), so an old
handout's cells, its ``isinstance`` checks and its self-checks work as before.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

OLD_HANDOUT_IMPORTS = '''
from course_utils.sentiment import lab, text
from course_utils.sentiment.config import LabConfig
from course_utils.sentiment.infer import RecordingLoss, padding_effect, predict_sentiment, shared_predictions
from course_utils.sentiment.model import BERTGRUSentiment, load_bert
from course_utils.sentiment.plots import plot_confusion, plot_history
from course_utils.sentiment.train import batch_logits
import course_utils.sentiment.checks
import course_utils.lab.model, course_utils.lab.workflow, course_utils.lab.text
assert lab is course_utils.lab.workflow and text is course_utils.lab.text
assert BERTGRUSentiment is course_utils.lab.model.BERTGRUSentiment
assert course_utils.sentiment.checks is sys.modules["course_utils.lab.checks"]
import course_utils.sentiment as old, course_utils.lab as new
assert old.start is new.start and old.LabConfig is new.LabConfig
from course_utils.checks import verify
assert verify("lab.vocab_size", ...).message.startswith("lab.vocab_size: no answer yet")
try:
    import course_utils.sentiment.no_such_module
except ModuleNotFoundError:
    pass
else:
    raise AssertionError("a module that never existed imports")
print("ok")
'''


def test_an_old_handouts_imports_give_the_new_packages_objects():
    done = subprocess.run([sys.executable, "-c", "import sys\n" + OLD_HANDOUT_IMPORTS], capture_output=True,
                          text=True, cwd=ROOT, env={"COURSE_TINY": "1", "PATH": "/usr/bin:/bin"}, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_the_new_handout_imports_only_the_new_path():
    text = (ROOT / "notebooks" / "04_bert_gru_sentiment.ipynb").read_text(encoding="utf-8")
    assert "course_utils.sentiment" not in text and "from course_utils import lab" in text
