# Two entry points work on a fresh clone with only Python and make:
#   make demo   -- set up .venv and run the demo
#   make test   -- set up .venv and run every test (pytest incl. docs blocks and examples; mypy strict
#                  on src/ and the typing test, which pyright checks too; import-linter's layers)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench docs compat clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[etcd]" pytest pytest-timeout hypothesis mypy types-PyYAML "pyright[nodejs]" "import-linter>=2.1" "jsonschema>=4.18" \
	  fastapi httpx httpx2 uvicorn "prometheus-client>=0.17" gunicorn uvicorn-worker django "cryptography>=42"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m livesettings demo

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; \
	  if [ $$rc -ne 0 ]; then exit $$rc; fi
	$(PY) -m mypy
	$(VENV)/bin/pyright --pythonpath $(PY) tests/typing/api.py
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) -m pip install --quiet dynaconf omegaconf watchfiles
	$(PY) -m bench

# pydantic-settings' own test suite with BaseSettings rebound to ReloadableSettings (compat/run.py):
# downloads the pinned sdist into .compat/, prints "N passed / M baseline", fails on an unlisted difference.
compat: $(STAMP)
	$(PY) compat/run.py

docs: $(STAMP)
	$(PY) -m pip install --quiet "mkdocs-material>=9" "mkdocstrings[python]>=0.25"
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .compat
