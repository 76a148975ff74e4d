# SignForge: `make demo` sets up .venv and runs the main job; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.signforge-installed
# The tests marked `blender` (pytest -m blender) run a second time under the oldest bpy the
# manifest claims (blender_version_min): that bpy wheel alone, without its dependencies (.venv
# has them and the backend), in .bpy-VERSION/, ahead of .venv's bpy by PYTHONPATH. Any other
# bpy the same way: pip install --no-deps --target .bpy-4.5.15 bpy==4.5.15, then
#   PYTHONPATH=$PWD/.bpy-4.5.15 .venv/bin/python -m pytest -m blender
OLDEST_BPY := $(shell sed -n 's/^blender_version_min = "\(.*\)"/\1/p' blender_manifest.toml)
OLD_BPY := .bpy-$(OLDEST_BPY)

.PHONY: setup demo test bench clean

# The machine's pip config names local package folders that may be absent: drop that noise.
$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	set -o pipefail; $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' 2>&1 \
	  | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
	touch $(STAMP)

setup: $(STAMP)

$(OLD_BPY)/.signforge-installed: | $(STAMP)
	rm -rf $(OLD_BPY)
	set -o pipefail; $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
	  --target $(OLD_BPY) bpy==$(OLDEST_BPY) 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
	touch $@

demo: setup
	$(VENV)/bin/signforge demo

test: setup $(OLD_BPY)/.signforge-installed
	$(VENV)/bin/python -m pytest
	PYTHONPATH=$(CURDIR)/$(OLD_BPY) $(VENV)/bin/python -m pytest -m blender

bench: setup
	$(VENV)/bin/python -m benchmarks.run

clean:
	rm -rf $(VENV) .bpy-* build *.egg-info
