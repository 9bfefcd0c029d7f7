# glocal — one Makefile drives everything. `make help` lists the targets.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SCALE ?= laptop
NB ?=
PARAMS ?=
export PYTHONHASHSEED := 0

GRIDS ?= $(HOME)/glocal-grids
RUNS ?= $(HOME)/glocal-runs

.PHONY: help setup lint test book chapter html data bench clean distclean check-html real-stars realstars-grid \
	observed-runs realstars-carbon-grid realstars-alpha-grid alpha-runs carbon-runs carbon-narrow-runs real-star-systematics realstars-emp-grid \
	emp-runs realstars-damping-grid damping-runs realstars-overshoot-grid overshoot-runs overshoot-table

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

setup: $(BIN)/python  ## create .venv and install glocal (editable) with pinned dependencies
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/python -c "import glocal, torch, pysme; print('glocal', glocal.__version__, '| torch', torch.__version__)"

lint:  ## ruff check of the package, scripts, benchmarks, notebooks and tests
	$(BIN)/ruff check glocal scripts benchmarks notebooks tests

test:  ## run the test suite
	$(BIN)/python -m pytest -q

book:  ## execute every chapter with papermill at SCALE (ci|laptop|paper) and build the HTML
	$(BIN)/python scripts/execute_book.py --scale $(SCALE)
	$(MAKE) html

chapter:  ## re-execute one chapter: make chapter NB=05_results SCALE=ci PARAMS="-p seed 1"
	$(BIN)/python scripts/execute_book.py --scale $(SCALE) --only $(NB) $(PARAMS)
	@if $(BIN)/python scripts/execute_book.py --missing; then $(MAKE) html; else \
	  echo "book/chapters/$(NB).ipynb is executed; the HTML needs every chapter: run 'make book SCALE=$(SCALE)' once"; fi

html:  ## build the HTML from the executed notebooks (execution off); fails when a glued number cannot be shown
	mkdir -p book/_build
	set -o pipefail; $(BIN)/jupyter-book build . --path-output book --builder html 2>&1 | tee book/_build/build.log
	@if grep -q "mystnb.glue" book/_build/build.log; then grep "mystnb.glue" book/_build/build.log; \
	  echo "book: the glued values above could not be formatted, so they are missing from the pages"; exit 1; fi
	@echo "book: book/_build/html/index.html"

check-html:  ## open every built page in headless Chromium and check its figures load
	$(BIN)/python scripts/check_html.py book/_build/html

data:  ## rebuild the committed runtime data in glocal/data from ../shared/data
	$(BIN)/python scripts/build_data.py
	$(BIN)/python scripts/build_physics_data.py
	$(BIN)/python scripts/build_real_stars.py

real-stars:  ## rebuild glocal/data/real_stars (9 real metal-poor stars) from ../shared/data/real_spectra
	$(BIN)/python scripts/build_real_stars.py

realstars-grid:  ## build the grid for real stars (32 000 spectra, ~35 min on 2 cores; resumable) into GRIDS
	mkdir -p $(GRIDS)
	$(BIN)/glocal grid build --preset realstars --out $(GRIDS)/realstars-r40000.h5 --workers 2 \
	  --engine-option resolution=40000 --engine-option threshold=1e-3

realstars-carbon-grid:  ## the realstars atmospheres and O/Mg draws with [C/Fe] -0.5..1.2 per spectrum (~60 min; resumable)
	mkdir -p $(GRIDS)
	$(BIN)/glocal grid build --preset realstars-carbon --out $(GRIDS)/realstars-carbon-r40000.h5 --workers 2 \
	  --engine-option resolution=40000 --engine-option threshold=1e-3

realstars-alpha-grid:  ## the realstars atmospheres and O/Mg draws with Ne, Si, S, Ar, Ca, Ti at [X/Fe] -0.1..0.6 (~60 min; resumable)
	mkdir -p $(GRIDS)
	$(BIN)/glocal grid build --preset realstars-alpha --out $(GRIDS)/realstars-alpha-r40000.h5 --workers 2 \
	  --engine-option resolution=40000 --engine-option threshold=1e-3

realstars-emp-grid:  ## the realstars box extended to [Fe/H] -5 (2000 atmospheres x 20 = 40 000 spectra, ~45 min; resumable)
	mkdir -p $(GRIDS)
	$(BIN)/glocal grid build --preset realstars-emp --out $(GRIDS)/realstars-emp-r40000.h5 --workers 2 \
	  --engine-option resolution=40000 --engine-option threshold=1e-3

