"""``kflow verify`` against checks that misbehave: statuses, exit codes, time limits, stale and failed outputs.

Each test loads a claims file of its own into a private copy of the claim registry and runs
``verify.campaign.cli.main`` in-process (the checks run in the campaign's worker process). A broken check
must end with status "error" and exit status 3 — never "fail" (exit 1, a disproved claim), never
exit 0, never a traceback — and the run must go on to the next claim and write its report.
"""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from verify.campaign import runner as campaign
from verify.campaign.cli import main
from verify.claims import registry

ROOT = Path(__file__).resolve().parents[1]

CLAIMS = textwrap.dedent('''
    import os, sys
    from verify.claims import Claim, register
    from verify.core.findings import Finding
    from verify.core.verdict import CheckError, judge

    def passes(ctx):
        return judge("XPASS", [1e-12], 1e-9, ctx.seed)

    def fails(ctx):
        return judge("XFAIL", [1.0], 1e-9, ctx.seed)

    def crashes(ctx):
        return {}["missing key"]

    def exits(ctx):
        sys.exit(0)

    def returns_none(ctx):
        return None

    def loops(ctx):
        while True:
            pass

    def dies(ctx):
        os._exit(0)

    def broken(ctx):
        raise CheckError("a control ran on no instance")

    def interrupts_itself(ctx):
        raise KeyboardInterrupt

    def malformed(ctx):
        v = judge("XMALFORMED", [0.0], 1e-9, ctx.seed)
        object.__setattr__(v, "tolerance", "tight")
        return v

    def finds(ctx):
        found = [Finding("does it hold?", "does not hold", "it does not", "rule"),
                 Finding("and this?", "holds", "it does", "rule")]
        return judge("XFIND", [0.0], 1e-9, ctx.seed, details={"findings": found})

    def bad_figure(ctx):
        return judge("XFIGURE", [0.0], 1e-9, ctx.seed, details={"figures": [{"name": "broken", "x": [1]}]})

    def signals_parent(ctx):
        os.kill(os.getppid(), getattr(signal, os.environ["KFLOW_TEST_SIGNAL"]))
        import time
        time.sleep(60)

    import signal
    for cid, check in [("XPASS", passes), ("XFAIL", fails), ("XCRASH", crashes), ("XEXIT", exits),
                       ("XNONE", returns_none), ("XLOOP", loops), ("XDIE", dies), ("XBROKEN", broken),
                       ("XKBI", interrupts_itself), ("XMALFORMED", malformed), ("XFIND", finds),
                       ("XFIGURE", bad_figure), ("XSIGNAL", signals_parent)]:
        register(Claim(cid, f"test claim {cid}", "a statement", "none", check))
''')


@pytest.fixture
def claims_file(tmp_path, monkeypatch):
    """The claims file, and a registry of our own so that its claims do not leak into other tests."""
    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    path = tmp_path / "my_claims.py"
    path.write_text(CLAIMS, encoding="utf-8")
    return path


def _run(claims_file, ids, out, *extra):
    return main(["verify", "--claims-file", str(claims_file), "--claims", ids, "--out", str(out), "--no-progress",
                 *extra])


def _report(out) -> dict:
    return json.loads((Path(out) / "report.json").read_text(encoding="utf-8"))


def _statuses(data) -> dict:
    return {c["id"]: c["status"] for c in data["claims"]}


def _no_traceback(capsys):
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, captured.err
    return captured


# --- statuses and exit codes -----------------------------------------------------------------------------


def test_a_passing_claim_exits_0(claims_file, tmp_path, capsys):
    assert _run(claims_file, "XPASS", tmp_path / "out") == 0
    data = _report(tmp_path / "out")
    assert data["status"] == "pass" and _statuses(data) == {"XPASS": "pass"}


def test_a_disproved_claim_is_fail_and_exits_1(claims_file, tmp_path, capsys):
    """The negative control of the error status: a check that runs and says no is a failure."""
    assert _run(claims_file, "XFAIL", tmp_path / "out") == 1
    data = _report(tmp_path / "out")
    assert data["status"] == "fail" and _statuses(data) == {"XFAIL": "fail"} and "error" not in data["claims"][0]


