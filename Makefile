# Two commands do everything (see README.md):
#   make report   install, check the data, run the notebooks with papermill, build the HTML report
#   make test     install, run the library tests and validate the notebooks (pytest --nbval)
# AUDIOGENDER_DATA=path[,path...] points the report at local corpora instead of downloading AudioMNIST.

PYTHON ?= python3
# torch: where no NVIDIA GPU is present, the CPU build from PyTorch's own index (plain PyPI's build brings gigabytes
# of CUDA libraries a CPU never uses). Override both for another build, e.g. make install TORCH=torch==2.13.0 TORCH_INDEX=
HAS_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
TORCH_VERSION := 2.13.0
# Where PyTorch's index cannot be reached (a machine that sees only PyPI), pip would retry it five times for every
# package; then torch comes from PyPI at once.
CPU_INDEX_REACHABLE := $(shell $(PYTHON) -c "import socket; socket.create_connection(('download.pytorch.org', 443), 3)" >/dev/null 2>&1 && echo yes)
CPU_TORCH := $(if $(HAS_GPU),,$(CPU_INDEX_REACHABLE))
TORCH ?= $(if $(CPU_TORCH),torch==$(TORCH_VERSION)+cpu,torch==$(TORCH_VERSION))
TORCH_INDEX ?= $(if $(CPU_TORCH),--extra-index-url https://download.pytorch.org/whl/cpu,)
# candidates the search fits in parallel
SEARCH_JOBS ?= 2
VENV ?= .venv
BIN := $(VENV)/bin
BUILD := _build/notebooks
# progress bars are off inside the notebooks (each update would be an output box in the report), and so papermill's own;
# instead papermill logs each cell as it starts and what it prints (folds, epochs, timings)
PAPERMILL := TQDM_DISABLE=1 $(BIN)/papermill -k python3 --cwd notebooks --log-output
DATA_PARAM := $(if $(AUDIOGENDER_DATA),-p data_dir "$(AUDIOGENDER_DATA)",)

# $(call chapter,NOTEBOOK,CHAPTER,PARAMETERS): run a notebook into the build folder, and only once it has run to its end,
# make it the report's chapter, so a failed or interrupted run never leaves a half-executed chapter in book/
define chapter
	@echo "== $(2)"
	@mkdir -p $(BUILD) outputs
	$(PAPERMILL) notebooks/$(1).ipynb $(BUILD)/$(2).ipynb $(3)
	@mv $(BUILD)/$(2).ipynb book/$(2).ipynb
endef

.PHONY: install browser test report data notebooks book model clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned, and the CPU build where there is no GPU (see TORCH above)
	$(BIN)/python -m pip install --quiet $(TORCH_INDEX) "$(TORCH)" || { \
	  echo "make install: $(TORCH) could not be installed (is download.pytorch.org reachable?); torch from PyPI instead"; \
	  $(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"; }
	$(BIN)/python -m pip install --quiet -e ".[notebooks,test,serve,cluster]"
	# two packages whose own dependencies get in the way, installed --no-deps (see pyproject.toml):
	# the voice2gender baseline (it pins an xgboost PyPI lacks), and Resemblyzer, for its encoder's weights only
	$(BIN)/python -m pip install --quiet --no-deps "voice2gender==0.1.1" "resemblyzer==0.1.4"

# Debian's chromium and its driver, for the tests of the web page (tests/test_web.py) and tools/check_report.py
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; } \
	  || echo "make browser: could not install chromium (not Debian/Ubuntu, or no root): the browser tests will be skipped"

test: install browser
	$(BIN)/python -m pytest --nbval

# the corpus, downloaded if need be; without it, one line says what to do
data: install
	$(BIN)/python -m audiogender.lab data $(AUDIOGENDER_DATA)

notebooks: data
	$(call chapter,01_preprocess,01_preprocess,$(DATA_PARAM))
	$(call chapter,02_split,02_split,$(DATA_PARAM))
	$(call chapter,03_search,03_search,$(DATA_PARAM) -p n_jobs $(SEARCH_JOBS))
	$(call chapter,04_train,04_train_seed,$(DATA_PARAM) -p recipe seed)
	$(call chapter,04_train,04_train_searched,$(DATA_PARAM) -p params_from latest)
	$(call chapter,04_train,04_train,$(DATA_PARAM) -p recipe default)
	$(call chapter,05_evaluate,05_evaluate,$(DATA_PARAM))
	$(call chapter,06_predict,06_predict,)

book:
	$(BIN)/jupyter-book build --quiet .
	@echo "report: $(CURDIR)/_build/html/index.html"

report: notebooks book

# Retrain the models shipped in the package on every voice in ../shared/data (see the model card): each on every
# speaker but a speaker-disjoint fifth, kept for early stopping and calibration. SHIP_FOLDERS without nemo and urdu
# trains models free of their non-commercial and research-only terms.
SHIP_FOLDERS ?= audiomnist-az librispeech-251 audiomnist-sample samples nemo baved urdu telephone-8k ukrainian-digits voxceleb-sample
empty :=
comma := ,
SHIP_DATA := $(subst $(empty) $(empty),$(comma),$(addprefix ../shared/data/,$(SHIP_FOLDERS)))
model: install
	@mkdir -p $(BUILD) outputs/shipped
	$(PAPERMILL) notebooks/02_split.ipynb $(BUILD)/ship_split.ipynb -p data_dir "$(SHIP_DATA)" -p n_folds 5 -p splits_file outputs/shipped/splits.json
	$(call chapter,04_train,04_train_shipped,-p data_dir "$(SHIP_DATA)" -p recipe default -p splits_file outputs/shipped/splits.json -p outputs_dir outputs/shipped/cnn -p fold all)
	$(call chapter,04_train,04_train_shipped_encoder,-p data_dir "$(SHIP_DATA)" -p recipe encoder -p splits_file outputs/shipped/splits.json -p outputs_dir outputs/shipped/encoder -p fold all)
	for kind in cnn encoder; do \
	  run="$$(ls -d outputs/shipped/$$kind/run_* | sort -t_ -k2 -n | tail -1)"; \
	  cp "$$run/model.pt" lib/audiogender/assets/$$kind.pt && cp "$$run/model.onnx" lib/audiogender/assets/$$kind.onnx; \
	done

clean:
	rm -rf _build .nbtest
