# Collaborative filtering on MovieLens: every run, the lr finder, sweeps, interpretation.
MAIN_DIR = run_dir(COLLAB_MAIN, COLLAB["seeds"][0])


rule train_collab:
    input:
        split=f"{SPLIT_DIR}/{{split}}.parquet",
        movies=rules.parse_movielens.output.movies,
    output:
        history=per_seed("history.tsv"),
        iterations=per_seed("iterations.parquet"),
        model=per_seed("model.pt"),
    log:
        f"{LOGS}/train_collab/{COLLAB_RUNS.wildcard_pattern}.log",
    benchmark:
        f"{BENCH}/train_collab/{COLLAB_RUNS.wildcard_pattern}.tsv"
    conda:
        "../environment.yml"
    threads: 1 if ML_MILLIONS < 1 else 2
    resources:
        runtime=ml_scaled(30, 3 * COLLAB["model"]["epochs"]),
        mem_mb=ml_scaled(1500, 100),
        gpu=1 if COLLAB["model"]["device"] == "cuda" else 0,
    params:
        run=COLLAB_RUNS.instance,
        collab=lambda wc: collab_model_params(COLLAB["model"], wc.model),
        seeds=COLLAB["seeds"],
    script:
        "../workflow/scripts/train_collab.py"


rule collab_lr_find:
    input:
        split=f"{SPLIT_DIR}/random.parquet",
        movies=rules.parse_movielens.output.movies,
    output:
        table=f"{OUT}/collab/lr_find.tsv",
        plot=report(
            f"{OUT}/collab/lr_find.png",
            caption="../workflow/report/collab_lr_find.rst",
            category="Collaborative filtering",
            labels={"figure": "lr finder"},
        ),
    log:
        f"{LOGS}/collab_lr_find.log",
    benchmark:
        f"{BENCH}/collab_lr_find.tsv"
    conda:
        "../environment.yml"
    threads: 1 if ML_MILLIONS < 1 else 2
    resources:
        runtime=ml_scaled(10, 1),
        mem_mb=ml_scaled(1500, 100),
    params:
        collab=collab_model_params(COLLAB["model"], "dot") | COLLAB_MAIN,
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
            f"{OUT}/collab/main/epochs.tsv",
            caption="../workflow/report/collab_epochs.rst",
            category="Collaborative filtering",
            labels={"figure": "main run: per-epoch table"},
        ),
        curve=report(
            f"{OUT}/collab/main/loss_curve.png",
            caption="../workflow/report/collab_loss_curve.rst",
            category="Collaborative filtering",
            labels={"figure": "main run: loss curve"},
        ),
        schedule=report(
            f"{OUT}/collab/main/schedule.png",
            caption="../workflow/report/collab_schedule.rst",
            category="Collaborative filtering",
            labels={"figure": "main run: 1cycle schedule"},
        ),
    log:
        f"{LOGS}/plot_collab_main.log",
    benchmark:
        f"{BENCH}/plot_collab_main.tsv"
    conda:
        "../environment.yml"
    resources:
        runtime=5,
        mem_mb=ml_scaled(1000, 20),
    params:
        settings={k: COLLAB["model"][k] for k in ("n_factors", "wd", "lr", "epochs")},
        release=ML.name,
    script:
        "../workflow/scripts/plot_collab_main.py"


rule interpret_collab:
    input:
        model=f"{MAIN_DIR}/model.pt",
        split=f"{SPLIT_DIR}/random.parquet",
        movies=rules.parse_movielens.output.movies,
    output:
        biases=report(
            f"{OUT}/collab/interpret/item_biases.tsv",
            caption="../workflow/report/collab_biases.rst",
            category="Collaborative filtering",
            labels={"figure": "item biases"},
        ),
        pca=report(
            f"{OUT}/collab/interpret/pca_ends.tsv",
            caption="../workflow/report/collab_pca.rst",
            category="Collaborative filtering",
            labels={"figure": "PCA of item factors"},
        ),
        scatter=report(
            f"{OUT}/collab/interpret/pca_scatter.png",
            caption="../workflow/report/collab_scatter.rst",
            category="Collaborative filtering",
            labels={"figure": "PCA scatter"},
        ),
    log:
        f"{LOGS}/interpret_collab.log",
    benchmark:
        f"{BENCH}/interpret_collab.tsv"
    conda:
        "../environment.yml"
    resources:
        runtime=ml_scaled(5, 0.2),
        mem_mb=ml_scaled(1000, 60),
    params:
        **COLLAB["interpret"],
    script:
        "../workflow/scripts/interpret_collab.py"


rule aggregate_collab:
    input:
        histories=[path for _, path in collab_run_records()],
    output:
        runs=f"{OUT}/collab/runs.tsv",
        baselines=report(
            f"{OUT}/collab/baselines.tsv",
            caption="../workflow/report/collab_baselines.rst",
            category="Collaborative filtering",
            labels={"figure": "baselines"},
        ),
    log:
        f"{LOGS}/aggregate_collab.log",
    benchmark:
        f"{BENCH}/aggregate_collab.tsv"
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
        table=f"{OUT}/collab/sweep_{{sweep}}.tsv",
        plot=report(
            f"{OUT}/collab/sweep_{{sweep}}.png",
            caption="../workflow/report/collab_sweep.rst",
            category="Collaborative filtering",
            labels={"figure": "{sweep} sweep"},
        ),
        edges=f"{OUT}/collab/sweep_{{sweep}}_edges.tsv",
    log:
        f"{LOGS}/collab_sweep/{{sweep}}.log",
    benchmark:
        f"{BENCH}/collab_sweep/{{sweep}}.tsv"
    wildcard_constraints:
        sweep="n_factors|wd",
    conda:
        "../environment.yml"
    resources:
        runtime=5,
        mem_mb=1000,
    params:
        # the plot's title names the settings the sweep holds fixed
        base=lambda wc: {
            k: COLLAB["model"][k]
            for k in (("wd", "wd_mode") if wc.sweep == "n_factors" else ("n_factors",))
            + ("bias_wd",)
        },
    script:
        "../workflow/scripts/collab_tables.py"


rule collab_table:
    input:
        runs=rules.aggregate_collab.output.runs,
    output:
        report(
            f"{OUT}/collab/{{table}}.tsv",
            caption="../workflow/report/collab_table.rst",
            category="Collaborative filtering",
            labels={"figure": "{table}"},
        ),
    log:
        f"{LOGS}/collab_table/{{table}}.log",
    benchmark:
        f"{BENCH}/collab_table/{{table}}.tsv"
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
        expand(f"{OUT}/collab/{{table}}.tsv", table=COLLAB_TABLES),
