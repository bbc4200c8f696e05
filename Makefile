# Two commands do all the set-up on a fresh machine:  `make demo` (the main job) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test system install world clean-cache

system:  ## Debian packages: WordNet 3.0 data files
	@test -f /usr/share/wordnet/data.noun || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wordnet-base)

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,pretrained,scale]'
	touch $@

install: system $(VENV)/.installed

world: install  ## the default offline world (about 2 minutes the first time)
	$(VENV)/bin/ie-explore build-world tinyweb --json | tail -n 1

demo: world  ## the main job
	$(VENV)/bin/ie-explore demo

test: install
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)
