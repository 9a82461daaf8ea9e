"""verify.campaign — running the claims: the campaign (``runner``), report and figures, and ``kflow``.

The top layer: it may import every other layer; nothing imports it. ``verify.campaign.cli`` is the
command-line entry point (``kflow``, ``python -m verify.campaign.cli``) and is not re-exported here,
so that running it as ``__main__`` does not import it twice.
"""
from verify.campaign.figures import (
    draw as draw,
)
from verify.campaign.report import (
    FIGURES as FIGURES,
    PACKAGES as PACKAGES,
    REPORT_FILES as REPORT_FILES,
    clear_output as clear_output,
    git_revision as git_revision,
    machine as machine,
    markdown as markdown,
    package_version as package_version,
    prepare_output as prepare_output,
    provenance as provenance,
    report_data as report_data,
    start_report as start_report,
    utc_now as utc_now,
    versions as versions,
    write_data as write_data,
    write_figures as write_figures,
    write_report as write_report,
)
from verify.campaign.runner import (
    DEFAULT_TIME_LIMIT as DEFAULT_TIME_LIMIT,
    INTERRUPTED_EXIT as INTERRUPTED_EXIT,
    STATUSES as STATUSES,
    ClaimResult as ClaimResult,
    Interrupted as Interrupted,
    check_profile as check_profile,
    check_time_limit as check_time_limit,
    describe_error as describe_error,
    exit_status as exit_status,
    finding_counts as finding_counts,
    findings_of as findings_of,
    headline as headline,
    parse_claims as parse_claims,
    run as run,
    status_counts as status_counts,
    summary_table as summary_table,
)
from verify.campaign.sweep_report import (
    MAX_DIAGRAMS as MAX_DIAGRAMS,
    load_rows as load_rows,
    phase_diagrams as phase_diagrams,
    write_sweep_report as write_sweep_report,
)
from verify.campaign.sweep_runner import (
    EXTRA as EXTRA,
    SweepSummary as SweepSummary,
    execute_cell as execute_cell,
    require_distributed as require_distributed,
    run_sweep as run_sweep,
)
from verify.campaign.sweep_spec import (
    DISTRIBUTIONS as DISTRIBUTIONS,
    MAX_CELLS as MAX_CELLS,
    Cell as Cell,
    SweepSpec as SweepSpec,
    cell_id as cell_id,
    load_spec as load_spec,
    parse_spec as parse_spec,
)
from verify.campaign.sweep_store import (
    SCHEMA as SCHEMA,
    Store as Store,
    StoreError as StoreError,
)
from verify.campaign.sweep_studies import (
    DIE_ONCE_FOLDER as DIE_ONCE_FOLDER,
    STUDIES as STUDIES,
    Parameter as Parameter,
    SpecError as SpecError,
    SweepStudy as SweepStudy,
    register_study as register_study,
)
