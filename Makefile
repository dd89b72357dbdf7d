# The README's commands: `make run` (the main job) and `make test`. Both do all set-up first.
VENV := .venv
# Re-install only when the lock or the packaging changes.
STAMP := $(VENV)/.installed-$(shell cat requirements.lock setup.py | sha256sum | cut -c1-16)
PROFILE ?= quick
ARGS ?=

.PHONY: setup data run test lint format bench lock clean

setup: $(STAMP) data

$(STAMP): requirements.lock setup.py scripts/setup-venv.sh
	scripts/setup-venv.sh $(VENV)
	rm -f $(VENV)/.installed-* && touch $@

data: $(STAMP)
	scripts/get-data.sh

run: setup
	$(VENV)/bin/fashion-tfx run --profile $(PROFILE) $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: setup lint
	$(VENV)/bin/python -m pytest $(ARGS)

bench: setup
	$(VENV)/bin/python -m bench.run $(ARGS)

# Regenerates requirements.lock from requirements.in (needs uv: `pip install uv`).
lock:
	uv pip compile requirements.in --python-version 3.10 --python-platform x86_64-manylinux_2_28 -o requirements.lock

clean:
	rm -rf $(VENV) runs .pytest_cache
