# Two commands for a fresh machine: `make demo` (the main job) and `make test` (the test suite).
VENV ?= .venv
PY := $(VENV)/bin/python
SEED ?= 0

.PHONY: setup demo test test-slow lint bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# constraints.txt pins torch==2.13.0 (CPU wheel); without it peft/accelerate would pull a CUDA torch.
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/nomocap demo --out demo_out --seed $(SEED)

# One pytest-xdist worker per core, one torch thread each (tests/conftest.py): the suite is single-threaded at heart.
test: setup
	$(PY) -m pytest -q -p no:cacheprovider -n auto --dist worksteal

test-slow: setup
	$(PY) -m pytest -q -m slow

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

bench: setup
	@echo 'usage: $(PY) benchmarks/samplers.py --model RUN --data DIR'

clean:
	rm -rf $(VENV) demo_out .pytest_cache