emp-runs:  ## train a normalized run on the [Fe/H] -5..-1 grid into RUNS/emp (resumable) and judge it (emp_runs.json)
	mkdir -p $(RUNS)/emp
	OMP_NUM_THREADS=2 $(BIN)/glocal train-observed --grid $(GRIDS)/realstars-emp-r40000.h5 --kind normalized \
	  --out $(RUNS)/emp/observed-normalized --copies 6 --max-epochs 8 > $(RUNS)/emp/train-normalized.log 2>&1
	$(BIN)/python scripts/evaluate_emp_runs.py --grid $(GRIDS)/realstars-emp-r40000.h5 \
	  --run $(RUNS)/emp/observed-normalized --json results/observed/emp_runs.json

realstars-damping-grid:  ## the first 800 realstars-alpha atmospheres with Unsoeld damping x1.35 (ABO median; ~40 min; resumable)
	mkdir -p $(GRIDS)
	$(BIN)/glocal grid build --preset realstars-alpha --out $(GRIDS)/realstars-alpha-abo-r40000.h5 --workers 2 \
	  --engine-option resolution=40000 --engine-option threshold=1e-3 --engine-option unsold_enhancement=1.35 \
	  --limit 800

damping-runs:  ## fine-tune both shipped runs on the widened-damping grid into RUNS/damping (3 epochs) and judge them (damping_runs.json)
	mkdir -p $(RUNS)/damping
	for k in normalized calibrated; do OMP_NUM_THREADS=1 $(BIN)/glocal train-observed \
	  --grid $(GRIDS)/realstars-alpha-abo-r40000.h5 --kind $$k --out $(RUNS)/damping/observed-$$k --copies 6 \
	  --init-from glocal/data/pretrained/observed-$$k --max-epochs 3 --lr 1.5e-4 --lr-step 1 \
	  > $(RUNS)/damping/train-$$k.log 2>&1 & done; wait
	$(BIN)/python scripts/evaluate_damping_runs.py --grid $(GRIDS)/realstars-alpha-abo-r40000.h5 \
	  --runs $(RUNS)/damping --json results/observed/damping_runs.json

overshoot-table:  ## rebuild glocal/data/overshoot_correction.csv from the ODFNEW solar model in ../shared/data
	$(BIN)/python scripts/build_overshoot_table.py

realstars-overshoot-grid:  ## the first 800 realstars atmospheres without the grid's overshooting (solar ODFNEW differential; ~40 min; resumable)
	mkdir -p $(GRIDS)
	$(BIN)/glocal grid build --preset realstars --out $(GRIDS)/realstars-nover-r40000.h5 --workers 2 \
	  --engine-option resolution=40000 --engine-option threshold=1e-3 --engine-option structure_correction=nover-solar \
	  --limit 800

overshoot-runs:  ## fine-tune both shipped runs on the grid without overshooting into RUNS/overshoot (3 epochs) and judge them (overshoot_runs.json)
	mkdir -p $(RUNS)/overshoot
	for k in normalized calibrated; do OMP_NUM_THREADS=1 $(BIN)/glocal train-observed \
	  --grid $(GRIDS)/realstars-nover-r40000.h5 --kind $$k --out $(RUNS)/overshoot/observed-$$k --copies 6 \
	  --init-from glocal/data/pretrained/observed-$$k --max-epochs 3 --lr 1.5e-4 --lr-step 1 \
	  > $(RUNS)/overshoot/train-$$k.log 2>&1 & done; wait
	$(BIN)/python scripts/recalibrate_observed.py --run $(RUNS)/overshoot/observed-calibrated \
	  --grid $(GRIDS)/realstars-nover-r40000.h5
	$(BIN)/python scripts/evaluate_overshoot_runs.py --grid $(GRIDS)/realstars-nover-r40000.h5 \
	  --runs $(RUNS)/overshoot --json results/observed/overshoot_runs.json

alpha-runs:  ## fine-tune both shipped runs on the realstars-alpha grid into RUNS/alpha (3 epochs; resumable) and judge them (alpha_runs.json)
	mkdir -p $(RUNS)/alpha
	for k in normalized calibrated; do OMP_NUM_THREADS=1 $(BIN)/glocal train-observed \
	  --grid $(GRIDS)/realstars-alpha-r40000.h5 --kind $$k --out $(RUNS)/alpha/observed-$$k --copies 6 \
	  --init-from glocal/data/pretrained/observed-$$k --max-epochs 3 --lr 1.5e-4 --lr-step 1 \
	  > $(RUNS)/alpha/train-$$k.log 2>&1 & done; wait
	$(BIN)/python scripts/evaluate_alpha_runs.py --grid $(GRIDS)/realstars-alpha-r40000.h5 --runs $(RUNS)/alpha \
	  --json results/observed/alpha_runs.json

