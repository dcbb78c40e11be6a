"""``python -m course_utils`` is the same as ``course-utils``."""

import sys

from course_utils.cli import main

sys.exit(main())
