# The report's summary table: every stage's key figure beside the lesson's and the anchors' numbers.


rule summary_table:
    input:
        collab_baselines=rules.aggregate_collab.output.baselines,
        collab_tables=expand("results/collab/{table}.tsv", table=COLLAB_TABLES),
        one_cycle=rules.opt_one_cycle.output.table,
        transfer=rules.aggregate_transfer.output.table,
        transfer_paired=rules.aggregate_transfer.output.paired,
        collab_edges=expand(rules.collab_sweep.output.edges, sweep=COLLAB_SWEEPS),
        optimizer_edges=rules.aggregate_optimizers.output.edges,
        reference=workflow.source_path("../workflow/resources/reference_numbers.tsv"),
    output:
        report(
            "results/summary.tsv",
            caption="../workflow/report/summary.rst",
            category="Summary",
            labels={"figure": "key figures vs the lesson"},
        ),
    log:
        "logs/summary_table.log",
    benchmark:
        "results/benchmarks/summary_table.tsv"
    conda:
        "../environment.yml"
    resources:
        runtime=5,
        mem_mb=500,
    script:
        "../workflow/scripts/summary_table.py"
