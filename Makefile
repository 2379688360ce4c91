# The two commands of the README: `make demo` and `make test` (each sets up .venv/ first).
PY := .venv/bin/python
SER_DATA ?= ../shared/corpora
export SER_DATA

.PHONY: setup demo test bench
setup:
	bash scripts/setup.sh

demo: setup
	$(PY) -m app

test:
	bash scripts/setup.sh chromium  # Debian's headless browser, for tests/test_browser.py
	$(PY) -m pytest -q

bench: setup
	$(PY) -m bench
