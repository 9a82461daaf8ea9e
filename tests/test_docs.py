"""The repository carries its own specification (docs/), and every citation of it resolves.

- no tracked file cites a specification outside the repository;
- every ``docs/….md`` path cited in a tracked file exists, and its ``#anchor`` (or ", T3" section)
  names a heading of that file; every relative link in a tracked Markdown file resolves;
- docs/conventions.md lists every entry of the tolerance table ``verify.TOL`` with its value;
- docs/derivations.md is what ``kflow derive --all --format md`` writes now (not stale);
- ``kflow derive`` answers bad usage with exit status 2 and one line.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
import subprocess
import time
from functools import lru_cache
from pathlib import Path

import pytest

from verify.campaign.cli import main
from verify.core.tolerances import TOL

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFRESH = "kflow derive --all --format md --out docs/derivations.md"
#: names of documents that are not part of the repository (spelled in pieces so this file does not cite them)
FOREIGN = ("THEORY" + ".md", "DESIGN" + ".md", "seed-paper" + "-summary")
TEXT_SUFFIXES = {".py", ".md", ".ipynb", ".toml", ".txt", ".cfg", ".ini", ".yml", ".yaml", ""}
#: docs/<file>.md, optionally followed by #anchor or ", T<k>" (a claim's section)
CITATION = re.compile(r"(?<![\w./-])(docs/[\w./-]+?\.md)(?:#([\w-]+)|, (T\d+)\b)?")
LINK = re.compile(r"\[[^\]\n]*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ID = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"", re.IGNORECASE)


@lru_cache(maxsize=None)
def tracked_files() -> tuple[Path, ...]:
    try:
        done = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    paths = (ROOT / name for name in done.stdout.decode("utf-8").split("\0") if name)
    return tuple(p for p in paths if p.is_file())


@lru_cache(maxsize=None)
def text_of(path: Path) -> str | None:
    if path.suffix not in TEXT_SUFFIXES:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def tracked_texts():
    for path in tracked_files():
        text = text_of(path)
        if text is not None:
            yield path, text


def without_code(markdown: str) -> str:
    """Markdown without fenced code blocks and inline code (links and headings there are not links)."""
    markdown = re.sub(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", "", markdown, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", markdown)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the rendered text, lower case, punctuation dropped, spaces → hyphens."""
    text = re.sub(r"<[^>]+>", "", heading)
    text = re.sub(r"[*`]|\\(?=[^\w\s])", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@lru_cache(maxsize=None)
def anchors(path: Path) -> frozenset[str]:
    """Anchors a link may name in a Markdown file: heading slugs (with GitHub's -1, -2 for repeats) and
    explicit <a id="…"> anchors."""
    found, seen = set(HTML_ID.findall(path.read_text(encoding="utf-8"))), {}
    for line in without_code(path.read_text(encoding="utf-8")).splitlines():
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            found.add(base if base not in seen else f"{base}-{seen[base]}")
            seen[base] = seen.get(base, 0) + 1
    return frozenset(found)


def where(path: Path, text: str, index: int) -> str:
    return f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, index) + 1}"


# --- the specification is the repository's own -------------------------------------------------


def test_the_docs_exist():
    for name in ("README.md", "theory.md", "conventions.md", "derivations.md"):
        assert (DOCS / name).is_file(), f"docs/{name} is missing"


def test_no_tracked_file_cites_documents_outside_the_repository():
    hits = [f"{where(path, text, m.start())}: {m.group(0)}" for path, text in tracked_texts()
            for m in re.finditer("|".join(map(re.escape, FOREIGN)), text)]
    assert not hits, ("cite the repository's own specification (docs/theory.md#t3, docs/conventions.md#ranks) "
                      "instead of documents users cannot see:\n" + "\n".join(hits))


def test_every_claim_has_a_section_in_theory_md():
    missing = [f"T{k}" for k in range(1, 11) if f"t{k}" not in anchors(DOCS / "theory.md")]
    assert not missing, f"docs/theory.md has no section (#t1 … #t10) for {', '.join(missing)}"


def test_cited_docs_files_and_sections_exist():
    broken = []
    for path, text in tracked_texts():
        for match in CITATION.finditer(text):
            target = ROOT / match.group(1)
            anchor = match.group(2) or (match.group(3) or "").lower()
            if not target.is_file():
                broken.append(f"{where(path, text, match.start())}: {match.group(1)} does not exist")
            elif anchor and anchor not in anchors(target):
                broken.append(f"{where(path, text, match.start())}: {match.group(1)} has no section #{anchor}")
    assert not broken, "citations of docs/ that do not resolve:\n" + "\n".join(broken)


