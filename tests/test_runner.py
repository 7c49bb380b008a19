"""run_script, the glue every rule's script ends with: the job's log, clean failures, a frozen heap."""

import gc
import logging
from types import SimpleNamespace

import pytest

from lesson5.errors import PipelineError
from lesson5.runner import run_script


@pytest.fixture
def job(tmp_path):
    handlers, level = logging.root.handlers[:], logging.root.level
    yield SimpleNamespace(log=[str(tmp_path / "job.log")])
    gc.unfreeze()  # run_script froze this test process's heap and took over its logging
    for handler in logging.root.handlers:
        handler.close()
    logging.root.handlers[:], logging.root.level = handlers, level


def test_main_runs_with_what_was_imported_kept_out_of_the_collector(job):
    seen = {}
    run_script(job, lambda smk: seen.update(frozen=gc.get_freeze_count()))
    assert seen["frozen"] > 0


def test_a_pipeline_error_ends_the_job_with_its_message_in_the_log(job):
    def main(smk):
        raise PipelineError("ratings.tsv row 7: rating 6 is above 5")

    with pytest.raises(SystemExit) as info:
        run_script(job, main)
    assert info.value.code == 1
    assert "ratings.tsv row 7: rating 6 is above 5" in open(job.log[0]).read()