carbon-runs:  ## train both observed runs on the carbon grid into RUNS/carbon (not shipped) and write their record
	mkdir -p $(RUNS)/carbon
	for k in normalized calibrated; do OMP_NUM_THREADS=1 $(BIN)/glocal train-observed \
	  --grid $(GRIDS)/realstars-carbon-r40000.h5 --kind $$k --out $(RUNS)/carbon/observed-$$k --copies 6 \
	  --max-epochs 8 > $(RUNS)/carbon/train-$$k.log 2>&1 & done; wait
	$(BIN)/python scripts/evaluate_carbon_runs.py --grid $(GRIDS)/realstars-carbon-r40000.h5 --runs $(RUNS)/carbon \
	  --json results/observed/carbon_runs.json

carbon-narrow-runs:  ## the same with a narrower [C/Fe] prior (core -0.5..+0.5, 1/4 of the tail; not shipped) and its record
	mkdir -p $(RUNS)/carbon-narrow
	$(BIN)/python scripts/narrow_carbon_grid.py --grid $(GRIDS)/realstars-carbon-r40000.h5 \
	  --out $(GRIDS)/realstars-carbon-narrow.h5
	for k in normalized calibrated; do OMP_NUM_THREADS=1 $(BIN)/glocal train-observed \
	  --grid $(GRIDS)/realstars-carbon-narrow.h5 --kind $$k --out $(RUNS)/carbon-narrow/observed-$$k --copies 6 \
	  --max-epochs 8 > $(RUNS)/carbon-narrow/train-$$k.log 2>&1 & done; wait
	$(BIN)/python scripts/evaluate_carbon_runs.py --grid $(GRIDS)/realstars-carbon-r40000.h5 \
	  --train-grid $(GRIDS)/realstars-carbon-narrow.h5 --runs $(RUNS)/carbon-narrow \
	  --prior "[C/Fe] flat in -0.5..+0.5, 1/4 as dense in +0.5..+1.2 (scripts/narrow_carbon_grid.py)" \
	  --json results/observed/carbon_runs_narrow.json

real-star-systematics:  ## measure the shipped runs' and the fit's real-star terms (predict/fit _std_real columns)
	$(BIN)/python scripts/real_star_systematics.py

observed-runs:  ## train both observed-spectra runs on the realstars grid (resumable), export, evaluate afresh
	mkdir -p $(RUNS)
	for k in normalized calibrated; do OMP_NUM_THREADS=1 $(BIN)/glocal train-observed \
	  --grid $(GRIDS)/realstars-r40000.h5 --kind $$k --out $(RUNS)/observed-$$k --copies 6 --max-epochs 8 \
	  > $(RUNS)/train-$$k.log 2>&1 & done; wait
	$(BIN)/python scripts/export_observed.py --runs $(RUNS) --grid $(GRIDS)/realstars-r40000.h5
	$(BIN)/python scripts/evaluate_observed.py --grid $(GRIDS)/realstars-r40000.h5 \
	  --json results/observed/evaluation.json

.PHONY: workstation-grid engine-references
workstation-grid:  ## build the workstation grid (1937 models x 16 = 30 992 spectra; over an hour on 2 cores; resumable)
	$(BIN)/glocal grid build --preset workstation --out $(GRIDS)/workstation-r40000.h5 --workers 2 \
	  --engine-option resolution=40000 --engine-option threshold=1e-3

engine-references:  ## SPECTRUM and real-star records the engine chapter reads (SPECTRUM: hours; resumable)
	$(BIN)/python scripts/oh_damping.py
	$(BIN)/python scripts/real_residuals.py
	$(BIN)/python scripts/spectrum_crosscheck.py

.PHONY: learning-curves
LC_ARGS ?=  # more options of scripts/learning_curves.py, e.g. LC_ARGS=--dry-run or "--methods xgboost"; the
# network-size axis: LC_ARGS="--methods spt-glocal --configs cpu-large --sizes 1200 5000 all --seeds 0"
learning-curves:  ## learning curves of the five methods on the workstation grid (hours on 2 cores; resumable)
	mkdir -p $(RUNS)
	OMP_NUM_THREADS=2 $(BIN)/python scripts/learning_curves.py --grid $(GRIDS)/workstation-r40000.h5 \
	  --scale workstation --methods xgboost lightgbm catboost spt spt-glocal --bands full optical \
	  --splits random grouped --sizes 300 600 1200 2500 5000 10000 all --grouped-sizes 300 1200 5000 all \
	  --seeds 0 1 --extra-seeds-up-to 2500 --threads 2 --checkpoints $(RUNS)/learning-curves-checkpoints $(LC_ARGS)

bench:  ## run the benchmarks (speed ratios against reference implementations)
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:  ## remove the built book and executed notebooks (keeps the artifact cache)
	rm -rf book/_build book/chapters

distclean: clean  ## also remove the artifact cache and the venv
	rm -rf .cache $(VENV)
