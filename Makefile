# Two commands from a fresh clone (each sets up .venv on first use):
#   make keys   execute every master in answers/, render the keys, regenerate notebooks/ (tiny mode;
#               COURSE_TINY=0 make keys for full mode)
#   make test   the docs' strict build (make docs), then the whole test suite: unit tests, nbval over the
#               masters, handouts up to date
#   make docs   the generated docs pages current (ci/docs_pages.py --check), then `mkdocs build --strict` into site/
# Both install the newest releases that pyproject.toml allows. CI (.ci/run) pins the test toolchain
# through PIP_CONSTRAINT=ci/constraints-dev.txt; `make lock` refreshes that file on purpose.
# CI also runs: make test-lowest   the tiny suite again in .venv-lowest, with the lowest declared versions
#             (ci/constraints-lowest.txt, Python 3.10: LOWEST_PYTHON=/path/to/python3.10 if it is not on PATH)
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

LOWEST_PYTHON ?= python3.10
LOWEST_VENV = .venv-lowest

# CI also runs: make test-colab   the students' runtime: Colab's packages at Colab's versions (from
#             ../shared/colab/pip-freeze.gpu.txt, by ci/colab_env.py) in .venv-colab on Python 3.13
#             (COLAB_PYTHON=/path/to/python3.13); the release installed as a handout's first cell does,
#             which must change nothing there; every handout walked there; the results graded here.
COLAB_PYTHON ?= python3.13
COLAB_VENV = .venv-colab
COLAB_RELEASE = build/colab-release
COLAB_FREEZE = ../shared/colab/pip-freeze.gpu.txt

.PHONY: keys test docs test-lowest test-colab lock clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --editable ".[dev]"
	touch $(STAMP)

keys: $(STAMP)
	$(BIN)/course-utils keys

test: $(STAMP) docs
	$(BIN)/python -m pytest

# Not --quiet: it hides the warnings, and --strict then passes a dead link. NO_MKDOCS_2_WARNING silences
# Material's banner about its end of life (May 2027).
docs: $(STAMP)
	$(BIN)/python ci/docs_pages.py --check
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

lock:
	$(PYTHON) ci/lock.py

$(LOWEST_VENV)/.installed: pyproject.toml ci/constraints-lowest.txt
	$(LOWEST_PYTHON) -m venv $(LOWEST_VENV)
	PIP_CONSTRAINT=$(CURDIR)/ci/constraints-lowest.txt $(LOWEST_VENV)/bin/python -m pip install --quiet --editable ".[dev]"
	touch $@

test-lowest: $(LOWEST_VENV)/.installed
	$(LOWEST_VENV)/bin/python -m pytest -m "not realmodel and not bundle"

$(COLAB_RELEASE)/pyproject.toml: $(STAMP) pyproject.toml answers/*.ipynb $(shell find course_utils -name '*.py' -o -name '*.json')
	rm -rf $(COLAB_RELEASE)
	$(BIN)/course-utils release $(COLAB_RELEASE)

$(COLAB_VENV)/.colab-roots.json: $(COLAB_FREEZE) ci/colab_env.py $(COLAB_RELEASE)/pyproject.toml
	$(BIN)/python ci/colab_env.py env $(COLAB_VENV) --python $(COLAB_PYTHON) --release $(COLAB_RELEASE)

test-colab: $(COLAB_VENV)/.colab-roots.json
	rm -rf $(COLAB_RELEASE) && $(BIN)/course-utils release $(COLAB_RELEASE)
	$(BIN)/python ci/colab_env.py install $(COLAB_VENV) --release $(COLAB_RELEASE)
	$(BIN)/python ci/colab_env.py freeze $(COLAB_VENV)
	COLAB_VENV=$(COLAB_VENV) COLAB_RELEASE=$(COLAB_RELEASE) $(BIN)/python -m pytest -m colab tests/test_colab_runtime.py

clean:
	rm -rf $(VENV) $(LOWEST_VENV) $(COLAB_VENV) .pytest_cache .hypothesis build *.egg-info test-artifacts site
