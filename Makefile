# The two commands README names: `make run` and `make test`. Each installs what is missing first.
.PHONY: run test lint bench bootstrap

bootstrap:
	@scripts/bootstrap.sh

run: bootstrap
	@.venv/bin/python -m recast.devstack.run

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy .

test: lint
	.venv/bin/python -m pytest

bench: bootstrap
	.venv/bin/python bench/encode_overhead.py
	.venv/bin/python bench/poll_load.py
