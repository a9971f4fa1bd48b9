# csdh: two commands do all set-up on a fresh Debian machine with Python 3.11:
#   make demo   - virtualenv, pinned dependencies, Fashion-MNIST, then the main job
#   make test   - the same set-up (plus Chromium for the browser test), then the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: all setup data browser demo test test-fast bench clean

all: test

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

setup: $(STAMP)

# Fashion-MNIST from Debian (dataset-fashion-mnist); without root or apt the loader explains other ways.
data:
	@if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; }; then \
	  echo "installing dataset-fashion-mnist with apt-get"; \
	  ( $(SUDO) apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
	    { $(SUDO) apt-get update -q >/dev/null && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null; } ) \
	  || echo "warning: could not apt-get install dataset-fashion-mnist; csdh will look in --data-dir and its cache"; \
	else echo "note: no apt-get; put the Fashion-MNIST files in --data-dir or ~/.cache/csdh/fashion-mnist"; fi

# Headless Chromium + chromedriver for the web page test (skipped when they cannot be installed).
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; }; then \
	  echo "installing chromium and chromium-driver with apt-get"; \
	  ( $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	    { $(SUDO) apt-get update -q >/dev/null && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; } ) \
	  || echo "warning: could not install chromium; the browser test will be skipped"; \
	fi

demo: setup data
	$(BIN)/csdh demo --overwrite

test: setup data browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

bench: setup data
	bash benchmarks/run_all.sh

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