@pytest.mark.parametrize("claim, kind, words", [
    pytest.param("XCRASH", "exception", "KeyError", id="raises"),
    pytest.param("XEXIT", "exit", "sys.exit(0)", id="sys.exit(0)"),
    pytest.param("XNONE", "bad result", "returned NoneType", id="returns None"),
    pytest.param("XDIE", "crash", "exited with status 0", id="os._exit(0)"),
    pytest.param("XBROKEN", "exception", "broken check: a control ran on no instance", id="CheckError"),
    pytest.param("XKBI", "exception", "KeyboardInterrupt", id="raises KeyboardInterrupt itself"),
    pytest.param("XMALFORMED", "bad result", "tolerance is str", id="malformed Verdict"),
])
def test_a_broken_check_is_an_error_with_exit_3_and_a_report(claim, kind, words, claims_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert _run(claims_file, f"{claim},XPASS", out) == 3
    captured = _no_traceback(capsys)
    data = _report(out)
    assert _statuses(data) == {claim: "error", "XPASS": "pass"}, "the run goes on after a broken check"
    assert data["status"] == "error" and data["exit_status"] == 3
    assert data["counts"]["claims"] == {"pass": 1, "fail": 0, "error": 1}
    entry = data["claims"][0]
    assert entry["error"]["kind"] == kind and words in entry["error"]["message"]
    assert entry["verdict"]["passed"] is False
    text = (out / "report.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith(f"| {claim} |"))
    assert row.endswith("| ERROR |") and "| FAIL |" not in text
    assert "1 pass, 1 ERROR of 2 claims" in captured.out and words in captured.out


def test_a_check_that_exits_0_cannot_make_the_run_exit_0(claims_file, tmp_path, capsys):
    assert _run(claims_file, "XEXIT", tmp_path / "out") != 0
    assert _report(tmp_path / "out")["claims"][0]["status"] == "error"


def test_a_crash_names_the_place_in_the_claims_file(claims_file, tmp_path, capsys):
    _run(claims_file, "XCRASH", tmp_path / "out")
    error = _report(tmp_path / "out")["claims"][0]["error"]
    assert "my_claims.py" in error["message"] and "in crashes" in error["message"]
    assert "Traceback" in error["traceback"]


def test_a_disproved_claim_outranks_an_error(claims_file, tmp_path, capsys):
    assert _run(claims_file, "XFAIL,XCRASH,XPASS", tmp_path / "out") == 1
    data = _report(tmp_path / "out")
    assert data["counts"]["claims"] == {"pass": 1, "fail": 1, "error": 1}
    assert data["headline"] == "1 pass, 1 FAIL, 1 ERROR of 3 claims"


def test_a_loop_is_stopped_at_the_time_limit_and_the_run_goes_on(claims_file, tmp_path, capsys):
    start = time.monotonic()
    assert _run(claims_file, "XLOOP,XPASS", tmp_path / "out", "--time-limit", "1") == 3
    assert time.monotonic() - start < 60
    data = _report(tmp_path / "out")
    assert _statuses(data) == {"XLOOP": "error", "XPASS": "pass"}
    assert data["claims"][0]["error"]["kind"] == "timeout" and "time limit of 1 s" in data["claims"][0]["error"]["message"]
    assert data["time_limit"] == 1


def test_the_time_limit_also_holds_without_a_worker_process(claims_file, monkeypatch):
    """Where fork is not available the check runs in-process and SIGALRM stops it."""
    from verify.campaign.cli import load_claims_file

    monkeypatch.setattr(campaign, "_can_fork", lambda: False)
    load_claims_file(str(claims_file))
    loop, exits, passed = campaign.run(["XLOOP", "XEXIT", "XPASS"], progress=False, time_limit=0.5)
    assert (loop.status, loop.error["kind"]) == ("error", "timeout")
    assert (exits.status, exits.error["kind"], passed.status) == ("error", "exit", "pass")


# --- findings, figures -----------------------------------------------------------------------------------


def test_findings_are_counted_by_outcome_and_the_headline_says_so(claims_file, tmp_path, capsys):
    assert _run(claims_file, "XFIND", tmp_path / "out") == 0
    data = _report(tmp_path / "out")
    assert data["counts"]["findings"] == {"holds": 1, "holds approximately": 0, "does not hold": 1}
    assert data["claims"][0]["findings"]["does not hold"] == 1
    assert "1 does not hold" in data["headline"] and data["headline"].startswith("the claim passes; 2 findings")
    text = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "1 does not hold" in text.split("\n", 3)[2]  # the headline line, not only the tables
    assert "1 does not hold" in capsys.readouterr().out


def test_a_figure_that_cannot_be_drawn_costs_only_itself(claims_file, tmp_path, capsys):
    assert _run(claims_file, "XFIGURE", tmp_path / "out") == 0
    spec = _report(tmp_path / "out")["claims"][0]["verdict"]["details"]["figures"][0]
    assert "error" in spec and "file" not in spec
    assert "could not be drawn" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")


# --- claims files that misbehave while loading --------------------------------------------------------


@pytest.mark.parametrize("source, words", [
    pytest.param("import sys\nsys.exit(0)\n", "called sys.exit(0)", id="sys.exit(0)"),
    pytest.param("raise SystemExit('bye')\n", "called sys.exit('bye')", id="SystemExit with a message"),
    pytest.param("raise RuntimeError('my mistake')\n", "my mistake", id="raises"),
    pytest.param("def broken(:\n", "SyntaxError", id="syntax error"),
])
def test_a_claims_file_that_fails_to_load_exits_2_and_writes_nothing(source, words, tmp_path, capsys,
                                                                       monkeypatch):
    monkeypatch.setattr(registry, "REGISTRY", dict(registry.REGISTRY))
    (tmp_path / "bad.py").write_text(source)
    assert main(["verify", "--claims-file", str(tmp_path / "bad.py"), "--out", str(tmp_path / "out")]) == 2
    err = _no_traceback(capsys).err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kflow: error:") and words in err[0], err
    assert not (tmp_path / "out").exists()


# --- outputs: stale files, failed writes, interruptions ---------------------------------------------------


def test_an_earlier_runs_report_and_figures_are_cleared(claims_file, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    (out / "report.json").write_text('{"status": "pass", "stale": true}')
    (out / "report.md").write_text("# an old report")
    (out / "figures" / "T7-rank-vs-width.png").write_bytes(b"old")
    (out / ".report.json.abc.tmp").write_text("left by a killed run")
    (out / "notes.txt").write_text("the user's own file")
    assert _run(claims_file, "XPASS", out) == 0
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "report.json", "report.md"]
    assert "stale" not in _report(out)
    assert (out / "notes.txt").read_text() == "the user's own file"


def test_a_report_that_cannot_be_written_exits_4_with_one_line(claims_file, tmp_path, capsys, monkeypatch):
    """Disk full at the end of the run: one line naming the cause, exit 4 — not 1 (a disproved claim), no
    traceback; the summary table was printed before."""
    from verify.campaign import report

    real, calls = report.write_atomically, []

    def fills_up(path, text):
        calls.append(path.name)
        if len(calls) > 2:  # the placeholder report goes through; the final one meets a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, text)

    monkeypatch.setattr(report, "write_atomically", fills_up)
    assert _run(claims_file, "XPASS", tmp_path / "out") == 4
    captured = _no_traceback(capsys)
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0] and lines[0].startswith("kflow: error:")
    assert "XPASS" in captured.out
    assert _report(tmp_path / "out")["status"] == "running", "the placeholder says the run did not finish"


def test_a_folder_that_cannot_take_the_first_report_exits_4(claims_file, tmp_path, capsys, monkeypatch):
    from verify.campaign import report

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report, "write_atomically", full)
    assert _run(claims_file, "XPASS", tmp_path / "out") == 4
    assert "No space left on device" in _no_traceback(capsys).err


