# The report's summary table: every stage's key figure beside the lesson's and the anchors' numbers.


rule summary_table:
    input:
        collab_baselines=rules.aggregate_collab.output.baselines,
        collab_tables=expand(f"{OUT}/collab/{{table}}.tsv", table=COLLAB_TABLES),
        one_cycle=rules.opt_one_cycle.output.table if "optimizers" in STAGES else [],
        transfer=rules.aggregate_transfer.output.table if "transfer" in STAGES else [],
        transfer_paired=rules.aggregate_transfer.output.paired if "transfer" in STAGES else [],
        collab_edges=expand(rules.collab_sweep.output.edges, sweep=COLLAB_SWEEPS),
        optimizer_edges=rules.aggregate_optimizers.output.edges if "optimizers" in STAGES else [],
        reference=workflow.source_path("../workflow/resources/reference_numbers.tsv"),
    output:
        report(
            f"{OUT}/summary.tsv",
            caption="../workflow/report/summary.rst",
            category="Summary",
            labels={"figure": "key figures vs the lesson"},
        ),
    log:
        f"{LOGS}/summary_table.log",
    benchmark:
        f"{BENCH}/summary_table.tsv"
    conda:
        "../environment.yml"
    resources:
        runtime=5,
        mem_mb=500,
    script:
        "../workflow/scripts/summary_table.py"


rule experiment_config:
    output:
        report(
            f"{OUT}/config.yaml",
            caption="../workflow/report/experiment_config.rst",
            category="Summary",
            labels={"figure": "the experiment's config"},
        ),
    log:
        f"{LOGS}/experiment_config.log",
    benchmark:
        f"{BENCH}/experiment_config.tsv"
    conda:
        "../environment.yml"
    resources:
        runtime=5,
        mem_mb=500,
    params:
        config=tracked_config(config),
    script:
        "../workflow/scripts/experiment_config.py"


rule compare:
    input:
        # every finished experiment in this working directory, this one included (built if need be)
        summaries=sorted({*glob.glob("results/*/summary.tsv"), rules.summary_table.output[0]}),
        configs=sorted({*glob.glob("results/*/config.yaml"), rules.experiment_config.output[0]}),
        reference=workflow.source_path("../workflow/resources/reference_numbers.tsv"),
    output:
        table=report(
            "results/compare.tsv",
            caption="../workflow/report/compare.rst",
            category="Summary",
            labels={"figure": "experiments side by side"},
        ),
        differing="results/compare_keys.tsv",
        plot=report(
            "results/compare.png",
            caption="../workflow/report/compare.rst",
            category="Summary",
            labels={"figure": "experiments: main collab RMSE"},
        ),
    log:
        "logs/compare.log",
    benchmark:
        "results/data/benchmarks/compare.tsv"
    conda:
        "../environment.yml"
    resources:
        runtime=5,
        mem_mb=500,
    script:
        "../workflow/scripts/compare_experiments.py"
