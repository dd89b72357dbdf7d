# The README's commands: `make run` (the main job) and `make test`. Both do all set-up first.
VENV := .venv
# Re-install only when the lock or the packaging changes.
STAMP := $(VENV)/.installed-$(shell cat requirements.lock setup.py | sha256sum | cut -c1-16)
# Empty: the CLI's own default profile (pipeline.config.LOCAL_DEFAULT_PROFILE); `make run PROFILE=test` picks one.
PROFILE ?=
ARGS ?=

.PHONY: setup data run test test-fast test-crash fuzz audit audit-online lint format bench lock clean

setup: $(STAMP) data

$(STAMP): requirements.lock setup.py scripts/setup-venv.sh
	scripts/setup-venv.sh $(VENV)
	rm -f $(VENV)/.installed-* && touch $@

data: $(STAMP)
	scripts/get-data.sh

run: setup
	$(VENV)/bin/fashion-tfx run $(if $(PROFILE),--profile $(PROFILE)) $(ARGS)

# basedpyright (pyrightconfig.json) checks that a static analyser resolves every import against .venv.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/basedpyright --level error

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: setup lint audit
	$(VENV)/bin/python -m pytest -m "not slow" $(ARGS)

# The edit-test loop: every test that does not run the pipeline (marker `pipeline`), on two pytest-xdist
# workers: about 2 minutes on 2 idle cores, 3 when another job holds a core. `--dist loadscope` keeps a
# module's tests on one worker, so its module-scoped fixtures are built once; `ARGS="-n 0"` runs serially.
# No lint or audit: `make test` (CI) runs those and the whole suite.
test-fast: setup
	$(VENV)/bin/python -m pytest -n 2 --dist loadscope -m "not slow and not pipeline" $(ARGS)

# The slowest crash case (SIGKILL during the Trainer, then resume), kept out of `make test`.
test-crash: setup
	$(VENV)/bin/python -m pytest -m slow tests/reliability $(ARGS)

# The parsers at the input boundary fuzzed at length: 20,000 fresh random examples per parser (IDX, PNG
# checks, TFRecord framing, catalogue schema, REST answers); `make test` runs the same tests briefly.
fuzz: setup
	FASHION_TFX_FUZZ=long $(VENV)/bin/python -m pytest tests/reliability/test_fuzz_parsers.py $(ARGS)

# Dependency audit of the pinned lock: pip-audit --strict against the vendored PyPA advisory snapshot,
# served on loopback (no network needed). Fails on any finding not listed in security/accepted-findings.yaml.
audit: $(STAMP)
	$(VENV)/bin/python -m security.audit --lock requirements.lock

# The same pins against pip-audit's live services (needs the network; --strict fails if unreachable).
audit-online: $(STAMP)
	@$(VENV)/bin/pip-audit -r requirements.lock --no-deps --disable-pip --strict --progress-spinner off \
	  || { echo "make audit-online: FAILED: a known vulnerability was found, or pip-audit could not query" \
	       "its vulnerability service for every pinned package; see above" >&2; exit 1; }

bench: setup
	$(VENV)/bin/python -m bench.run --quick $(ARGS)

# Regenerates both locks (needs uv: `pip install uv`): the image's runtime lock, then the dev lock on top
# of it (the same pins, plus the test, lint and audit tools) that `make setup` installs.
LOCK_TARGET := --python-version 3.10 --python-platform x86_64-manylinux_2_28
lock:
	uv pip compile requirements-runtime.in $(LOCK_TARGET) -o requirements-runtime.lock
	uv pip compile requirements.in -c requirements-runtime.lock $(LOCK_TARGET) -o requirements.lock

clean:
	rm -rf $(VENV) runs .pytest_cache
