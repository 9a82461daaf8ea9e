"""``kflow``: derive the theory and verify its claims from the command line.

    kflow derive [CLAIM | --all] [--outputs C] [--format text|latex|md] [--out FILE] [--claims-file my_derivation.py]
    kflow verify [--profile quick|full] [--claims T1,T2] [--out DIR] [--seed N] [--time-limit SECONDS]
                 [--no-progress] [--claims-file my_claims.py]
    kflow sweep SPEC [--store PATH] [--resume] [--scheduler ADDRESS] [--workers N] [--no-progress]
    kflow sweep report STORE [--out DIR]
    kflow --version

Exit status (:data:`EXIT_CODES`): 0 all claims pass (derive: every step certified); 1 some claim
failed — disproved (derive: a step is not certified); 2 bad usage or input (one line on stderr,
nothing run); 3 no claim failed but some check errored (raised, exited, timed out or returned no
Verdict); 4 the output could not be written (disk full, permissions; one line on stderr); 130 / 143
interrupted by SIGINT / SIGTERM (``verify`` writes a report marked interrupted first).

``kflow derive --all --format md --out docs/derivations.md`` regenerates the committed
docs/derivations.md (the test suite fails while that file is stale).
"""
from __future__ import annotations

import argparse
import signal
import shlex
import sys
from pathlib import Path

from verify.campaign.report import package_version
from verify.core.files import write_atomically

#: output formats of ``kflow derive``
FORMATS = ("text", "latex", "md")
#: the number of outputs C the derivations use unless --outputs says otherwise (the registry's default)
DEFAULT_OUTPUTS = 2
#: the largest --outputs: exact certificates grow fast with C (``derive --all`` takes minutes at C = 8)
MAX_OUTPUTS = 8

#: exit status → meaning, for both commands (``kflow verify --help`` prints it)
EXIT_CODES = {
    0: "every claim passed (derive: every step certified)",
    1: "some claim FAILED: its check disproved it (derive: some step not certified)",
    2: "bad usage or input: one line on stderr, nothing run",
    3: "no claim failed, but some check ERRORED: it raised, called sys.exit, ran past --time-limit or "
       "returned no Verdict",
    4: "the report (derive: --out) could not be written, e.g. disk full: one line on stderr",
    130: "interrupted (Ctrl-C; 143 for SIGTERM): the report written is marked interrupted",
}
STATUS_HELP = ("Each claim ends pass, fail (disproved) or error (the check could not judge it); the report "
               "counts them, and counts the findings of empirical questions (T9, T10) by outcome apart.")


class UsageError(Exception):
    """Bad usage: reported as one line on stderr with exit status 2."""