def test_relative_links_in_markdown_resolve():
    broken = []
    for path, text in tracked_texts():
        if path.suffix != ".md":
            continue
        for match in LINK.finditer(without_code(text)):
            target = match.group(1)
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
                continue
            file, _, anchor = target.partition("#")
            resolved = (path.parent / file).resolve() if file else path
            if not resolved.exists():
                broken.append(f"{path.relative_to(ROOT)}: link to {target}: no such file")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{path.relative_to(ROOT)}: link to {target}: no heading #{anchor}")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_conventions_list_every_tolerance_with_its_value():
    text = (DOCS / "conventions.md").read_text(encoding="utf-8")
    section = re.search(r"^## Tolerances\n(.*?)(?=^## )", text, flags=re.S | re.M)
    assert section, "docs/conventions.md has no section '## Tolerances'"
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", section.group(1), flags=re.M))
    wrong = []
    for field in dataclasses.fields(TOL):
        value = getattr(TOL, field.name)
        if field.name not in rows:
            wrong.append(f"{field.name} ({value:g}) is not in the table")
        elif rows[field.name] != f"{value:g}":
            wrong.append(f"{field.name}: the table says {rows[field.name]}, verify.TOL says {value:g}")
    extra = sorted(set(rows) - {f.name for f in dataclasses.fields(TOL)})
    wrong += [f"{name} is in the table but not in verify.TOL" for name in extra]
    assert not wrong, "docs/conventions.md, Tolerances, disagrees with verify/core/tolerances.py:\n" + "\n".join(wrong)


# --- docs/derivations.md is generated, and current ----------------------------------------------


def test_derivations_md_is_current(tmp_path, capsys):
    """Regenerates every registered derivation at C = 2 and compares: 20-50 s of SymPy when run alone, about
    1 s in the whole suite, where tests/test_derivation_certificates.py has derived (and cached) them already."""
    fresh = tmp_path / "derivations.md"
    start = time.perf_counter()
    status = main(["derive", "--all", "--format", "md", "--out", str(fresh)])
    seconds = time.perf_counter() - start
    capsys.readouterr()
    assert status == 0, f"some derivation steps are not certified (see {fresh}); docs/derivations.md not compared"
    committed = (DOCS / "derivations.md").read_text(encoding="utf-8")
    new = fresh.read_text(encoding="utf-8")
    if new != committed:
        diff = "".join(list(difflib.unified_diff(committed.splitlines(True), new.splitlines(True),
                                                 "docs/derivations.md (committed)", "regenerated", n=1))[:40])
        pytest.fail(f"docs/derivations.md is stale: refresh it with `{REFRESH}` and commit it "
                    f"(regenerated in {seconds:.0f} s).\n{diff}")


def test_derivations_md_says_it_is_generated():
    head = (DOCS / "derivations.md").read_text(encoding="utf-8").splitlines()[:4]
    assert any("kflow derive --all --format md" in line and "do not edit by hand" in line for line in head), head


# --- kflow derive: formats and bad usage ----------------------------------------------------------


def test_derive_md_of_one_claim_is_written_atomically(tmp_path, capsys):
    out = tmp_path / "t4.md"
    assert main(["derive", "T4", "--format", "md", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Derivations\n")
    assert "`kflow derive T4 --format md`" in text
    assert '## <a id="t4"></a>T4' in text and "$$" in text
    assert [p.name for p in tmp_path.iterdir()] == ["t4.md"], "a temporary file was left behind"


def test_derive_md_to_stdout(capsys):
    assert main(["derive", "T4", "--format", "md"]) == 0
    assert capsys.readouterr().out.startswith("# Derivations\n")


@pytest.mark.parametrize("argv", [
    pytest.param(["derive", "T2", "--all"], id="claim and --all"),
    pytest.param(["derive", "--format", "html"], id="unknown format"),
    pytest.param(["derive", "--latex", "--format", "md"], id="--latex contradicts --format"),
    pytest.param(["derive", "--all", "--out", "no-such-folder/derivations.md"], id="--out in a missing folder"),
    pytest.param(["derive", "--all", "--out", "."], id="--out is a folder"),
])
def test_derive_bad_usage_exits_2_with_one_line_and_writes_nothing(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and err.startswith("kflow: error:"), err
    assert list(tmp_path.iterdir()) == []
