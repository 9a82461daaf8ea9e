"""The ``kflow`` command line: exit codes, one-line errors, the report files, reproducibility.

Runs ``verify.campaign.cli.main`` in-process (capsys captures its output); one test runs the installed
console script in a subprocess to prove the entry point works without a traceback.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from importlib import metadata

import pytest

from verify.campaign.cli import main

FAST = ["--claims", "T1,T2", "--no-progress"]


def _verify(out, *extra):
    return main(["verify", *FAST, "--out", str(out), *extra])


def _assert_one_line_error(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kflow: error:"), err
    return lines[0]


def _without_seconds(value):
    """A report without what differs between runs of the same seed: timings and provenance (run id, times,
    command line)."""
    if isinstance(value, dict):
        return {k: _without_seconds(v) for k, v in value.items() if k not in ("seconds", "provenance")}
    if isinstance(value, list):
        return [_without_seconds(v) for v in value]
    return value


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "out"
    assert _verify(out, "--seed", "7") == 0
    return out


# --- kflow verify -----------------------------------------------------------------------------


def test_verify_writes_a_passing_report_json(report_dir):
    data = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    assert data["profile"] == "quick"
    assert data["seed"] == 7
    assert data["passed"] is True
    assert [c["id"] for c in data["claims"]] == ["T1", "T2"]
    for claim in data["claims"]:
        assert isinstance(claim["verdict"], dict)
        assert claim["verdict"]["passed"] is True
        assert claim["verdict"]["claim"] == claim["id"]


def test_verify_writes_report_md(report_dir):
    text = (report_dir / "report.md").read_text(encoding="utf-8")
    assert text.startswith("# kernel-flows verification report")
    assert "| T1 |" in text and "| T2 |" in text


def test_report_json_records_statuses_counts_and_provenance(report_dir):
    data = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    assert data["status"] == "pass" and data["exit_status"] == 0
    assert data["counts"]["claims"] == {"pass": 2, "fail": 0, "error": 0}
    assert [c["status"] for c in data["claims"]] == ["pass", "pass"]
    p = data["provenance"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", p["started"]) and p["finished"] >= p["started"]
    assert p["command"].startswith("kflow verify") and "--seed 7" in p["command"]
    assert p["kernel_flows"] == metadata.version("kernel-flows")
    assert p["run_id"] and set(p["machine"]) >= {"platform", "cpu", "cpu_count", "python"}
    if p["git"] is not None:  # run from a checkout
        assert re.fullmatch(r"[0-9a-f]{40}", p["git"]["revision"])
    assert data["time_limit"] == 1800


def test_report_names_the_kind_of_each_worst_figure(report_dir):
    data = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    measures = {c["id"]: c["verdict"]["measure"] for c in data["claims"]}
    assert measures == {"T1": "relative error", "T2": "relative error against finite differences"}
    text = (report_dir / "report.md").read_text(encoding="utf-8")
    assert "worst / tolerance (kind)" in text and "(relative error against finite differences)" in text


def test_report_md_shows_the_equations_of_labelled_derivations(report_dir):
    """T2 is derived for C = 1, 2, 3: each derivation is labelled and its steps carry their equations, rendered
    as `kflow derive --format md` renders a step (Step._repr_markdown_)."""
    import theory

    text = (report_dir / "report.md").read_text(encoding="utf-8")
    for C in (1, 2, 3):
        assert f"### Derivation (C = {C}):" in text
    step = theory.derive_kernel_ode(theory.losses.squared(2)).step("drive operator")
    assert step._repr_markdown_() in text and f"$${step.latex()}$$" in text
    data = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    t2 = data["claims"][1]["verdict"]["details"]["derivation"]
    assert {row["group"] for row in t2} == {"C = 1", "C = 2", "C = 3"}
    assert all(row["equation"] and row["holds"] for row in t2)


def test_report_files_have_ordinary_permissions(tmp_path, capsys):
    previous = os.umask(0o022)
    try:
        assert main(["verify", "--claims", "T1", "--no-progress", "--out", str(tmp_path / "out")]) == 0
        assert main(["derive", "T4", "--out", str(tmp_path / "t4.txt")]) == 0
    finally:
        os.umask(previous)
    for path in (tmp_path / "out" / "report.json", tmp_path / "out" / "report.md", tmp_path / "t4.txt"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_verify_leaves_no_temporary_files(report_dir):
    assert sorted(p.name for p in report_dir.iterdir()) == ["report.json", "report.md"]


def test_same_seed_gives_same_report_apart_from_timings(report_dir, tmp_path, capsys):
    assert _verify(tmp_path / "again", "--seed", "7") == 0
    first = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    second = json.loads((tmp_path / "again" / "report.json").read_text(encoding="utf-8"))
    assert _without_seconds(first) == _without_seconds(second)


def test_verify_prints_table_and_report_path(tmp_path, capsys):
    assert main(["verify", "--claims", "T1", "--no-progress", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "report.json" in out


def test_unknown_claim_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["verify", "--claims", "T99", "--out", str(out), "--no-progress"]) == 2
    assert "T99" in _assert_one_line_error(capsys)
    assert not (out / "report.json").exists()


def test_unknown_profile_exits_2(tmp_path, capsys):
    assert _verify(tmp_path, "--profile", "slow") == 2
    assert "slow" in _assert_one_line_error(capsys)
    assert not (tmp_path / "report.json").exists()


def test_unwritable_output_exits_2(tmp_path, capsys):
    (tmp_path / "afile").write_text("not a folder")
    assert _verify(tmp_path / "afile" / "sub") == 2
    _assert_one_line_error(capsys)


def test_output_that_is_a_file_exits_2(tmp_path, capsys):
    (tmp_path / "afile").write_text("not a folder")
    assert _verify(tmp_path / "afile") == 2
    _assert_one_line_error(capsys)
    assert (tmp_path / "afile").read_text() == "not a folder"


@pytest.mark.parametrize("argv", [
    pytest.param(["bogus"], id="unknown subcommand"),
    pytest.param([], id="no subcommand"),
    pytest.param(["verify", "--seed", "abc"], id="non-integer seed"),
    pytest.param(["verify", "--seed", "-1"], id="negative seed"),
    pytest.param(["verify", "--claims", ","], id="empty claim list"),
    pytest.param(["derive", "T2", "--outputs", "0"], id="zero outputs"),
    pytest.param(["derive", "T2", "--outputs", "1000"], id="too many outputs"),
    pytest.param(["derive", "T2", "--output", "3"], id="abbreviated --outputs"),
    pytest.param(["derive", "T2", "--form", "md"], id="abbreviated --format"),
    pytest.param(["verify", "--no-prog"], id="abbreviated --no-progress"),
    pytest.param(["verify", "--time-limit", "abc"], id="non-numeric time limit"),
    pytest.param(["verify", "--time-limit", "-1"], id="negative time limit"),
    pytest.param(["verify", "--time-limit", "nan"], id="nan time limit"),
    pytest.param(["verify", "--time-limit", "inf"], id="infinite time limit"),
    pytest.param(["--bogus"], id="unknown option"),
])
def test_bad_usage_exits_2_with_one_line(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default --out is relative: keep any output here
    assert main(argv) == 2
    _assert_one_line_error(capsys)
    assert not (tmp_path / "kflow-report" / "report.json").exists()


# --- kflow derive -----------------------------------------------------------------------------


def test_derive_t2_prints_certified_steps(capsys):
    assert main(["derive", "T2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("T2:")
    assert "certified" in out
    assert "FAILED" not in out


def test_derive_unknown_claim_exits_2(capsys):
    assert main(["derive", "T99"]) == 2
    assert "T99" in _assert_one_line_error(capsys)


def test_derive_latex_prints_latex(capsys):
    assert main(["derive", "T3", "--latex"]) == 0
    out = capsys.readouterr().out
    assert "\\lambda" in out and "\\frac" in out
    assert any(line.startswith("% [T3") for line in out.splitlines())


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"kflow (kernel-flows) {metadata.version('kernel-flows')}"


def test_derive_help_lists_every_registered_derivation(capsys):
    import theory

    assert main(["derive", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"({', '.join(theory.DERIVATIONS)})" in help_text


def test_verify_help_documents_statuses_and_exit_codes(capsys):
    from verify.campaign.cli import EXIT_CODES

    assert main(["verify", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--time-limit SECONDS" in help_text and "pass, fail (disproved) or error" in help_text
    for code in EXIT_CODES:
        assert f" {code} " in help_text
    assert set(EXIT_CODES) == {0, 1, 2, 3, 4, 130}


def test_out_is_not_taken_as_outputs(tmp_path, capsys):
    """--out FILE is an option of its own, and an abbreviation of --outputs is refused, never guessed."""
    assert main(["derive", "T4", "--out", str(tmp_path / "t4.txt")]) == 0
    assert (tmp_path / "t4.txt").read_text().startswith("T4:")
    capsys.readouterr()
    assert main(["derive", "T4", "--outp", "3"]) == 2
    assert "--outp" in _assert_one_line_error(capsys)


def test_outputs_above_the_bound_names_the_bound(capsys):
    from verify.campaign.cli import MAX_OUTPUTS

    assert main(["derive", "T2", "--outputs", str(MAX_OUTPUTS + 1)]) == 2
    assert f"between 1 and {MAX_OUTPUTS}" in _assert_one_line_error(capsys)


def test_derive_that_cannot_write_exits_4_with_one_line(tmp_path, capsys, monkeypatch):
    import errno

    from verify.campaign import cli

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cli, "write_atomically", full)
    assert main(["derive", "T4", "--out", str(tmp_path / "t4.txt")]) == 4
    assert "No space left on device" in _assert_one_line_error(capsys)


def test_installed_console_script_runs_without_traceback():
    kflow = shutil.which("kflow")
    if kflow is None:
        pytest.skip("the kflow console script is not installed")
    done = subprocess.run([kflow, "derive", "T1"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "certified" in done.stdout
