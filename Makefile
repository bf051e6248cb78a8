# feedpulse — two commands on a fresh machine: `make demo` and `make test`.
# Heavy installs (venv, Kafka jars, converted LLM) are cached under $(CACHE),
# keyed by hashes of what defines them; deploy/setup.sh is fast when cached.

CACHE ?= $(or $(FEEDPULSE_CACHE_DIR),$(HOME)/.cache/feedpulse)
VENV := $(CACHE)/current/venv
PY := $(VENV)/bin/python
export FEEDPULSE_CACHE_DIR := $(CACHE)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup test test-unit lint demo stop bench clean-run

setup:
	bash deploy/setup.sh

## make test: set up, lint, then every test (unit and the slow integration tests).
test: setup lint
	$(PY) -m pytest -p no:cacheprovider tests

## make test-unit: only the fast tests (no broker, models or vLLM needed beyond the venv).
test-unit: setup
	$(PY) -m pytest -p no:cacheprovider -m "not slow" tests

lint: setup
	$(VENV)/bin/ruff check ingest index rag serve tests bench deploy
	$(VENV)/bin/ruff format --check ingest index rag serve tests bench deploy

## make demo: broker + vLLM + ingest/API, replays real posts, prints the URL and an answer.
demo: setup
	$(VENV)/bin/feedpulse demo

stop:
	-$(VENV)/bin/feedpulse llm stop
	-$(VENV)/bin/feedpulse kafka stop

## make bench: the CPU benchmarks (about 30 min on 2 cores); each writes bench/results/<name>.json.
bench: setup
	$(PY) bench/embedding_throughput.py
	$(PY) bench/int8_variants.py
	$(PY) bench/ingest_rate.py
	$(PY) bench/freshness.py --all
	$(PY) bench/search_latency.py
	$(PY) bench/retention_memory.py
	$(PY) bench/snapshot_cost.py
