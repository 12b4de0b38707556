# Two commands do everything on a fresh machine:
#   make demo   create .venv, install, run the demo on embedded synthetic data (runs/demo/report.md)
#   make test   create .venv if missing, run the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.txt requirements-test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-test.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m MLNNetLib demo --out runs/demo

test: $(STAMP)
	OMP_NUM_THREADS=2 $(PY) -m pytest -q

clean:
	rm -rf runs .pytest_cache
