# MovieLens: fetch -> verify -> parse + validate -> summary and splits.


rule fetch_movielens:
    output:
        expand("{dir}/{file}", dir=ML_DIR, file=ML.files()),
    log:
        f"{SHARED_LOGS}/fetch_movielens/{ML.name}.log",
    benchmark:
        f"{SHARED_BENCH}/fetch_movielens/{ML.name}.tsv"
    conda:
        "../environment.yml"
    resources:
        runtime=ml_scaled(20, 1),
        mem_mb=500,
    params:
        fetch=fetch_params("movielens", ML.files()),
    script:
        "../workflow/scripts/fetch_dataset.py"


rule parse_movielens:
    input:
        ratings=f"{ML_DIR}/{ML.ratings.file}",
        movies=f"{ML_DIR}/{ML.items.file}",
        users=f"{ML_DIR}/{ML.users.file}" if ML.users else [],
    output:
        ratings=f"{DATA_DIR}/ratings.parquet",
        movies=f"{DATA_DIR}/items.parquet",
    log:
        f"{SHARED_LOGS}/parse_movielens/{ML.name}.log",
    benchmark:
        f"{SHARED_BENCH}/parse_movielens/{ML.name}.tsv"
    conda:
        "../environment.yml"
    resources:
        runtime=ml_scaled(10, 0.5),
        mem_mb=ml_scaled(1000, 60),
    params:
        release=ML.name,
    script:
        "../workflow/scripts/parse_movielens.py"


rule summarize_movielens:
    input:
        ratings=rules.parse_movielens.output.ratings,
        movies=rules.parse_movielens.output.movies,
    output:
        table=report(
            f"{DATA_DIR}/summary.tsv",
            caption="../workflow/report/data_summary.rst",
            category="Data",
            labels={"dataset": ML.name, "figure": "summary table"},
        ),
        plot=report(
            f"{DATA_DIR}/ratings_overview.png",
            caption="../workflow/report/data_overview.rst",
            category="Data",
            labels={"dataset": ML.name, "figure": "rating distribution"},
        ),
    log:
        f"{SHARED_LOGS}/summarize_movielens/{ML.name}.log",
    benchmark:
        f"{SHARED_BENCH}/summarize_movielens/{ML.name}.tsv"
    conda:
        "../environment.yml"
    resources:
        runtime=ml_scaled(10, 0.2),
        mem_mb=ml_scaled(1000, 40),
    params:
        release=ML.name,
    script:
        "../workflow/scripts/summarize_movielens.py"


rule split_movielens:
    input:
        unpack(split_inputs),
    output:
        f"{SPLIT_DIR}/{{split}}.parquet",
    log:
        f"{LOGS}/split_movielens/{ML.name}/{{split}}.log",
    benchmark:
        f"{BENCH}/split_movielens/{ML.name}/{{split}}.tsv"
    wildcard_constraints:
        split="|".join(ML_SPLITS),
    conda:
        "../environment.yml"
    resources:
        runtime=ml_scaled(10, 0.2),
        mem_mb=ml_scaled(1000, 40),
    params:
        release=ML.name,
        split=split_params,
    script:
        "../workflow/scripts/split_movielens.py"


rule data:
    input:
        rules.summarize_movielens.output,
        image_npz(config["optimizers"]["dataset"]) if "optimizers" in STAGES else [],
        expand(f"{SPLIT_DIR}/{{split}}.parquet", split=ML_SPLITS),
