"""Start pytest for one graded notebook (``python -m course_grader_pytest ARGS``), minus one wasted import.

Standalone (pytest and the standard library only): the grader copies this file into the sandbox's
grader folder as ``course_grader_pytest.py``, beside its plugin.

nbval imports nbformat, which imports jsonschema, whose format checkers import ``rfc3987_syntax``
when it is installed (jupyterlab's ``jsonschema[format-nongpl]`` installs it): that module builds a
Lark grammar at import, about 1 s on a 2-core machine, a second of every graded notebook (see
python-jsonschema/jsonschema#1428). Nothing the grader runs validates an ``iri`` format, so the
module is marked missing here (jsonschema then leaves that one format unchecked) and pytest runs as
``python -m pytest`` would. The kernel is another process and is not touched.
"""

from __future__ import annotations

import sys

sys.modules.setdefault("rfc3987_syntax", None)  # an ImportError for jsonschema, which it expects

import pytest  # noqa: E402 - after the line above, on purpose

if __name__ == "__main__":
    sys.exit(pytest.console_main())
