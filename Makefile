# Two commands do all set-up: `make lab` opens the course, `make test` runs every test.
# Both create the virtual environment ($(VENV), default .venv) when it is missing.
VENV ?= .venv
BIN := $(VENV)/bin
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 300

.PHONY: venv lab test lint unit sections widgets7 notebooks notebooks-alt format execute site student zh zh-status browser clean

venv:
	@bash scripts/ensure_venv.sh

# JupyterLab as root or not, headless or not, on a free port (scripts/lab.py); it prints
# the URL to open. Extra flags for jupyter lab: make lab LAB_ARGS="--port=9999".
lab: venv
	$(BIN)/python scripts/lab.py $(LAB_ARGS)

test: venv lint unit sections widgets7 notebooks notebooks-alt

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: venv
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --ignore=tests/catalogues/test_sections_fresh.py tests/

# The core path and each teaching session that starts inside a notebook, in fresh kernels
# (preamble + those sections, issue 17); slow enough to be a target of its own.
sections: venv
	OMP_NUM_THREADS=1 COURSE_MODE=FAST $(BIN)/python -m pytest -q -n 2 tests/catalogues/test_sections_fresh.py

# The widget tests again under ipywidgets 7.7.1, what Colab ships (`make unit` runs them under
# the venv's 8.x). ipywidgets 7 is pure Python: it goes into $(IPYW7), ahead of the venv on
# PYTHONPATH; torch and the rest come from the venv.
IPYW7 ?= build/ipywidgets7
IPYW7_SPEC := ipywidgets==7.7.1 ipython_genutils==0.2.0
WIDGET_TESTS = tests/views/test_widgets.py tests/catalogues/test_bad_inputs_widgets.py $(wildcard tests/exercises/test_quiz*.py)

widgets7: venv
	@if [ "$$(cat $(IPYW7)/.spec 2>/dev/null)" != "$(IPYW7_SPEC)" ]; then \
	  rm -rf $(IPYW7) && $(BIN)/python -m pip install -q --no-deps --target $(IPYW7) $(IPYW7_SPEC) \
	  && echo "$(IPYW7_SPEC)" > $(IPYW7)/.spec; fi
	COURSE_IPYWIDGETS=7 PYTHONPATH=$(IPYW7) OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 \
	  -W ignore::DeprecationWarning $(WIDGET_TESTS)

# conftest.py keeps nbval from losing output messages on a loaded machine (see its docstring).
# The English notebooks on this machine's own numerical path.
notebooks: venv
	OMP_NUM_THREADS=1 COURSE_MODE=FAST $(BIN)/python -m pytest -q -n 2 --dist loadfile $(NBVAL) --ignore=notebooks/zh notebooks/

# Strict nbval on a second numerical path: ATen's kernels one instruction set below this
# machine's own (AVX-512 -> AVX2, AVX2 -> scalar; scripts/second_path.py picks and prints it).
# Seeded training follows another trajectory here, as on another CPU, so a stored output that
# depends on kernel order fails this run. tests/catalogues/test_numerical_paths.py shows that
# the path changes a training run on this machine.
# It runs the Chinese notebooks (notebooks/zh/, kernels with COURSE_LANG=zh: conftest.py), whose
# code cells are the English ones (tests/course/test_zh_sync.py), so every notebook's code runs
# on both paths and each edition is checked once.
notebooks-alt: venv
	path="$$($(BIN)/python scripts/second_path.py)" && env $$path OMP_NUM_THREADS=1 COURSE_MODE=FAST $(BIN)/python -m pytest -q -n 2 --dist loadfile $(NBVAL) notebooks/zh/

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-run every notebook in place in FAST mode (authors only: review the diff before committing).
execute: venv
	COURSE_MODE=FAST $(BIN)/python scripts/execute_notebooks.py notebooks/*.ipynb

# The course site in build/site/ (Sphinx + MyST-NB + sphinx-book-theme, site/conf.py): every
# notebook with its stored outputs (nothing executed), offline search, launch buttons.
site: venv
	$(BIN)/python scripts/build_site.py

# The Chinese edition (issue 21, scripts/zh.py). `make zh-status` lists the Markdown cells whose
# translation in notebooks/zh/NN.yaml is missing or stale, with the English diff (exit 1 if any);
# `make zh` writes notebooks/zh/NN_*.ipynb (the English code cells, the translated Markdown) and
# executes the ones it wrote in FAST mode with COURSE_LANG=zh. ZH="04 05" limits both.
zh: venv
	$(BIN)/python scripts/zh.py build $(ZH)

zh-status: venv
	$(BIN)/python scripts/zh.py status $(ZH)

# A copy for a class in build/student/: no reference solutions, exercise outputs cleared.
student: venv
	$(BIN)/python scripts/student_edition.py

# Debian's Chromium for tests/catalogues/test_browser.py (skipped without it, except under CI).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium)

clean:
	rm -rf build .pytest_cache
