# bnnforge: one-command setup and tests.
#   make setup   create .venv/ and install the pinned toolchain + Debian packages
#   make test    setup (if needed) and run the whole test suite
#   make demo    train -> export -> verify -> build for PYNQ-Z2 (see README)

PYTHON      ?= python3
VENV        := .venv
VPY         := $(VENV)/bin/python
PIP         := $(VPY) -m pip --disable-pip-version-check -q
STAMP       := $(VENV)/.bnnforge-installed
APT_PACKAGES := ccache yosys iverilog tcl dataset-fashion-mnist liblz4-dev
# one worker per core; a test file stays on one worker (its module fixtures are built once)
PYTEST_ARGS ?= -n auto --dist loadfile

.PHONY: setup apt test demo clean-venv

setup: apt $(STAMP)

# Debian packages: install only what is missing (apt-get update first, a fresh
# machine's package lists are empty). Fast no-op when everything is present.
apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; \
	  else echo "error: need root to run: apt-get install$$missing" >&2; exit 1; fi; \
	  $$SUDO apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

# Python toolchain: re-installed only when a requirements file or pyproject changes.
$(STAMP): pyproject.toml requirements/toolchain.txt requirements/finn-plus.txt
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements/toolchain.txt
	$(PIP) install --no-deps -r requirements/finn-plus.txt
	$(PIP) install --no-deps --no-build-isolation -e .
	@touch $@

test: setup
	$(VPY) -m pytest $(PYTEST_ARGS)

demo: setup
	$(VPY) -m bnnforge.demo

clean-venv:
	rm -rf $(VENV)
