# The lesson-5 SGD notebook: manual loop, optimizer ablation, weight decay, 1cycle, cross-entropy.
OPT = config["optimizers"]
OPT_DATA = image_npz(OPT["dataset"])


rule opt_manual:
    input:
        data=OPT_DATA,
    output:
        table=f"{OUT}/optimizers/manual/runs.tsv",
        losses=f"{OUT}/optimizers/manual/losses.parquet",
        plot=report(
            f"{OUT}/optimizers/manual/losses.png",
            caption="../workflow/report/opt_manual.rst",
            category="Optimizers",
            labels={"figure": "manual loop losses"},
        ),
    log:
        f"{LOGS}/opt_manual.log",
    benchmark:
        f"{BENCH}/opt_manual.tsv"
    conda:
        "../environment.yml"
    threads: 1
    resources:
        runtime=15,
        mem_mb=3000,
    params:
        manual=OPT["manual"],
        bs=OPT["bs"],
        seed=config["seed"],
        dataset=OPT["dataset"],
    script:
        "../workflow/scripts/opt_manual.py"


rule opt_ablation:
    input:
        data=OPT_DATA,
    output:
        grid=f"{OUT}/optimizers/ablation/{{opt}}_{{schedule}}/lr_grid.tsv",
        runs=f"{OUT}/optimizers/ablation/{{opt}}_{{schedule}}/runs.tsv",
        curves=f"{OUT}/optimizers/ablation/{{opt}}_{{schedule}}/curves.parquet",
    log:
        f"{LOGS}/opt_ablation/{{opt}}_{{schedule}}.log",
    benchmark:
        f"{BENCH}/opt_ablation/{{opt}}_{{schedule}}.tsv"
    wildcard_constraints:
        opt="|".join(OPT["ablation"]["optimizers"]),
        schedule="constant|one_cycle",
    conda:
        "../environment.yml"
    threads: 1
    resources:
        runtime=30,
        mem_mb=3000,
    params:
        lr_grid=lambda wc: OPT["ablation"]["lr_grid"][wc.opt],
        wd=lambda wc: OPT["ablation"]["wd"]["decoupled" if wc.opt == "adamw" else "l2"],
        seeds=OPT["seeds"],
        epochs=OPT["epochs"],
        bs=OPT["bs"],
    script:
        "../workflow/scripts/opt_ablation.py"


rule opt_weight_decay:
    input:
        data=OPT_DATA,
    output:
        f"{OUT}/optimizers/weight_decay/{{opt}}_{{wd_mode}}.tsv",
    log:
        f"{LOGS}/opt_weight_decay/{{opt}}_{{wd_mode}}.log",
    benchmark:
        f"{BENCH}/opt_weight_decay/{{opt}}_{{wd_mode}}.tsv"
    wildcard_constraints:
        opt="|".join(OPT["weight_decay"]["optimizers"]),
        wd_mode="loss|decoupled|l2",
    conda:
        "../environment.yml"
    threads: 1
    resources:
        runtime=30,
        mem_mb=3000,
    params:
        values=OPT["weight_decay"]["values"],
        lr=lambda wc: OPT["weight_decay"]["lr"][wc.opt],
        seeds=OPT["seeds"],
        epochs=OPT["epochs"],
        bs=OPT["bs"],
    script:
        "../workflow/scripts/opt_weight_decay.py"


rule opt_one_cycle:
    input:
        data=OPT_DATA,
    output:
        lr_find_table=f"{OUT}/optimizers/one_cycle/lr_find.tsv",
        lr_find_plot=report(
            f"{OUT}/optimizers/one_cycle/lr_find.png",
            caption="../workflow/report/opt_lr_find.rst",
            category="Optimizers",
            labels={"figure": "lr finder"},
        ),
        table=report(
            f"{OUT}/optimizers/one_cycle/fit_one_cycle.tsv",
            caption="../workflow/report/opt_one_cycle.rst",
            category="Optimizers",
            labels={"figure": "fit_one_cycle table"},
        ),
        schedule=report(
            f"{OUT}/optimizers/one_cycle/schedule.png",
            caption="../workflow/report/opt_schedule.rst",
            category="Optimizers",
            labels={"figure": "1cycle schedule"},
        ),
        losses=report(
            f"{OUT}/optimizers/one_cycle/losses.png",
            caption="../workflow/report/opt_one_cycle_losses.rst",
            category="Optimizers",
            labels={"figure": "1cycle losses"},
        ),
    log:
        f"{LOGS}/opt_one_cycle.log",
    benchmark:
        f"{BENCH}/opt_one_cycle.tsv"
    conda:
        "../environment.yml"
    threads: 1
    resources:
        runtime=15,
        mem_mb=3000,
    params:
        one_cycle=OPT["one_cycle"],
        bs=OPT["bs"],
        seed=config["seed"],
        dataset=OPT["dataset"],
    script:
        "../workflow/scripts/opt_one_cycle.py"


