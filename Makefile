# The two commands of the README.  Both create .venv and install what they need on first use.
#   make repro   - the offline pipeline on the simulated surveys (dvc repro), then its metrics
#   make test    - the test suite
VENV    ?= .venv
STAMP   := $(VENV)/.installed-stamp
CHROMIUM := /usr/bin/chromium
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

test: $(STAMP) $(CHROMIUM)
	pytest

# The report's browser test (tests/test_report.py) drives headless Chromium through Debian's
# chromedriver: nothing is downloaded at test time.  Installed once, as root (CI's fresh machine).
# (sudo only when not already root.)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
$(CHROMIUM):
	$(SUDO) apt-get update
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium chromium-driver