class OutputError(Exception):
    """The output could not be written (an OSError): one line on stderr, exit status 4."""


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the report is written, marked interrupted."""

    signal_name = "SIGTERM"


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)  # --out is --out, never a prefix of --outputs
        super().__init__(*args, **kwargs)

    def error(self, message):  # one line, no usage block
        raise UsageError(message)


def _exit_codes_epilog() -> str:
    import textwrap

    lines = ["exit status:"]
    for code, text in EXIT_CODES.items():
        lines += textwrap.wrap(text, 76, initial_indent=f"  {code:<4} ", subsequent_indent=" " * 7)
    return "\n".join(lines)


def _wrapped(text: str) -> str:
    import textwrap

    return textwrap.fill(text, 80)


def _parser() -> argparse.ArgumentParser:
    import theory
    from verify.campaign.runner import DEFAULT_TIME_LIMIT

    claims = ", ".join(theory.DERIVATIONS)
    parser = _Parser(prog="kflow", description="Symbolic-and-numeric verifier for task-driven kernel flows.",
                     epilog=_exit_codes_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"kflow (kernel-flows) {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    derive = sub.add_parser("derive", help="print derivation steps and their certificates (one claim, or --all)")
    derive.add_argument("claim", nargs="?", default=None, help=f"claim id with a derivation ({claims}); default T2")
    derive.add_argument("--all", action="store_true", help="every registered derivation, in claim order")
    derive.add_argument("--outputs", type=int, default=DEFAULT_OUTPUTS, metavar="C",
                        help=f"number of outputs C, 1 … {MAX_OUTPUTS} (default {DEFAULT_OUTPUTS})")
    derive.add_argument("--format", choices=FORMATS, default=None,
                        help="text (default), latex (LaTeX equations) or md (Markdown document)")
    derive.add_argument("--latex", action="store_true", help="same as --format latex")
    derive.add_argument("--out", default=None, metavar="FILE",
                        help="write to FILE (atomically; its folder must exist) instead of standard output")
    _model_arguments(derive)
    derive.add_argument("--claims-file", action="append", default=[], metavar="PATH",
                        help="a Python file of yours that registers derivations (theory.register_derivation) or "
                             "claims; repeatable")
    sweep = sub.add_parser("sweep", help="run a sweep spec (TOML) on Dask into a results store; "
                                         "'kflow sweep report STORE' draws its phase diagrams")
    sweep.add_argument("spec", metavar="SPEC", help="the sweep's TOML spec (or 'report', then the store)")
    sweep.add_argument("store", nargs="?", default=None, metavar="STORE",
                       help="with 'report': the store to report on")
    sweep.add_argument("--store", dest="store_option", default=None, metavar="PATH",
                       help="the SQLite results store (default: sweep-<study>.sqlite)")
    sweep.add_argument("--resume", action="store_true", help="continue a store: skip the cells already done")
    sweep.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="a running Dask scheduler (e.g. tcp://host:8786) instead of a local cluster")
    sweep.add_argument("--workers", type=int, default=2, help="worker processes of the local cluster (default 2)")
    sweep.add_argument("--out", default="sweep-report", help="with 'report': output folder (default ./sweep-report)")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    verify = sub.add_parser("verify", help="run the verification campaign and write a report",
                            description=_wrapped("Run the verification campaign and write report.json, report.md "
                                                 "and figures/ to --out (earlier report files and figures there "
                                                 "are removed first). " + STATUS_HELP),
                            epilog=_exit_codes_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    verify.add_argument("--profile", default="quick", help="quick (default) or full")
    verify.add_argument("--claims", default=None, help="comma-separated claim ids, or 'all' (default)")
    verify.add_argument("--out", default="kflow-report", help="output folder (default ./kflow-report)")
    verify.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    verify.add_argument("--time-limit", default=str(int(DEFAULT_TIME_LIMIT)), metavar="SECONDS",
                        help=f"time limit per claim (default {DEFAULT_TIME_LIMIT:g}; 0: none); a claim over it is "
                             "stopped and reported as an error, and the run goes on")
    verify.add_argument("--no-progress", action="store_true", help="no progress bar")
    verify.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"),
                        help="where the PyTorch experiments of T10 run (default cpu; auto: CUDA when present)")
    _model_arguments(verify)
    verify.add_argument("--claims-file", action="append", default=[], metavar="PATH",
                        help="a Python file of yours that registers extra claims (verify.claims.register); repeatable")
    return parser


def _model_arguments(command) -> None:
    command.add_argument("--model", default=None, metavar="OBJECTIVE",
                         help="a model's objective, e.g. \"0.5*fro2(W@Phi - Y) + lam/2*fro2(W) + mu/2*fro2(Phi)\": "
                              "derived by theory.derive_model (docs: Extending the theory)")
    command.add_argument("--declare", action="append", default=[], metavar="NAME=WHAT",
                         help="with --model: an extra symbol and what it is, e.g. nu=positive, 'M=n x n symmetric "
                              "positive definite', 'b=C x 1' (repeat for several)")
    command.add_argument("--eliminate", default="W", metavar="NAMES",
                         help="with --model: the variables to solve for, comma-separated, in order (default W; "
                              "a bias first: b,W)")


def _derive_model(args):
    """The derived model of --model/--declare/--eliminate (UsageError, one line, for text that is not allowed)."""
    declare = {}
    for item in args.declare:
        name, sep, what = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--declare {item!r}: expected NAME=WHAT, e.g. nu=positive or 'M=n x n symmetric'")
        declare[name.strip()] = what.strip()
    eliminate = tuple(e.strip() for e in args.eliminate.split(",") if e.strip())
    import theory

    try:
        return theory.derive_model(args.model, declare=declare or None, eliminate=eliminate,
                                   C=getattr(args, "outputs", DEFAULT_OUTPUTS))
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc).splitlines()[0]) from None


def _derive(args) -> int:
    fmt = _derive_format(args)
    if args.model is not None and (args.all or args.claim is not None):
        raise UsageError("give a claim, --all or --model, one of them")
    if args.model is None and (args.declare or args.eliminate != "W"):
        raise UsageError("--declare and --eliminate go with --model")
    if args.all and args.claim is not None:
        raise UsageError(f"give a claim or --all, not both (got {args.claim!r} and --all)")
    if not 1 <= args.outputs <= MAX_OUTPUTS:
        raise UsageError(f"--outputs must be between 1 and {MAX_OUTPUTS} (exact certificates grow quickly with C), "
                         f"got {args.outputs}")
    out = _output_file(args.out) if args.out is not None else None
    entries = _model_entries(args) if args.model is not None else _claim_entries(args)
    text = render_derivations(entries, fmt, outputs=args.outputs, command=_derive_command(args, fmt))
    if args.model is not None and fmt == "text":
        text += "\n" + entries[0][2].summary() + "\n"
    failed = [claim for claim, _, derivation in entries if not derivation.certified]
    if out is None:
        sys.stdout.write(text)
    else:
        try:
            write_atomically(out, text)
        except OSError as exc:
            raise OutputError(f"cannot write --out {out}: {exc.strerror or exc}") from None
        status = "all steps certified" if not failed else f"NOT all steps certified ({', '.join(failed)})"
        print(f"wrote {out}: {', '.join(claim for claim, _, _ in entries)}; {status}")
    return 1 if failed else 0


def _model_entries(args) -> list:
    return [("MODEL", f"derived model {args.model}", _derive_model(args))]


def _claim_entries(args) -> list:
    import theory

    for path in args.claims_file:
        load_claims_file(path)
    if args.all:
        claims = list(theory.DERIVATIONS)
    else:
        claim = (args.claim or "T2").strip().upper()
        if claim not in theory.DERIVATIONS:
            raise UsageError(f"no derivation for {args.claim!r}; available: {', '.join(theory.DERIVATIONS)}")
        claims = [claim]
    entries = []
    for claim in claims:
        title, build = theory.DERIVATIONS[claim]
        try:
            derivation = build(args.outputs)
        except (KeyboardInterrupt, UsageError):
            raise
        except Exception as exc:  # noqa: BLE001 - a registered build (a user's) that raises: one line, exit 2
            raise UsageError(f"the derivation {claim} raised {type(exc).__name__}: {exc}") from None
        if not isinstance(derivation, theory.Derivation):
            raise UsageError(f"the derivation {claim} returned {type(derivation).__name__}, not a theory.Derivation")
        entries.append((claim, title, derivation))
    return entries


def _derive_format(args) -> str:
    if args.latex and args.format not in (None, "latex"):
        raise UsageError(f"--latex contradicts --format {args.format}")
    return "latex" if args.latex else (args.format or "text")


def _derive_command(args, fmt: str) -> str:
    """The command line that reproduces this output (without --out), for the header of a Markdown document."""
    if getattr(args, "model", None) is not None:
        parts = ["kflow derive", "--model", shlex.quote(args.model)]
        parts += [f"--declare {shlex.quote(d)}" for d in args.declare]
        if args.eliminate != "W":
            parts.append(f"--eliminate {args.eliminate}")
        parts.append(f"--format {fmt}")
        return " ".join(parts)
    parts = ["kflow derive", "--all" if args.all else (args.claim or "T2").strip().upper()]
    parts += [f"--claims-file {path}" for path in getattr(args, "claims_file", [])]
    if args.outputs != DEFAULT_OUTPUTS:
        parts.append(f"--outputs {args.outputs}")
    parts.append(f"--format {fmt}")
    return " ".join(parts)


def _output_file(path: str) -> Path:
    """--out FILE: not a folder, and its folder exists (checked before anything is derived)."""
    file = Path(path)
    if file.is_dir():
        raise UsageError(f"--out {path} is a folder; give a file name")
    if not file.parent.is_dir():
        raise UsageError(f"--out {path}: folder {file.parent} does not exist")
    return file


def render_derivations(entries, fmt: str, *, outputs: int = DEFAULT_OUTPUTS, command: str = "") -> str:
    """Text of ``kflow derive``: ``entries`` are (claim, title, Derivation) triples, ``fmt`` one of FORMATS.

    Uses only what a derivation shows of itself — ``str`` of its steps, their ``latex()``, its
    ``_repr_markdown_()`` (the notebook rendering) and ``certified`` — so the output follows the
    derivation objects' own rendering. ``md`` is a whole document: a header naming ``command`` (the
    command that regenerates it) and one section per claim with the anchor ``#t1``, ``#t2``, …
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "md":
        return _markdown_document(entries, outputs, command)
    if fmt == "latex":
        return _latex_document(entries, outputs, command)
    blocks = []
    for claim, title, derivation in entries:
        lines = [f"{claim}: {title} (C = {outputs})"]
        for step in derivation.steps:
            lines.append(str(step))
        lines.append(_tally(derivation))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