rule aggregate_optimizers:
    input:
        lr_grids=expand(
            f"{OUT}/optimizers/ablation/{{opt}}_{{schedule}}/lr_grid.tsv",
            opt=OPT["ablation"]["optimizers"],
            schedule=OPT["ablation"]["schedules"],
        ),
        ablation_runs=expand(
            f"{OUT}/optimizers/ablation/{{opt}}_{{schedule}}/runs.tsv",
            opt=OPT["ablation"]["optimizers"],
            schedule=OPT["ablation"]["schedules"],
        ),
        ablation_curves=expand(
            f"{OUT}/optimizers/ablation/{{opt}}_{{schedule}}/curves.parquet",
            opt=OPT["ablation"]["optimizers"],
            schedule=OPT["ablation"]["schedules"],
        ),
        wd_runs=expand(
            f"{OUT}/optimizers/weight_decay/{{opt}}_{{wd_mode}}.tsv",
            opt=OPT["weight_decay"]["optimizers"],
            wd_mode=OPT["weight_decay"]["modes"],
        ),
    output:
        lr_grid_table=report(
            f"{OUT}/optimizers/lr_grid.tsv",
            caption="../workflow/report/opt_lr_grid.rst",
            category="Optimizers",
            labels={"figure": "lr grids: table"},
        ),
        lr_grid_plot=report(
            f"{OUT}/optimizers/lr_grid.png",
            caption="../workflow/report/opt_lr_grid.rst",
            category="Optimizers",
            labels={"figure": "lr grids: plot"},
        ),
        edges=f"{OUT}/optimizers/sweep_edges.tsv",
        ablation_table=report(
            f"{OUT}/optimizers/ablation.tsv",
            caption="../workflow/report/opt_ablation_table.rst",
            category="Optimizers",
            labels={"figure": "optimizer ablation table"},
        ),
        ablation_plot=report(
            f"{OUT}/optimizers/ablation.png",
            caption="../workflow/report/opt_ablation_plot.rst",
            category="Optimizers",
            labels={"figure": "optimizer loss curves"},
        ),
        wd_table=report(
            f"{OUT}/optimizers/weight_decay.tsv",
            caption="../workflow/report/opt_wd.rst",
            category="Optimizers",
            labels={"figure": "weight-decay table"},
        ),
        wd_plot=report(
            f"{OUT}/optimizers/weight_decay.png",
            caption="../workflow/report/opt_wd.rst",
            category="Optimizers",
            labels={"figure": "weight-decay plot"},
        ),
    log:
        f"{LOGS}/aggregate_optimizers.log",
    benchmark:
        f"{BENCH}/aggregate_optimizers.tsv"
    conda:
        "../environment.yml"
    resources:
        runtime=5,
        mem_mb=2000,
    params:
        dataset=OPT["dataset"],
    script:
        "../workflow/scripts/aggregate_optimizers.py"


rule cross_entropy_figure:
    output:
        report(
            f"{OUT}/optimizers/cross_entropy.png",
            caption="../workflow/report/cross_entropy.rst",
            category="Optimizers",
            labels={"figure": "cross-entropy"},
        ),
    log:
        f"{LOGS}/cross_entropy_figure.log",
    benchmark:
        f"{BENCH}/cross_entropy_figure.tsv"
    conda:
        "../environment.yml"
    resources:
        runtime=5,
        mem_mb=500,
    script:
        "../workflow/scripts/cross_entropy_figure.py"


rule optimizers:
    input:
        rules.opt_manual.output,
        rules.opt_one_cycle.output,
        rules.aggregate_optimizers.output,
        rules.cross_entropy_figure.output,
