# visualstreams: `make demo` (set up, get the data, run the notebook's experiment) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Pinned first so pip takes the CPU wheel and never resolves torch to a multi-GB CUDA build.
# Elsewhere: make setup TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.0
DEMO_OUT ?= runs/demo

.PHONY: setup data demo test test-all lint docs tutorials bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Find Fashion-MNIST (env, cache, Debian package) or download it; as root on Debian, install the package.
data: setup
	@$(BIN)/visualstreams data fetch --no-download 2>/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    { apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	      { apt-get update -qq >/dev/null && apt-get install -y -qq dataset-fashion-mnist >/dev/null; }; } && \
	    $(BIN)/visualstreams data fetch --no-download; } || \
	  $(BIN)/visualstreams data fetch

demo: data
	$(BIN)/visualstreams compare --species human marmoset mouse --out $(DEMO_OUT) --overwrite

test: setup
	$(BIN)/pytest -q -m "not slow"

test-all: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/lint-imports

# The documentation site (mkdocs, Material), built into site/; --strict: a broken link or reference fails it.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet  # (that variable: no banner about Material's future)

# Execute the tutorials in place at their committed sizes (minutes), refreshing the outputs the site shows.
tutorials: data
	cd docs/tutorials && for nb in *.ipynb; do \
	  $(abspath $(BIN))/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=3600 "$$nb" \
	  || exit 1; done

bench: data
	$(PY) benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) runs .pytest_cache site docs/tutorials/runs
