"""The ``kflow`` command line: exit codes, one-line errors, the report files, reproducibility.

Runs ``verify.cli.main`` in-process (capsys captures its output); one test runs the installed
console script in a subprocess to prove the entry point works without a traceback.
"""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from verify.cli import main

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
    if isinstance(value, dict):
        return {k: _without_seconds(v) for k, v in value.items() if k != "seconds"}
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


def test_installed_console_script_runs_without_traceback():
    kflow = shutil.which("kflow")
    if kflow is None:
        pytest.skip("the kflow console script is not installed")
    done = subprocess.run([kflow, "derive", "T1"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "certified" in done.stdout
