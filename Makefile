# Everything installs on first use into .venv; nothing but python3, make and apt-get is assumed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat constraints.txt pyproject.toml | sha1sum | cut -c1-12)
CODE := core features training serving recall uplift artifact monitoring ops cycle winback
DEMO_DIR := .winback/demo
CAMPAIGN_DATE := 2025-12-01
CAMPAIGN_ID := demo-2025-12-01
DAILY_DIR := .winback/daily
DAILY_FROM := 2025-08-01
DAILY_DAYS := 21
DAILY_CATCH_UP := 2025-12-01
DAILY_EFFECT := --window-days 14 --uplift vip_call_back=0.15 --uplift at_risk_coupon=0.10 --seed 3

.PHONY: install system-deps demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark,fleet]'
	rm -f $(VENV)/.installed-* && touch $@

# Java runs local Spark (tests and --engine spark); Chromium renders the monitor's HTML report
# in a test (driven by Playwright, which is told to use this browser, not to download its own);
# redis-server and PostgreSQL are the fleet tests' shared store and registry database (started
# by the tests on loopback ports, never as system services). All from Debian, if missing.
system-deps:
	@command -v java >/dev/null 2>&1 || { \
	  echo "installing Java 17 for Spark"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless; }
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Chromium for the report's browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing redis-server for the shared online store's tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }
	@compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || { \
	  echo "installing PostgreSQL for the tracking server's tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

# The synthetic log runs to 2026-01-01: the campaign goes out on 2025-12-01 from features as of
# that day, a known effect is planted in the following 28 days, and the review must find it.
demo: install
	@echo "== synthetic app log: generate, validate, train, materialize, score, recall, review"
	$(BIN)/winback generate --users 20000 --days 365 --seed 7 --out $(DEMO_DIR)/data
	$(BIN)/winback validate --config configs/demo.yaml
	$(BIN)/winback train --config configs/demo.yaml
	$(BIN)/winback materialize --config configs/demo.yaml --cutoff $(CAMPAIGN_DATE)
	$(BIN)/winback score --config configs/demo.yaml --out $(DEMO_DIR)/scores.parquet
	$(BIN)/winback recall --config configs/demo.yaml --policy configs/recall.yaml \
	  --scores $(DEMO_DIR)/scores.parquet --out $(DEMO_DIR)/recall.csv
	$(BIN)/winback simulate-campaign --data $(DEMO_DIR)/data --campaign $(DEMO_DIR)/recall.csv \
	  --window-days 28 --uplift vip_call_back=0.15 --uplift at_risk_coupon=0.10 --seed 3
	$(BIN)/winback review --config configs/demo.yaml --campaign $(DEMO_DIR)/recall.csv \
	  --window-days 28
	$(BIN)/winback uplift fit --config configs/demo.yaml --campaign $(DEMO_DIR)/recall.csv \
	  --window-days 28
	@echo "== the daily loop: $(DAILY_DAYS) days of winback cycle from $(DAILY_FROM), the log fed a day at a time"
	$(BIN)/winback generate --users 10000 --days 365 --seed 7 --out $(DAILY_DIR)/generated
	rm -rf $(DAILY_DIR)/feed $(DAILY_DIR)/work
	$(BIN)/winback simulate-feed --data $(DAILY_DIR)/generated --feed $(DAILY_DIR)/feed --until $(DAILY_FROM)
	$(BIN)/winback train --config configs/daily.yaml > $(DAILY_DIR)/train.log
	@for i in $$(seq 0 $$(( $(DAILY_DAYS) - 1 ))); do \
	  day=$$(date -u -I -d "$(DAILY_FROM) + $$i day"); \
	  $(BIN)/winback simulate-feed --data $(DAILY_DIR)/generated --feed $(DAILY_DIR)/feed \
	    --until $$day --outbox $(DAILY_DIR)/work/cycle/outbox $(DAILY_EFFECT) || exit 2; \
	  $(BIN)/winback cycle --config configs/daily.yaml --policy configs/recall.yaml --as-of $$day \
	    || [ $$? -eq 1 ] || exit 2; \
	done
	@echo "== the scheduler resumes on $(DAILY_CATCH_UP): one cycle catches up every review due since"
	$(BIN)/winback simulate-feed --data $(DAILY_DIR)/generated --feed $(DAILY_DIR)/feed \
	  --until $(DAILY_CATCH_UP) --outbox $(DAILY_DIR)/work/cycle/outbox $(DAILY_EFFECT)
	$(BIN)/winback cycle --config configs/daily.yaml --policy configs/recall.yaml --as-of $(DAILY_CATCH_UP)
	@echo "== CDNOW purchase log: validate, train"
	$(BIN)/winback validate --config configs/cdnow.yaml
	$(BIN)/winback train --config configs/cdnow.yaml
	$(BIN)/winback models --config configs/cdnow.yaml
	@echo
	@echo "Results:"
	@echo "  scores:    $(DEMO_DIR)/scores.parquet (every user, as of $(CAMPAIGN_DATE))"
	@echo "  recall:    $(DEMO_DIR)/recall.csv (treatment and control, best first, with why)"
	@echo "  review:    $(DEMO_DIR)/reviews/$(CAMPAIGN_ID)/review.html (planted: vip_call_back +15 pts,"
	@echo "             at_risk_coupon +10 pts, the other strategies none)"
	@echo "  uplift:    $(DEMO_DIR)/uplift/$(CAMPAIGN_ID)/report.html (no Qini beats chance: each planted"
	@echo "             effect is the same for every user of its strategy, so no uplift champion)"
	@echo "  daily:     $(DAILY_DIR)/work/cycle/: outbox/<channel>/<day>.jsonl, contacts.csv, days/<day>/"
	@echo "             (recall.csv, summary.json), reviews/<day>/ and reviews/all/review.html (planted:"
	@echo "             vip_call_back +15 pts, at_risk_coupon +10 pts, each a single visit)"
	@echo "  models:    MLflow at .winback/{demo,cdnow}/mlflow.db; browse with"
	@echo "             $(BIN)/mlflow ui --backend-store-uri sqlite:///.winback/cdnow/mlflow.db"
	@echo "  serve:     $(BIN)/winback serve --config configs/demo.yaml --port 3000"
	@echo "  validation summaries: .winback/*/validation.json, quarantine: .winback/*/quarantine/"

# lint-imports holds the layer order written in pyproject.toml ([tool.importlinter]).
lint: install
	$(BIN)/ruff check $(CODE) tests benchmarks
	$(BIN)/ruff format --check $(CODE) tests benchmarks
	$(BIN)/mypy $(CODE) benchmarks
	$(BIN)/lint-imports

# Two workers: this machine (and CI's) has 2 cores, and `-n auto` would start one per core
# anywhere, each building its own session fixtures (servers, trained templates) while many
# tests already run 2 threads (DuckDB, LightGBM, Spark's local[2]); 2 is what was measured.
# --dist loadfile keeps each file on one worker, so its module fixtures are built once.
# `make test TEST_WORKERS=0` runs in one process; `python -m pytest FILE` needs no -n.
TEST_WORKERS ?= 2
test: install system-deps lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=25

# hey (Debian) is the serving benchmark's independent HTTP client.
bench: install system-deps
	@command -v hey >/dev/null 2>&1 || { \
	  echo "installing hey for the serving benchmark"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hey; }
	$(BIN)/python -m benchmarks

clean:
	rm -rf .winback .pytest_cache .mypy_cache .ruff_cache .hypothesis
