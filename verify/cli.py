"""``kflow``: derive the theory and verify its claims from the command line.

    kflow derive T2 [--outputs C] [--latex]
    kflow verify [--profile quick|full] [--claims T1,T2] [--out DIR] [--seed N] [--no-progress]
                 [--claims-file my_claims.py]

Exit status: 0 all claims pass, 1 a claim fails, 2 bad usage or input (one line on stderr).
"""
from __future__ import annotations

import argparse
import sys


class UsageError(Exception):
    """Bad usage: reported as one line on stderr with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kflow", description="Symbolic-and-numeric verifier for task-driven kernel flows.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    derive = sub.add_parser("derive", help="print a claim's derivation steps and their certificates")
    derive.add_argument("claim", nargs="?", default="T2", help="claim id (T1, T2, T3, T4, T6); default T2")
    derive.add_argument("--outputs", type=int, default=2, metavar="C", help="number of outputs C (default 2)")
    derive.add_argument("--latex", action="store_true", help="print the steps as LaTeX equations")
    verify = sub.add_parser("verify", help="run the verification campaign and write a report")
    verify.add_argument("--profile", default="quick", help="quick (default) or full")
    verify.add_argument("--claims", default=None, help="comma-separated claim ids, or 'all' (default)")
    verify.add_argument("--out", default="kflow-report", help="output folder (default ./kflow-report)")
    verify.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    verify.add_argument("--no-progress", action="store_true", help="no progress bar")
    verify.add_argument("--claims-file", action="append", default=[], metavar="PATH",
                        help="a Python file of yours that registers extra claims (verify.claims.register); repeatable")
    return parser


def _derive(args) -> int:
    import theory

    claim = args.claim.strip().upper()
    if claim not in theory.DERIVATIONS:
        raise UsageError(f"no derivation for {args.claim!r}; available: {', '.join(theory.DERIVATIONS)}")
    if args.outputs < 1:
        raise UsageError(f"--outputs must be a positive int, got {args.outputs}")
    title, build = theory.DERIVATIONS[claim]
    derivation = build(args.outputs)
    print(f"{claim}: {title}" + (f" (C = {args.outputs})" if claim in ("T1", "T2") else ""))
    for step in derivation.steps:
        if args.latex:
            print(f"% [{step.claim} · {step.name}] {step.statement}\n{step.latex()}\n% {step.certificate.summary()}")
        else:
            print(step)
    print(f"all {len(derivation.steps)} steps certified" if derivation.certified else "SOME STEPS FAILED certification")
    return 0 if derivation.certified else 1


def _verify(args) -> int:
    from verify import campaign, report

    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative int, got {args.seed}")
    for path in args.claims_file:
        _load_claims_file(path)
    try:
        claim_ids = campaign.parse_claims(args.claims, args.profile)
        profile = campaign.check_profile(args.profile)
        out = report.prepare_output(args.out)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    results = campaign.run(claim_ids, profile=profile, seed=args.seed, progress=not args.no_progress)
    data = report.write_report(out, results, profile=profile, seed=args.seed)
    print(campaign.summary_table(results))
    print(f"report: {out / 'report.json'}, {out / 'report.md'}")
    return 0 if data["passed"] else 1


def _load_claims_file(path: str) -> None:
    """Run a user's claims file (their own Python code, like a conftest.py) so that its claims register."""
    import importlib.util
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--claims-file {path}: no such file")
    spec = importlib.util.spec_from_file_location(f"kflow_user_claims_{abs(hash(file.resolve()))}", file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file failed: one line, no traceback, nothing written
        raise UsageError(f"--claims-file {path} raised {type(exc).__name__}: {exc}") from None


def main(argv=None) -> int:
    try:
        args = _parser().parse_args(argv)
        return _derive(args) if args.command == "derive" else _verify(args)
    except UsageError as exc:
        print(f"kflow: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kflow: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
