# Feedback Analyzer: the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test install model archive serve app data-check clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[app,train,serve,test]' 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
	touch $(STAMP)

install: $(STAMP)

## make test: install, check the dataset, run the whole suite
test: install
	$(BIN)/feedback data check
	$(BIN)/pytest -n 2 --dist loadfile --durations=20

## make run: install, train the default model if none exists, archive it, start TorchServe, open the app
run: install
	$(BIN)/feedback run

data-check: install
	$(BIN)/feedback data check
