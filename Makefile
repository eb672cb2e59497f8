# `make demo` and `make test` are the two commands of the README: each sets up what it needs.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup servers demo test lint bench mutate

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/.installed

# The test suite runs a real Dovecot IMAP server and compares threading with notmuch; install
# them when missing (Debian/Ubuntu, as root), else say what is needed.
SERVER_PACKAGES := dovecot:dovecot-imapd notmuch:notmuch
servers:
	@missing=""; for pair in $(SERVER_PACKAGES); do \
	  cmd=$${pair%%:*}; pkg=$${pair#*:}; \
	  command -v $$cmd >/dev/null 2>&1 || [ -x /usr/sbin/$$cmd ] || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "The tests need:$$missing (sudo apt-get install$$missing)"; \
	  fi; \
	fi

demo: setup
	$(BIN)/frontdesk demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: setup servers lint
	$(BIN)/pytest

# Mutation testing of the modules that carry the promises (bench/mutate.py): minutes per
# module on 2 cores, so not part of `make test` nor CI. MODULES="rules search" for some.
MODULES ?=
mutate: setup
	$(BIN)/python bench/mutate.py $(MODULES)
