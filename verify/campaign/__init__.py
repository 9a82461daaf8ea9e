"""verify.campaign — running the claims: the campaign (``runner``), report and figures, and ``kflow``.

The top layer: it may import every other layer; nothing imports it. ``verify.campaign.cli`` is the
command-line entry point (``kflow``, ``python -m verify.campaign.cli``) and is not re-exported here,
so that running it as ``__main__`` does not import it twice.
"""
from verify.campaign.figures import (
    draw as draw,
)
from verify.campaign.report import (
    PACKAGES as PACKAGES,
    REPORT_FILES as REPORT_FILES,
    FIGURES as FIGURES,
    versions as versions,
    package_version as package_version,
    utc_now as utc_now,
    git_revision as git_revision,
    machine as machine,
    provenance as provenance,
    prepare_output as prepare_output,
    clear_output as clear_output,
    report_data as report_data,
    markdown as markdown,
    write_figures as write_figures,
    write_data as write_data,
    start_report as start_report,
    write_report as write_report,
)
from verify.campaign.runner import (
    STATUSES as STATUSES,
    INTERRUPTED_EXIT as INTERRUPTED_EXIT,
    DEFAULT_TIME_LIMIT as DEFAULT_TIME_LIMIT,
    ClaimResult as ClaimResult,
    Interrupted as Interrupted,
    parse_claims as parse_claims,
    check_profile as check_profile,
    check_time_limit as check_time_limit,
    run as run,
    findings_of as findings_of,
    status_counts as status_counts,
    finding_counts as finding_counts,
    headline as headline,
    exit_status as exit_status,
    describe_error as describe_error,
    summary_table as summary_table,
)