#: characters with a meaning in LaTeX text, and how to write them
_TEX_TEXT = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
             "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex_text(text: str) -> str:
    """Plain text for LaTeX: its special characters escaped (Unicode letters and symbols kept: lualatex/xelatex)."""
    return "".join(_TEX_TEXT.get(ch, ch) for ch in text)


def _latex_document(entries, outputs: int, command: str) -> str:
    """A LaTeX fragment for a paper's appendix (``\\input`` it): one ``\\subsection*`` per derivation, one item per
    step with its statement, the equation (``equation*``) and its certificate; needs amsmath, and lualatex or
    xelatex for the Unicode in the statements. Each step is also marked by a comment ``% [claim · step]``."""
    lines = [f"% Generated by `{command}` (kernel-flows {package_version()}): do not edit by hand, regenerate.",
             "% Needs amsmath; the statements are Unicode text: compile with lualatex or xelatex (unicode-math).", ""]
    for claim, title, derivation in entries:
        lines += [rf"\subsection*{{{_tex_text(claim)}: {_tex_text(title)} ($C = {outputs}$)}}", r"\begin{enumerate}"]
        for step in derivation.steps:
            certificate = getattr(step, "certificate", None)
            summary = certificate.summary() if certificate is not None else ""
            lines += [f"% [{step.claim} · {step.name}]",
                      rf"\item \textbf{{{_tex_text(step.name)}}} ({_tex_text(step.claim)}) --- {_tex_text(step.statement)}",
                      r"\begin{equation*}", step.latex(), r"\end{equation*}",
                      rf"\emph{{{_tex_text(summary)}}}"]
        lines += [r"\end{enumerate}", rf"\noindent\emph{{{_tex_text(_tally(derivation))}.}}", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _tally(derivation) -> str:
    """"all 11 steps certified", or "all 12 certified (+ 2 definitions, not certificates)", or a failure."""
    if not derivation.certified:
        return "SOME STEPS FAILED certification"
    definitions = sum(1 for step in derivation.steps if getattr(step, "is_definition", False))
    certified = len(derivation.steps) - definitions
    return (f"all {certified} steps certified" if not definitions else
            f"all {certified} certificates passed (+ {definitions} definitions or assumptions, which certify nothing)")


def _markdown_document(entries, outputs: int, command: str) -> str:
    lines = ["# Derivations", "",
             f"Generated by `{command}` from the derivations in `theory/`: do not edit by hand, regenerate.", "",
             "Each claim's derivation, step by step, as `theory` produces it: the step's name and statement, the "
             "equation, and the certificate its own check computed from exactly those sides when this file was "
             "generated (exact evaluation on random rational instances unless the certificate says otherwise; "
             "definitions and assumptions are marked as such and certify nothing). The statements these steps "
             f"derive are explained in docs/theory.md. Derived with C = {outputs} outputs where the "
             "number of outputs matters.", ""]
    lines += [f"- [{claim}](#{claim.lower()}) — {_md_escape(title)}" for claim, title, _ in entries]
    for claim, title, derivation in entries:
        lines += ["", f'## <a id="{claim.lower()}"></a>{claim} — {_md_escape(title)}', "", _markdown_of(derivation)]
    return "\n".join(lines).rstrip("\n") + "\n"


def _markdown_of(derivation) -> str:
    render = getattr(derivation, "_repr_markdown_", None)
    text = render() if callable(render) else None
    return text.strip("\n") if text else "```\n" + str(derivation) + "\n```"


def _md_escape(text: str) -> str:
    """Keep * and _ in titles (W*, theory.derive_coupled) literal in Markdown."""
    return "".join("\\" + ch if ch in "*_`" else ch for ch in text)


def _verify(args, argv) -> int:
    from verify.campaign import report, runner as campaign

    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative int, got {args.seed}")
    try:
        time_limit = campaign.check_time_limit(args.time_limit)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for path in args.claims_file:
        load_claims_file(path)
    if args.model is not None:
        _register_model(_derive_model(args))
        args.claims = args.claims or "MODEL"
    elif args.declare or args.eliminate != "W":
        raise UsageError("--declare and --eliminate go with --model")
    try:
        claim_ids = campaign.parse_claims(args.claims, args.profile)
        profile = campaign.check_profile(args.profile)
        check_device(args.device)
        out = report.prepare_output(args.out)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    origin = report.provenance(argv)
    settings = {"profile": profile, "seed": args.seed, "provenance": origin, "time_limit": time_limit}
    try:
        report.start_report(out, claim_ids, **settings)
    except OSError as exc:
        raise OutputError(f"cannot write the report in {out}: {exc.strerror or exc}") from None
    with _sigterm_as_interrupt():
        try:
            results = campaign.run(claim_ids, profile=profile, seed=args.seed, progress=not args.no_progress,
                                   time_limit=time_limit, device=args.device)
            interrupted, not_run = None, []
        except campaign.Interrupted as stop:
            results, not_run, interrupted = stop.results, stop.not_run, stop.signal_name
        print(campaign.summary_table(results))
        try:
            data = report.write_report(out, results, not_run=not_run, interrupted=interrupted, **settings)
        except OSError as exc:
            raise OutputError(f"cannot write the report in {out}: {exc.strerror or exc}") from None
    print(f"report: {out / 'report.json'}, {out / 'report.md'}")
    if interrupted:
        print(f"kflow: interrupted ({interrupted}) after {len(results)} of {len(claim_ids)} claims; the report "
              f"is marked interrupted", file=sys.stderr)
    return data["exit_status"]


def _register_model(model) -> None:
    """The derived model as the claim MODEL of this run (its flow must close, else there is nothing to check)."""
    from verify.claims import REGISTRY
    from verify.claims.model import check_model
    from verify.claims.registry import Claim

    if not model.closed:
        raise UsageError(f"the model cannot be verified numerically: {model.reason} (kflow derive --model shows "
                         "its derivation)")
    REGISTRY.pop("MODEL", None)
    REGISTRY["MODEL"] = Claim("MODEL", f"Derived model: {model.parsed.text}",
                              f"dK/dt = {model.kernel_rhs}; rank K∞ ≤ {model.rank_bound}",
                              "derived by theory.derive_model from the objective alone",
                              lambda ctx: check_model(model, ctx))


class _sigterm_as_interrupt:
    """While running claims, SIGTERM (a CI timeout, ``kill``) ends the run like Ctrl-C: a report is written."""

    def __enter__(self):
        try:
            self.previous = signal.signal(signal.SIGTERM, self._raise)
        except (ValueError, OSError, AttributeError):  # not the main thread, or no SIGTERM here
            self.previous = None
        return self

    @staticmethod
    def _raise(signum, frame):
        raise _Terminated()

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        return False


def load_claims_file(path: str) -> None:
    """Run a user's claims file (their own Python code, like a conftest.py) so that its claims register.

    Whatever the file raises — an exception, ``sys.exit`` — becomes one line and exit status 2, with
    nothing run and no report written; only Ctrl-C passes through.
    """
    import importlib.util

    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--claims-file {path}: no such file")
    spec = importlib.util.spec_from_file_location(f"kflow_user_claims_{abs(hash(file.resolve()))}", file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:
        raise UsageError(f"--claims-file {path} called sys.exit({exc.code!r}) while loading") from None
    except BaseException as exc:  # noqa: BLE001 - the user's file failed: one line, no traceback, nothing written
        raise UsageError(f"--claims-file {path} raised {type(exc).__name__}: {exc}") from None



def check_device(device: str) -> str:
    """``device`` if usable: "cuda" needs PyTorch with a CUDA device (ValueError naming the argument otherwise)."""
    if device == "cuda":
        from verify.experiments.nets.backend import torch_available

        if not torch_available():
            raise ValueError("device: 'cuda' needs PyTorch (pip install 'kernel-flows[nets]')")
        import torch

        if not torch.cuda.is_available():
            raise ValueError("device: 'cuda' was asked for but PyTorch sees no CUDA device; use --device cpu or auto")
    return device

def _sweep(args) -> int:
    """``kflow sweep SPEC`` (exit 0: every cell done; 3: some cell failed; 130: interrupted, the store resumable) and
    ``kflow sweep report STORE``."""
    if args.spec == "report":
        from verify.campaign.sweep_report import write_sweep_report

        if args.store is None:
            raise UsageError("sweep report: give the store, e.g. kflow sweep report sweep-two-layer-network.sqlite")
        try:
            path = write_sweep_report(args.store, args.out)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        except OSError as exc:
            raise OutputError(f"cannot write the sweep report in {args.out}: {exc.strerror or exc}") from None
        print(f"report: {path}")
        return 0
    if args.store is not None:
        raise UsageError(f"sweep: unexpected argument {args.store!r} (the store is --store PATH)")
    from verify.campaign.sweep_spec import load_spec
    from verify.campaign.sweep_store import StoreError

    if args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    try:
        spec = load_spec(args.spec)
        from verify.campaign.sweep_runner import require_distributed, run_sweep

        require_distributed()
    except (ValueError, ImportError) as exc:
        raise UsageError(str(exc)) from None
    store = args.store_option or f"sweep-{spec.study}.sqlite"
    try:
        summary = run_sweep(spec, store, resume=args.resume, scheduler=args.scheduler, workers=args.workers,
                            progress=not args.no_progress, spec_text=Path(args.spec).read_text())
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    print(f"kflow sweep: {summary.done} done, {summary.failed} failed, {summary.skipped} already done, of "
          f"{summary.cells} cells in {summary.seconds:.1f} s; store {store}")
    if summary.interrupted:
        print("kflow: interrupted; the store holds every finished cell: run again with --resume", file=sys.stderr)
        return 130
    return 3 if summary.failed else 0


def main(argv=None) -> int:
    """The ``kflow`` command: parse ``argv`` (default: the process's arguments), run ``derive``, ``verify`` or ``sweep``,
    and return the exit status of :data:`EXIT_CODES` (bad usage: one line on stderr and 2, never a traceback)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        try:
            args = _parser().parse_args(argv)
        except SystemExit as exc:  # --help, --version: argparse printed them
            return exc.code if isinstance(exc.code, int) else 0
        if args.command == "sweep":
            return _sweep(args)
        return _derive(args) if args.command == "derive" else _verify(args, argv)
    except UsageError as exc:
        print(f"kflow: error: {exc}", file=sys.stderr)
        return 2
    except OutputError as exc:
        print(f"kflow: error: {exc}", file=sys.stderr)
        return 4
    except KeyboardInterrupt as exc:
        name = getattr(exc, "signal_name", "SIGINT")
        print(f"kflow: interrupted ({name})", file=sys.stderr)
        return 143 if name == "SIGTERM" else 130


if __name__ == "__main__":
    sys.exit(main())
