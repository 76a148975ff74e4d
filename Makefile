# SignForge: `make demo` sets up .venv and runs the main job; `make test` runs the tests.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.signforge-installed

.PHONY: setup demo test bench clean

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
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
