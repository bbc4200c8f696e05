# Two commands do all the set-up on a fresh machine:  `make demo` (the main job) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test bench system install world views

system:  ## Debian packages: WordNet 3.0 data files
	@test -f /usr/share/wordnet/data.noun || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wordnet-base)

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: system $(VENV)/.installed

world: install  ## the default offline world and what every episode reads: query tables, concept texts (~17 min once)
	$(VENV)/bin/ie-explore fetch-data > /dev/null  # the photos from their public sources unless shards are found (~400 MB)
	$(VENV)/bin/ie-explore build-world tinyweb --prepare > /dev/null  # notices and progress bars on stderr; fails make

views: world  ## the head learner's trunk views of every world image, ahead of many episodes (~12 min on 2 cores)
	$(VENV)/bin/ie-explore build-world tinyweb --views > /dev/null

demo: world  ## the main job
	$(VENV)/bin/ie-explore demo

bench: world  ## the speed figures of docs/results.md: one table, runs/bench/bench.json (~10 min after make demo)
	$(PY) experiments/benchmarks.py

test: install
	$(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)
