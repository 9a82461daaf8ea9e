"""The README's "Extending the theory" examples run as written — a new derivation (``kflow derive --claims-file``) and
a new claim (``kflow verify --claims-file``) — a wrong step in the derivation is reported, and a broken file is
refused."""
import json
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _example(first_line: str = "# my_claims.py") -> str:
    """The README's Python block of the "Extending the theory" section that starts with ``first_line``."""
    section = README.read_text().split("## Extending the theory", 1)[1].split("\n## ", 1)[0]
    blocks = [b for b in re.findall(r"```python\n(.*?)```", section, re.S) if b.startswith(first_line)]
    assert len(blocks) == 1, f"the README has {len(blocks)} blocks starting with {first_line!r}"
    return blocks[0]


def _commands(prefix: str) -> list[list[str]]:
    """The README's shell commands of that section starting with ``prefix``, as argument lists (comments cut)."""
    section = README.read_text().split("## Extending the theory", 1)[1].split("\n## ", 1)[0]
    lines = [line.split("#", 1)[0].split() for block in re.findall(r"```bash\n(.*?)```", section, re.S)
             for line in block.splitlines()]
    return [line[1:] for line in lines if line and " ".join(line).startswith(prefix)]


def test_readme_derivation_example_runs_and_every_step_is_certified(tmp_path):
    (tmp_path / "my_derivation.py").write_text(_example("# my_derivation.py"))
    commands = _commands("kflow derive X2")
    assert len(commands) == 2, commands
    for args in commands:
        result = _kflow(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr + result.stdout
    text = _kflow("derive", "X2", "--claims-file", "my_derivation.py", cwd=tmp_path).stdout
    for name in ("feature gradient", "kernel ODE", "product rule", "range K ⊆ ker A", "rank"):
        assert f"· {name}]" in text, name
    assert "FAILED" not in text and "all 5 certificates passed" in text
    latex = _kflow(*commands[1], cwd=tmp_path).stdout
    assert latex.count(r"\begin{equation*}") == latex.count(r"\end{equation*}") == 6
    assert r"\subsection*{X2" in latex


def test_a_wrong_step_in_the_readme_derivation_is_not_certified(tmp_path):
    """The same file with twice the decay in the kernel ODE: kflow derive reports the failed step and exits 1."""
    code = _example("# my_derivation.py")
    wrong = code.replace("- nt.mu * (nt.K * Gamma + Gamma * nt.K)", "- 2 * nt.mu * (nt.K * Gamma + Gamma * nt.K)")
    assert wrong != code
    # the numeric sanity check at the end of the file would also catch it: keep only the derivation
    (tmp_path / "my_derivation.py").write_text(wrong.split("# code generated from")[0])
    result = _kflow("derive", "X2", "--claims-file", "my_derivation.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "FAILED" in result.stdout and "kernel ODE" in result.stdout


def test_a_derivation_file_that_raises_exits_2(tmp_path):
    (tmp_path / "bad.py").write_text("raise ValueError('not yet')\n")
    result = _kflow("derive", "X2", "--claims-file", "bad.py", cwd=tmp_path)
    assert result.returncode == 2 and "not yet" in result.stderr and "Traceback" not in result.stderr


def _kflow(*args, cwd):
    return subprocess.run([sys.executable, "-m", "verify.campaign.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**__import__("os").environ,
                                            "PYTHONPATH": str(README.parent)})


def test_readme_claims_file_example_runs_and_reports(tmp_path):
    (tmp_path / "my_claims.py").write_text(_example("# my_claims.py"))
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
