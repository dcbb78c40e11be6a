"""The grader's watch over one run (``run._watch``): a kernel that dies is noticed, a live one is not
mistaken for dead, and the /proc scan runs only while no known kernel process is alive."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from course_staff.grading import run

# A stand-in for pytest (its command line holds the log option, as the real one does) that starts
# "kernels" (sleep processes) and does with them what the scenario says.
SCENARIO = r"""
import subprocess, sys, time
what = sys.argv[1]
kernel = subprocess.Popen(["sleep", "30"])
if what == "dies":
    time.sleep(0.6); kernel.kill(); kernel.wait(); time.sleep(30)
elif what == "restarts":
    for _ in range(3):
        time.sleep(0.6); kernel.kill(); kernel.wait(); kernel = subprocess.Popen(["sleep", "30"])
    time.sleep(0.6); kernel.kill(); sys.exit(0)
elif what == "finishes":
    time.sleep(1.5); kernel.kill(); kernel.wait(); sys.exit(0)
"""


def watch(what: str, cells_left: bool = True, limit: float = 20.0) -> tuple[str, float, list[int]]:
    proc = subprocess.Popen([sys.executable, "-c", SCENARIO, what, f"{run.LOG_OPTION}=x"], start_new_session=True)
    scans = []
    original = run._descendants

    def counting(pid: int) -> list[int]:
        scans.append(pid)
        return original(pid)

    start = time.monotonic()
    try:
        run._descendants = counting
        ending = run._watch(proc, start + limit, lambda: cells_left)
    finally:
        run._descendants = original
        run.kill_tree(proc.pid)
        proc.wait()
    return ending, time.monotonic() - start, scans


def test_a_kernel_that_dies_with_cells_left_is_noticed_within_the_grace_period():
    ending, seconds, _ = watch("dies")
    assert ending == "kernel died"
    assert run.KERNEL_GONE_S < seconds < run.KERNEL_GONE_S + 3.0


def test_a_kernel_that_ends_after_the_last_cell_is_normal_teardown():
    ending, seconds, _ = watch("dies", cells_left=False, limit=4.0)
    assert ending == "timeout" and seconds == pytest.approx(4.0, abs=1.0)  # never "kernel died"


def test_a_run_that_ends_is_finished_and_its_live_kernel_was_looked_up_once():
    ending, seconds, scans = watch("finishes")
    assert ending == "finished" and seconds < 5.0
    # a scan to find pytest and one to find its kernel, then none while that kernel lives (6 polls)
    assert len(scans) <= 3, scans


def test_a_kernel_replaced_by_a_new_process_is_found_again_and_not_declared_dead():
    ending, seconds, scans = watch("restarts")
    assert ending == "finished"
    assert 5 <= len(scans) <= 9, scans  # found again after each of 3 replacements, not on every poll (about 10)
