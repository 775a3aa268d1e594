# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Two test processes (one per core of the CI machine), a test file per process at a time: the many
# subprocess and notebook tests spend much of their time single-threaded (imports, kernel starts).
# Files are handed out in the order tests/conftest.py gives them (the long tutorials first).
PYTEST_WORKERS ?= 2
PYTEST_FLAGS ?= -q -ra --durations=30 -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: install bytecode test test-tf test-jax demo bench tutorials assignments wheel clean

$(STAMP): requirements.txt requirements-export.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-export.txt
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $(STAMP)

install: $(STAMP)

# The project's modules compiled once: where PYTHONDONTWRITEBYTECODE is set, every test process,
# notebook kernel and subprocess would compile them again.
bytecode: install
	$(PY) -m compileall -q lstm_keras notebooks/tools > /dev/null

# The whole suite: everything on TensorFlow, then the backend-agnostic layers and samplers on JAX
# (without the checks of Keras plumbing that do not depend on the backend's numerics, nor the slow variants
# of tests whose other variants run there).
test: test-tf test-jax

test-tf: bytecode
	KERAS_BACKEND=tensorflow $(PY) -m pytest $(PYTEST_FLAGS) tests

test-jax: bytecode
	KERAS_BACKEND=jax $(PY) -m pytest $(PYTEST_FLAGS) -m "not keras_plumbing and not one_backend" tests/layers tests/decoding/test_sampling.py

demo: install
	KERAS_BACKEND=tensorflow $(PY) -m lstm_keras translate train --dataset data/dates.tsv \
		--epochs 3 --time-budget 6 --overwrite --out runs/demo
	KERAS_BACKEND=tensorflow $(PY) -m lstm_keras translate run --model runs/demo \
		"26 de noviembre de 2026" "Nov 3, 1999" "le 14 juillet 1789"

bench: install
	KERAS_BACKEND=tensorflow $(PY) benchmarks/bench_lstm.py

# Every tutorial notebook with QUICK=True (`make tutorials QUICK=False`: the full settings):
# executed copies and HTML renderings in build/notebooks/.
QUICK ?= True
tutorials: install
	KERAS_BACKEND=tensorflow $(PY) notebooks/tools/run_notebooks.py -p QUICK=$(QUICK)

# The student versions of the assignments (build/assignments/), then both versions run: every
# check of the solutions must pass, every check of the unfinished student versions must not.
assignments: install
	$(PY) notebooks/tools/make_assignments.py
	KERAS_BACKEND=tensorflow $(PY) notebooks/tools/run_notebooks.py --expect-checks passed \
		--out build/notebooks/assignments notebooks/assignments/*.ipynb
	KERAS_BACKEND=tensorflow $(PY) notebooks/tools/run_notebooks.py --expect-checks not-passed \
		--out build/notebooks/students build/assignments/*.ipynb

# The package as a wheel in dist/, for a hosted notebook runtime (the notebooks' setup cell installs it).
wheel: install
	$(PY) -m pip wheel -q --no-deps --no-build-isolation -w dist .

clean:
	rm -rf build dist runs .pytest_cache
