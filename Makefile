# Two entry points: `make run` (the pipeline) and `make test` (the whole suite). Each builds .venv first.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CORES ?= 8
# pytest workers: the end-to-end tests mostly wait on process start-up and imports, so two workers
# keep two cores busy (a third was no faster: docs/benchmarks.md, "Tests and CI"); --dist loadfile
# keeps a file's tests, and its module fixtures, on one worker
TEST_WORKERS ?= 2
ARGS ?=

.PHONY: venv run test report dryrun lint fmt clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) $(ARGS)

test: $(STAMP)
	$(BIN)/pytest -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile $(ARGS)

report: $(STAMP)
	$(BIN)/snakemake --report results/report.zip $(ARGS)

dryrun: $(STAMP)
	$(BIN)/snakemake -n --quiet rules $(ARGS)

lint: $(STAMP)
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile rules/

fmt: $(STAMP)
	$(BIN)/snakefmt Snakefile rules/

clean:
	rm -rf results logs .snakemake
