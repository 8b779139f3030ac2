# The two commands of the README.  Both create .venv and install what they need on first use.
#   make repro   - the offline pipeline on the simulated surveys (dvc repro), then its metrics
#   make test    - the test suite
VENV    ?= .venv
STAMP   := $(VENV)/.installed-stamp
# Stages run `python -m stages...`: put the venv first on PATH so DVC finds its interpreter.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: repro test install

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

repro: $(STAMP)
	dvc repro
	dvc metrics show

test: $(STAMP)
	pytest
