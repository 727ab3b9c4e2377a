# Attention, hands on: the two commands are `make lab` and `make test`.
# Both create .venv the first time: `make install` (the learner's packages, tools/install.py), and for
# `make test` the developer's tools on top (requirements-dev.txt).

# The first of these that is Python 3.11, 3.12 or 3.13 (or PYTHON=/path/to/python).
SUPPORTED_PYTHON := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
PYTHON ?= $(firstword $(foreach candidate,python3.11 python3.12 python3.13 python3,\
	$(shell command -v $(candidate) >/dev/null 2>&1 && $(candidate) -c '$(SUPPORTED_PYTHON)' 2>/dev/null && echo $(candidate))))
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DEV_INSTALLED := $(VENV)/.installed-dev
# Where torch's CPU build comes from on Linux: PyTorch's CPU index, a school's mirror, or a local PEP 503 folder.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: install lab test lint outputs bench memory student slides clean

# Numerics (helpers.machinery.numerics). Empty: pinned kernels on x86-64, so stored outputs compare byte for byte on any
# x86-64 CPU, and `make test` then runs the notebooks once more with the machine's own kernels, compared within
# a stated tolerance (tests/tolerant_outputs.py); native elsewhere (Apple Silicon). NUMERICS=native: everything
# with the machine's own kernels, compared tolerantly. NUMERICS=pinned: the pinned run only.
NUMERICS ?=
NATIVE_MODE := $(shell uname -m | grep -qE '^(x86_64|amd64)$$' && echo pinned || echo native)
TEST_MODE := $(or $(NUMERICS),$(NATIVE_MODE))
PYTEST := $(PY) -m pytest --nbval --nbval-current-env

# Localhost only, token authentication on (the default), and no calls out: no news feed, no update
# check, no extension manager querying PyPI. --allow-root only when run as root (containers, CI).
LAB_FLAGS := --ServerApp.ip=127.0.0.1 --LabApp.news_url=None \
	--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate \
	--LabApp.extension_manager=readonly $(if $(filter 0,$(shell id -u)),--allow-root,)

install: $(INSTALLED)

lab: $(INSTALLED)
	$(VENV)/bin/jupyter lab $(LAB_FLAGS) notebooks/00_start_here.ipynb

test: $(DEV_INSTALLED) lint
	ATTENTION_NUMERICS=$(TEST_MODE) $(PYTEST) tests notebooks
ifeq ($(NUMERICS)$(TEST_MODE),pinned)
	@echo "The notebooks once more, with this machine's own kernels (native numerics), compared within the tolerance:"
	ATTENTION_NUMERICS=native $(PYTEST) tests notebooks --ignore-glob='tests/test_*.py' --ignore=tests/browser
endif

lint: $(DEV_INSTALLED)
	$(PY) -m ruff check helpers tests tools notebooks
	$(PY) -m ruff format --check helpers tests tools

# Re-execute every notebook in a fresh kernel and store its outputs (see tools/make_outputs.py).
outputs: $(DEV_INSTALLED)
	ATTENTION_NUMERICS=$(TEST_MODE) $(PY) tools/make_outputs.py

# A learner's speed: native numerics, unless NUMERICS=pinned (to measure what pinning costs).
bench: $(DEV_INSTALLED)
	$(PY) tools/bench.py --numerics $(or $(NUMERICS),native)

# Memory one learner needs (server + each lesson's kernel), for sizing a class server.
memory: $(DEV_INSTALLED)
	$(PY) tools/measure_memory.py

# The student edition: the notebooks without solutions, in student/ (see tools/make_student.py).
student: $(DEV_INSTALLED)
	$(PY) tools/make_student.py --out student

# Every lesson as reveal.js slides in slides/, with reveal.js (and MathJax) copied beside them: opens offline.
slides: $(DEV_INSTALLED)
	$(PY) tools/make_slides.py

$(INSTALLED): requirements.txt requirements-files.txt pyproject.toml tools/install.py
	@test -n "$(PYTHON)" || { echo "The course needs Python 3.11, 3.12 or 3.13: install one (python.org, or your system's python3.12 package), then run make again, or name it: make PYTHON=/path/to/python3.12"; exit 1; }
	@$(PYTHON) -c '$(SUPPORTED_PYTHON)' || { echo "$(PYTHON) is not Python 3.11, 3.12 or 3.13: name one with make PYTHON=/path/to/python3.12"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) tools/install.py --torch-index $(TORCH_INDEX)
	$(PY) -m pip install --quiet --no-deps -e .
	@! $(PY) -m pip list 2>/dev/null | grep -iE '^(nvidia-|triton|cuda-)' || (echo "A CUDA build of torch was installed; the course pins the CPU build." && exit 1)
	touch $(INSTALLED)

$(DEV_INSTALLED): $(INSTALLED) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(DEV_INSTALLED)

clean:
	rm -rf $(VENV) bench.json memory.json .browser-screenshots student slides
