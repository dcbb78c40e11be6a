"""Shards: grade a stable K-th of N parts of a folder, then join the shard reports.

A file belongs to shard ``1 + sha256(file name) mod N``: the same file lands in the same shard on
every run and every machine, whatever else is in the folder, so a failed array task can simply be
run again. ``course-utils grade-merge OUT IN...`` joins the reports (and the written answers each
shard wrote beside its report).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from course_staff.formats.report import merge_reports
from course_staff.written import answers


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 1 <= K <= N; argparse.ArgumentTypeError otherwise."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard wants K/N such as 2/8, got {text!r}") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def shard_of(name: str, n: int) -> int:
    """The shard (1..n) of a file name."""
    return 1 + int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") % n


def select(paths: list[Path], shard: tuple[int, int] | None) -> list[Path]:
    """The paths of shard ``(K, N)`` (all of them for None), in the given order."""
    if shard is None:
        return paths
    k, n = shard
    return [p for p in paths if shard_of(p.name, n) == k]


def merge_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``course-utils grade-merge``."""
    parser.add_argument("out", type=Path, metavar="OUT", help="the joined report (CSV) to write")
    parser.add_argument("reports", type=Path, nargs="+", metavar="IN", help="shard reports written by grade --shard")


def merge(args: argparse.Namespace) -> int:
    """Join shard reports; 0 on success, 2 if one is missing, not a report, or a file is in two."""
    missing = [p for p in args.reports if not p.is_file()]
    if missing:
        print(f"course-utils grade-merge: no report {missing[0]} (did that shard finish?)", file=sys.stderr)
        return 2
    try:
        count = merge_reports(args.reports, args.out)
    except ValueError as exc:
        print(f"course-utils grade-merge: {exc}", file=sys.stderr)
        return 2
    written = [p.with_suffix(".answers.csv") for p in args.reports]
    if all(p.is_file() for p in written):  # the written answers each shard wrote beside its report
        joined = sorted((a for p in written for a in answers.read_csv(p)), key=lambda a: a.file)
        answers.write_csv(joined, args.out.with_suffix(".answers.csv"))
        answers.write_html(joined, args.out.with_suffix(".answers.html"))
    print(f"{count} rows from {len(args.reports)} reports: {args.out}")
    return 0
