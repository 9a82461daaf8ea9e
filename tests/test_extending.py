"""The README's "Extending the theory" example runs as written, and a broken claims file is refused."""
import json
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _example() -> str:
    section = README.read_text().split("## Extending the theory", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def _kflow(*args, cwd):
    return subprocess.run([sys.executable, "-m", "verify.campaign.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**__import__("os").environ,
                                            "PYTHONPATH": str(README.parent)})


def test_readme_claims_file_example_runs_and_reports(tmp_path):
    (tmp_path / "my_claims.py").write_text(_example())
    result = _kflow("verify", "--claims-file", "my_claims.py", "--claims", "X1", "--out", "out", "--no-progress",
                    cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (entry,) = report["claims"]
    assert entry["id"] == "X1" and entry["verdict"]["passed"]
    assert entry["verdict"]["details"]["convexity"] in ("convex", "not convex", "undecided")


def test_a_claims_file_that_raises_exits_2_and_writes_nothing(tmp_path):
    (tmp_path / "bad.py").write_text("raise RuntimeError('my mistake')\n")
    result = _kflow("verify", "--claims-file", "bad.py", "--out", "out", "--no-progress", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "my mistake" in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "report.json").exists()


def test_a_missing_claims_file_exits_2(tmp_path):
    result = _kflow("verify", "--claims-file", "nope.py", "--out", "out", cwd=tmp_path)
    assert result.returncode == 2 and "no such file" in result.stderr
