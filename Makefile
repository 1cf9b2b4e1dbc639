# visualstreams: `make demo` (set up, get the data, run the notebook's experiment) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Pinned first so pip takes the CPU wheel and never resolves torch to a multi-GB CUDA build.
# Elsewhere: make setup TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.0
DEMO_OUT ?= runs/demo

.PHONY: setup data demo test test-slow test-all test-brainscore lint docs tutorials bench clean

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

# The fast suite (the README's test command), and the slow tests it leaves out; CI runs both (.ci/run).
test: setup
	$(BIN)/pytest -q -m "not slow" --durations=10

test-slow: setup
	$(BIN)/pytest -q -m slow --durations=10

test-all: test test-slow

# The Brain-Score plugin against the real brainscore-vision, offline, in an environment of its own: its pins
# (numpy<2, xarray<2022.6, scikit-learn<1.6) conflict with this package's. Its own and brainscore-core's
# dependencies are installed by hand, not resolved: pip would follow torchvision>=0.21 to a multi-GB CUDA torch,
# and neither the plugin (its preprocessing is this package's) nor recording needs torchvision, jupyter or decord.
BS_VENV ?= .venv-brainscore
BS_DEPS := "numpy<2" "pandas<3" "scikit-learn<1.6" "xarray<2022.6" "opencv-python-headless<4.11" netCDF4 h5py \
	scipy tqdm PyYAML boto3 requests Pillow fire peewee pybtex psycopg2-binary gitpython "importlib-metadata<5" \
	psutil networkx "dask[array]" pytest
test-brainscore:
	$(PYTHON) -m venv $(BS_VENV)
	$(BS_VENV)/bin/python -m pip install --quiet $(TORCH_SPEC)
	$(BS_VENV)/bin/python -m pip install --quiet $(BS_DEPS)
	$(BS_VENV)/bin/python -m pip install --quiet --no-deps brainscore-vision==2.4.2 brainscore-core==2.5.0 \
	  result-caching==0.5
	$(BS_VENV)/bin/python -m pip install --quiet -e . "numpy<2" "scikit-learn<1.6"
	RESULTCACHING_DISABLE=1 BS_INSTALL_DEPENDENCIES=no $(BS_VENV)/bin/python -m pytest -q -p no:cacheprovider \
	  tests/test_brainscore_plugin.py

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
	rm -rf $(VENV) $(BS_VENV) runs .pytest_cache site docs/tutorials/runs
