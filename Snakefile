# fastai 2019 Lesson 5 as a reproducible pipeline. Entry point: config + validation, includes, targets.
import glob
import sys

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


sys.path.insert(0, f"{workflow.basedir}/workflow")  # the lesson5 package, without an install
from lesson5.cli_config import type_config_in_place
from lesson5.config_checks import check_config
from lesson5.params import experiment_name, tracked_config

type_config_in_place(config)  # nested --config values arrive as strings
validate(config, "workflow/schemas/config.schema.yaml")
check_config(config)  # what the schema cannot say: lo < hi, one list against another
# results/<experiment>/: a --configfile that names no experiment is named after its file
config["experiment"] = experiment_name(
    config, workflow.config_settings.overwrite_config, workflow.overwrite_configfiles
)
STAGES = config["stages"]


report: "workflow/report/workflow.rst"


include: "rules/common.smk"
include: "rules/movielens.smk"
include: "rules/collab.smk"
include: "rules/images.smk"
include: "rules/optimizers.smk"
include: "rules/transfer.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        rules.data.input,
        rules.collab.input,
        rules.optimizers.input if "optimizers" in STAGES else [],
        rules.transfer.input if "transfer" in STAGES else [],
        rules.summary_table.output,
        rules.experiment_config.output,
