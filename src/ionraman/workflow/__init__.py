"""The screening workflow: ``ionraman run CONFIG.toml`` / ``ionraman.run(config)``.

For each candidate × temperature × seed: structure → MD (equilibration, production) → α(t) →
spectra → low-frequency metrics, and MD → transport; per candidate × temperature the seeds are
combined; per candidate an Arrhenius fit; across candidates the ranking, the correlation of the
metric with log D and an optional calibration; then an HTML report.

* :mod:`.config` — the TOML configuration (pydantic), one-line errors naming the field;
* :mod:`.preparation` — structures, force field and α model of every candidate resolved in memory;
* :mod:`.plan` — typed tasks built once from the config (:class:`~.plan.SeedTask` carries the
  :class:`~ionraman.md.MDSettings` of its run, the α model and the analysis settings);
* :mod:`.stages` — the science of the stages (structure, MD, α, spectra, metrics, transport);
* :mod:`.records` — stage bookkeeping: one folder per stage, records, journal (resumable), the
  :class:`~.records.StageResult` every stage returns;
* :mod:`.cluster` — the Dask client: local cluster, scheduler address or Slurm jobs;
* :mod:`.signals` — a run stopped by SIGINT/SIGTERM/SIGHUP shuts its cluster down;
* :mod:`.orchestrate` — the run: planning, submission, progress, run-level stages, results;
* :mod:`.outcome` — :class:`RunResult` and the text ``ionraman run`` prints;
* :mod:`.results` — the result tables and the ranking.

>>> import ionraman.workflow as wf
>>> result = wf.run("examples/na-thioantimonates.toml")        # doctest: +SKIP
>>> print(result.summary_text())                                # doctest: +SKIP
"""

from ionraman.workflow.cluster import build_slurm_cluster, make_client, slurm_job_script
from ionraman.workflow.config import WorkflowConfig, load_config
from ionraman.workflow.orchestrate import run
from ionraman.workflow.outcome import RunResult
from ionraman.workflow.plan import CandidateInfo, PointTask, SeedTask, plan_run
from ionraman.workflow.preparation import PreparedCandidate, prepare
from ionraman.workflow.records import StageResult
from ionraman.workflow.results import read_results

__all__ = [
    "CandidateInfo",
    "PointTask",
    "PreparedCandidate",
    "RunResult",
    "SeedTask",
    "StageResult",
    "WorkflowConfig",
    "build_slurm_cluster",
    "load_config",
    "make_client",
    "plan_run",
    "prepare",
    "read_results",
    "run",
    "slurm_job_script",
]
