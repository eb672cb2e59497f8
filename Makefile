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

# The test suite runs a real Dovecot IMAP server; install it when missing (Debian/Ubuntu).
servers:
	@command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd; \
	  else \
	    echo "Dovecot is needed by the IMAP tests: sudo apt-get install dovecot-imapd"; \
	  fi; }

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
