# ionraman: the two commands of the README are `make demo` and `make test`.
# Both create the virtual environment on first use (offline-safe: PyPI only, torch CPU build first).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_VERSION ?= 2.13.0
STAMP := $(VENV)/.ionraman-installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	# torch first, from the CPU build on disk, so that no dependency pulls a CUDA build.
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "torch==$(TORCH_VERSION)"
	$(PIP) install -q -e ".[all,dev]"
	touch $(STAMP)

demo: setup
	$(VENV)/bin/ionraman demo    # = ionraman run examples/na-thioantimonates.toml

test: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

bench: setup
	$(PY) benchmarks/analysis.py

clean:
	rm -rf $(VENV) out .pytest_cache
