# The two commands README names: `make run` and `make test`. Each installs what is missing first.
.PHONY: run test lint bench bootstrap bootstrap-tests lock

bootstrap:
	@scripts/bootstrap.sh

# The tests also need node, chromium and the tests' npm packages (browser and tus-js-client tests).
bootstrap-tests:
	@scripts/bootstrap.sh --tests

run: bootstrap
	@.venv/bin/python -m recast.devstack.run

lint: bootstrap-tests
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy .

test: lint
	.venv/bin/python -m pytest

bench: bootstrap
	.venv/bin/python bench/encode_overhead.py
	.venv/bin/python bench/poll_load.py

# Regenerate requirements/*.lock, the whole dependency tree with hashes, from pyproject.toml (plus
# requirements/build.in: pip and setuptools). Run it after changing a pin in pyproject.toml, then
# commit the locks; the next `make run`/`make test` installs them. Versions already in a lock are kept
# unless pyproject needs others; `make lock LOCK_FLAGS=--upgrade` moves every transitive pin to the
# newest release. The runtime lock is constrained by the dev one, so the Docker image runs exactly the
# versions the tests ran. Targets this machine's kind: CPython 3.11 on Linux x86_64.
LOCK = .venv/bin/uv pip compile --quiet --generate-hashes --custom-compile-command "make lock" \
	--python-version 3.11 --python-platform x86_64-unknown-linux-gnu $(LOCK_FLAGS)
lock: bootstrap
	$(LOCK) --extra dev pyproject.toml requirements/build.in -o requirements/dev.lock
	$(LOCK) pyproject.toml requirements/build.in -c requirements/dev.lock -o requirements/runtime.lock
