# Collaborative filtering on MovieLens: every run, the lr finder, sweeps, interpretation.
MAIN_DIR = run_dir(COLLAB_MAIN, COLLAB["seeds"][0])


rule train_collab:
    input:
        split=f"{DATA_DIR}/splits/{{split}}.parquet",
        movies=rules.parse_movielens.output.movies,
    output:
        history=per_seed("history.tsv"),
        iterations=per_seed("iterations.parquet"),
        model=per_seed("model.pt"),
    log:
        f"logs/train_collab/{COLLAB_RUNS.wildcard_pattern}.log",
    benchmark:
        f"results/benchmarks/train_collab/{COLLAB_RUNS.wildcard_pattern}.tsv"
    conda:
        "../environment.yml"
    threads: 1 if ML_MILLIONS < 1 else 2
    resources:
        runtime=ml_runtime(30, 3 * COLLAB["model"]["epochs"]),
        mem_mb=ml_mem_mb(1500, 100),
        gpu=1 if COLLAB["model"]["device"] == "cuda" else 0,
    params:
        run=COLLAB_RUNS.instance,
        collab=COLLAB["model"],
        seeds=COLLAB["seeds"],
    script:
        "../workflow/scripts/train_collab.py"


rule collab_lr_find:
    input:
        split=f"{DATA_DIR}/splits/random.parquet",
        movies=rules.parse_movielens.output.movies,
    output:
        table="results/collab/lr_find.tsv",
        plot=report(
            "results/collab/lr_find.png",
            caption="../workflow/report/collab_lr_find.rst",
            category="Collaborative filtering",
            labels={"figure": "lr finder"},
        ),
    log:
        "logs/collab_lr_find.log",
    benchmark:
        "results/benchmarks/collab_lr_find.tsv"
    conda:
        "../environment.yml"
    threads: 1 if ML_MILLIONS < 1 else 2
    resources:
        runtime=ml_runtime(10, 1),
        mem_mb=ml_mem_mb(1500, 100),
    params:
        collab=COLLAB["model"],
        seed=config["seed"],
        lr_find=COLLAB["lr_find"],
    script:
        "../workflow/scripts/collab_lr_find.py"


rule plot_collab_main:
    input:
        history=f"{MAIN_DIR}/history.tsv",
        iterations=f"{MAIN_DIR}/iterations.parquet",
    output:
        table=report(
            "results/collab/main/epochs.tsv",
            caption="../workflow/report/collab_epochs.rst",
            category="Collaborative filtering",
            labels={"figure": "main run: per-epoch table"},
        ),
        curve=report(
            "results/collab/main/loss_curve.png",
            caption="../workflow/report/collab_loss_curve.rst",
            category="Collaborative filtering",
            labels={"figure": "main run: loss curve"},
        ),
        schedule=report(
            "results/collab/main/schedule.png",
            caption="../workflow/report/collab_schedule.rst",
            category="Collaborative filtering",
            labels={"figure": "main run: 1cycle schedule"},
        ),
    log:
        "logs/plot_collab_main.log",
    benchmark:
        "results/benchmarks/plot_collab_main.tsv"
    conda:
        "../environment.yml"
    resources:
        runtime=5,
        mem_mb=ml_mem_mb(1000, 20),
    params:
        settings=COLLAB["model"],
    script:
        "../workflow/scripts/plot_collab_main.py"


rule interpret_collab:
    input:
        model=f"{MAIN_DIR}/model.pt",
        split=f"{DATA_DIR}/splits/random.parquet",
        movies=rules.parse_movielens.output.movies,
    output:
        biases=report(
            "results/collab/interpret/item_biases.tsv",
            caption="../workflow/report/collab_biases.rst",
            category="Collaborative filtering",
            labels={"figure": "item biases"},
        ),
        pca=report(
            "results/collab/interpret/pca_ends.tsv",
            caption="../workflow/report/collab_pca.rst",
            category="Collaborative filtering",
            labels={"figure": "PCA of item factors"},
        ),
        scatter=report(
            "results/collab/interpret/pca_scatter.png",
            caption="../workflow/report/collab_scatter.rst",
            category="Collaborative filtering",
            labels={"figure": "PCA scatter"},
        ),
    log:
        "logs/interpret_collab.log",
    benchmark:
        "results/benchmarks/interpret_collab.tsv"
    conda:
        "../environment.yml"
    resources:
        runtime=ml_runtime(5, 0.2),
        mem_mb=ml_mem_mb(1000, 60),
    params:
        **COLLAB["interpret"],
    script:
        "../workflow/scripts/interpret_collab.py"


rule aggregate_collab:
    input:
        histories=[path for _, path in collab_run_records()],
    output:
        runs="results/collab/runs.tsv",
        baselines=report(
            "results/collab/baselines.tsv",
            caption="../workflow/report/collab_baselines.rst",
            category="Collaborative filtering",
            labels={"figure": "baselines"},
        ),
    log:
        "logs/aggregate_collab.log",
    benchmark:
        "results/benchmarks/aggregate_collab.tsv"
    conda:
        "../environment.yml"
    resources:
        runtime=5,
        mem_mb=1000,
    params:
        runs=[run for run, _ in collab_run_records()],
    script:
        "../workflow/scripts/aggregate_collab.py"


rule collab_sweep:
    input:
        runs=rules.aggregate_collab.output.runs,
    output:
        table="results/collab/sweep_{sweep}.tsv",
        plot=report(
            "results/collab/sweep_{sweep}.png",
            caption="../workflow/report/collab_sweep.rst",
            category="Collaborative filtering",
            labels={"figure": "{sweep} sweep"},
        ),
        edges="results/collab/sweep_{sweep}_edges.tsv",
    log:
        "logs/collab_sweep/{sweep}.log",
    benchmark:
        "results/benchmarks/collab_sweep/{sweep}.tsv"
    wildcard_constraints:
        sweep="n_factors|wd",
    conda:
        "../environment.yml"
    resources:
        runtime=5,
        mem_mb=1000,
    params:
        base=COLLAB["model"],
    script:
        "../workflow/scripts/collab_tables.py"


rule collab_table:
    input:
        runs=rules.aggregate_collab.output.runs,
    output:
        report(
            "results/collab/{table}.tsv",
            caption="../workflow/report/collab_table.rst",
            category="Collaborative filtering",
            labels={"figure": "{table}"},
        ),
    log:
        "logs/collab_table/{table}.log",
    benchmark:
        "results/benchmarks/collab_table/{table}.tsv"
    wildcard_constraints:
        table="bias_wd|folds",
    conda:
        "../environment.yml"
    resources:
        runtime=5,
        mem_mb=1000,
    script:
        "../workflow/scripts/collab_tables.py"


rule collab:
    input:
        rules.collab_lr_find.output,
        rules.plot_collab_main.output,
        rules.interpret_collab.output,
        rules.aggregate_collab.output,
        expand(rules.collab_sweep.output, sweep=COLLAB_SWEEPS),
        expand("results/collab/{table}.tsv", table=COLLAB_TABLES),
