# SignForge: `make demo` sets up .venv and runs the main job; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.signforge-installed

.PHONY: setup demo test bench clean

# The machine's pip config names local package folders that may be absent: drop that noise.
$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	set -o pipefail; $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' 2>&1 \
	  | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/signforge demo

test: setup
	$(VENV)/bin/python -m pytest

bench: setup
	$(VENV)/bin/python -m benchmarks.run

clean:
	rm -rf $(VENV) build *.egg-info