def test_the_placeholder_report_says_the_run_has_not_finished(tmp_path):
    from verify.campaign import report

    report.start_report(tmp_path, ["T1", "T2"], profile="quick", seed=0, provenance=report.provenance(["verify"]))
    data = _report(tmp_path)
    assert data["status"] == "running" and data["passed"] is False and data["not_run"] == ["T1", "T2"]
    assert "has not finished" in (tmp_path / "report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("signal_name, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_an_interrupted_run_writes_a_report_marked_interrupted(signal_name, code, claims_file, tmp_path):
    """The second claim signals kflow itself (as Ctrl-C or a CI timeout would): kflow stops the check, writes
    what it has, marked interrupted, and exits 128 + the signal's number."""
    done = subprocess.run([sys.executable, "-m", "verify.campaign.cli", "verify", "--claims-file", str(claims_file),
                           "--claims", "XPASS,XSIGNAL,XFAIL", "--out", "out", "--no-progress"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "KFLOW_TEST_SIGNAL": signal_name, "PYTHONPATH": str(ROOT)})
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr and f"interrupted ({signal_name})" in done.stderr
    data = _report(tmp_path / "out")
    assert data["status"] == "interrupted" and data["interrupted_by"] == signal_name and data["exit_status"] == code
    assert _statuses(data) == {"XPASS": "pass"} and data["not_run"] == ["XSIGNAL", "XFAIL"]
    assert data["headline"].startswith("INTERRUPTED after 1 of 3 claims")
    assert "INTERRUPTED" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")


# --- labelled derivations (combine) ------------------------------------------------------------------------


def test_labelled_derivations_name_their_label_in_failures_and_details():
    from theory import notation as nt
    from theory.certify import Derivation, Identity, Step
    from verify.claims.common import certificate_failures, combine
    from verify.core.verdict import judge

    def derivation(lhs):
        d = Derivation()
        d.claim, d.steps = "T2", (Step("T2", "doubling", "K + K = 2K", lhs, 2 * nt.K, Identity("doubling")),)
        return d

    labelled = {"C = 1": derivation(nt.K + nt.K), "C = 2": derivation(nt.K)}
    assert certificate_failures(labelled) == ["T2·doubling (C = 2)"]
    v = combine("T2", 0, {"part": judge("T2", [0.0], 1e-9, 0)}, derivation=labelled)
    assert not v.passed and "T2·doubling (C = 2)" in v.reason
    assert [(row["group"], row["holds"]) for row in v.details["derivation"]] == [("C = 1", True), ("C = 2", False)]
    assert v.measure == "relative error"
