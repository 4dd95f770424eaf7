# Two commands do everything (see README.md):
#   make report   install, run the notebooks with papermill into book/, build the HTML report
#   make test     install, run the library tests and validate the notebooks (pytest --nbval)
# AUDIOGENDER_DATA=path[,path...] points the report at local corpora instead of downloading AudioMNIST.

PYTHON ?= python3
TORCH ?= torch==2.13.0
# candidates the search fits in parallel
SEARCH_JOBS ?= 2
VENV ?= .venv
BIN := $(VENV)/bin
PAPERMILL := $(BIN)/papermill -k python3 --cwd notebooks
DATA_PARAM := $(if $(AUDIOGENDER_DATA),-p data_dir "$(AUDIOGENDER_DATA)",)

.PHONY: install test report notebooks book model clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned, so the resolver does not pull a newer build with gigabytes of GPU libraries
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[notebooks,test]"
	# the voice2gender baseline, without its unsatisfiable xgboost>=3.4.1 pin (see pyproject.toml)
	$(BIN)/python -m pip install --quiet --no-deps "voice2gender==0.1.1"

test: install
	$(BIN)/python -m pytest --nbval

notebooks: install
	mkdir -p book outputs
	$(PAPERMILL) notebooks/01_preprocess.ipynb book/01_preprocess.ipynb $(DATA_PARAM)
	$(PAPERMILL) notebooks/02_split.ipynb book/02_split.ipynb $(DATA_PARAM)
	$(PAPERMILL) notebooks/03_search.ipynb book/03_search.ipynb $(DATA_PARAM) -p n_jobs $(SEARCH_JOBS)
	$(PAPERMILL) notebooks/04_train.ipynb book/04_train_seed.ipynb $(DATA_PARAM) -p recipe seed
	$(PAPERMILL) notebooks/04_train.ipynb book/04_train_searched.ipynb $(DATA_PARAM) -p params_from latest
	$(PAPERMILL) notebooks/04_train.ipynb book/04_train.ipynb $(DATA_PARAM) -p recipe default
	$(PAPERMILL) notebooks/05_evaluate.ipynb book/05_evaluate.ipynb $(DATA_PARAM)
	$(PAPERMILL) notebooks/06_predict.ipynb book/06_predict.ipynb

book:
	$(BIN)/jupyter-book build --quiet .
	@echo "report: $(CURDIR)/_build/html/index.html"

report: notebooks book

# Retrain the model shipped in the package on every voice in ../shared/data (see book/model_card.md):
# every speaker but a speaker-disjoint fifth, kept for early stopping and calibration.
SHIP_DATA ?= ../shared/data/audiomnist-az,../shared/data/librispeech-251,../shared/data/audiomnist-sample,../shared/data/samples
model: install
	$(PAPERMILL) notebooks/01_preprocess.ipynb /dev/null -p data_dir "$(SHIP_DATA)"
	$(PAPERMILL) notebooks/02_split.ipynb /dev/null -p data_dir "$(SHIP_DATA)" -p n_folds 5 -p splits_file outputs/shipped/splits.json
	$(PAPERMILL) notebooks/04_train.ipynb book/04_train_shipped.ipynb -p data_dir "$(SHIP_DATA)" -p recipe default -p splits_file outputs/shipped/splits.json -p outputs_dir outputs/shipped -p fold all
	run="$$(ls -d outputs/shipped/run_* | sort -t_ -k2 -n | tail -1)"; \
	cp "$$run/model.pt" lib/audiogender/assets/cnn.pt && cp "$$run/model.onnx" lib/audiogender/assets/cnn.onnx

clean:
	rm -rf _build .nbtest
