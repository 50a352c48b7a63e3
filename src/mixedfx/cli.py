"""The ``mixedfx`` command: fit a model to a data set and print lme4's summary or JSON."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

__all__ = ["main", "run"]


PLOTS = ("caterpillar", "residuals", "qq", "profile")


class _Parser(argparse.ArgumentParser):
    """argparse's parser, reporting a bad command line in two lines rather than the whole usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n(see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mixedfx", description="Linear mixed-effects models with lme4's syntax.")
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("fit", help="fit a model and print lme4's summary (or JSON)")
    fit.add_argument("formula", help='lme4 formula, e.g. "Reaction ~ Days + (Days | Subject)"')
    fit.add_argument("--data", required=True,
                     help="a bundled data set's name, or a CSV, TSV, Parquet or whitespace-separated file")
    fit.add_argument("--ml", action="store_true", help="fit by maximum likelihood instead of REML")
    fit.add_argument("--weights", help="column holding prior weights")
    fit.add_argument("--family", help="fit a generalized model (glmer): binomial, poisson, Gamma, "
                                      "inverse_gaussian, gaussian, or negbin for glmer.nb")
    fit.add_argument("--link", help="link function for --family (the family's default when omitted)")
    fit.add_argument("--nagq", type=int, default=1,
                     help="glmer: 1 = Laplace (default), 0 = PIRLS only, >1 = adaptive Gauss-Hermite nodes")
    fit.add_argument("--json", action="store_true", help="print the fit's numbers as one JSON object")
    fit.add_argument("--plot", choices=PLOTS, help="draw a plot of the fit to --out instead of printing the summary "
                                                   "(needs matplotlib: pip install 'mixedfx[plot]')")
    fit.add_argument("--out", help="the file --plot writes; its extension picks the format (.png, .pdf, .svg)")
    commands.add_parser("datasets", help="list the bundled data sets")
    serve = commands.add_parser("serve", help="keep a warm process that answers later commands in a few "
                                              "hundredths of a second instead of about a second")
    serve.add_argument("--idle-minutes", type=float, default=30.0,
                       help="end the server after this many minutes without a command (default 30)")
    serve.add_argument("--stop", action="store_true", help="stop the running server")
    serve.add_argument("--status", action="store_true", help="say whether a server is running")
    return parser


@contextmanager
def _uncollected_imports() -> Iterator[None]:
    """Pause the cyclic garbage collector while the command imports its modules, then freeze what they made.

    pandas, scipy and numba make a few hundred thousand objects on import, all
    kept until the process ends; the collector traversed them again and again
    (about a tenth of a small fit's CPU). Frozen (:func:`gc.freeze`), they are
    skipped by the collections during the fit; :func:`main` unfreezes them when
    the command is done, for callers that go on in the same process.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _fit(args: argparse.Namespace) -> None:
    with _uncollected_imports():
        import numba  # noqa: F401, PLC0415 - the fit's kernels import it; here what it makes is frozen too

        from mixedfx.api import glmer, glmer_nb, lmer
        from mixedfx.datasets.readers import read_data

    if args.family is None and (args.link is not None or args.nagq != 1):
        raise ValueError("--link and --nagq apply to generalized models: give --family too")
    if (args.plot is None) != (args.out is None):
        raise ValueError("--plot and --out go together: --plot caterpillar --out fig.png")
    if args.plot is not None and args.json:
        raise ValueError("--plot writes a file and --json prints the numbers: give one of them")
    data = read_data(args.data)
    if args.family is None:
        fit = lmer(args.formula, data, REML=not args.ml, weights=args.weights)
    elif args.family.lower() in ("negbin", "negative_binomial", "glmer.nb"):
        if args.link is not None:
            raise ValueError("--link is not available with --family negbin (glmer.nb uses the log link)")
        fit = glmer_nb(args.formula, data, weights=args.weights, nAGQ=args.nagq)
    else:
        from mixedfx.glmm.families import get_family  # noqa: PLC0415 - an lmer fit does not load the families

        family = get_family(args.family, link=args.link)
        fit = glmer(args.formula, data, family=family, weights=args.weights, nAGQ=args.nagq)
    if args.plot is not None:
        _write_plot(fit, args.plot, args.out)
    elif args.json:
        print(fit.to_json())
    else:
        print(fit.summary())


def _write_plot(fit, kind: str, out: str) -> None:
    from mixedfx import plots

    figure = plots.profile(fit.profile()) if kind == "profile" else getattr(plots, kind)(fit)
    figure.savefig(out)
    print(f"wrote the {kind} plot to {out}")


def _datasets() -> None:
    from mixedfx import datasets

    for name in datasets.names():
        info = datasets.describe(name)
        print(f"{name:<12} {info['nrow']:>6} rows  {info['description']}")


def _serve(args: argparse.Namespace) -> None:
    if os.name != "posix":
        raise OSError("mixedfx serve needs a POSIX system (it forks for each command and listens on a Unix socket)")
    from mixedfx.command_server import client

    if args.stop or args.status:
        if args.stop and args.status:
            raise ValueError("--stop and --status are separate requests: give one of them")
        running = client.stop() if args.stop else client.serving()
        state = ("stopped" if args.stop else "running") if running else "not running"
        print(f"mixedfx: the command server is {state}")
        return
    if not args.idle_minutes > 0:
        raise ValueError(f"--idle-minutes must be positive, got {args.idle_minutes:g}")
    path = client.start(args.idle_minutes)
    print(f"mixedfx: a warm server answers this installation's commands until idle for {args.idle_minutes:g} "
          f"minutes (socket {path}); 'mixedfx serve --stop' ends it")


def _error_text(exc: BaseException) -> str:
    """An error in at most two lines: its message's first line, then the rest (a formula) on one line.

    A formula syntax error's caret line is left out: the message names the
    token and its position.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() not in ("", "^")]
    if not lines:
        return f"mixedfx: error: {type(exc).__name__}"
    rest = f"\n  {' '.join(lines[1:])}" if len(lines) > 1 else ""
    return f"mixedfx: error: {lines[0]}{rest}"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Errors in the input (a bad formula, data that do not fit the model, a file
    that cannot be read, a model too large for memory) are printed to stderr
    as ``mixedfx: error: ...`` (two lines at most) without a traceback, and
    give status 2; a successful run's warnings are printed as
    ``mixedfx: warning: ...``, one line each.
    """
    args = _parser().parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if args.command == "fit":
                _fit(args)
            elif args.command == "serve":
                _serve(args)
            else:
                _datasets()
        except BrokenPipeError:
            # the reader stopped early (``mixedfx fit ... | head``): nothing is wrong, and nothing more to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except (ValueError, TypeError, OSError, MemoryError, ImportError) as exc:
            _print_warnings(caught)  # what was noticed on the way may be why it failed
            print(_error_text(exc), file=sys.stderr)
            return 2
        finally:
            gc.unfreeze()  # what the imports froze (:func:`_uncollected_imports`) is collectable again
    _print_warnings(caught)
    return 0


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    for warning in dict.fromkeys(str(w.message) for w in caught):
        print(f"mixedfx: warning: {warning}", file=sys.stderr)


def run() -> NoReturn:
    """The ``mixedfx`` program (and ``python -m mixedfx.cli``): :func:`main`, its status the exit status.

    Where a server started by ``mixedfx serve`` answers this installation, the
    command runs there (:mod:`mixedfx.command_server`), without importing or
    loading anything here. Otherwise the process's objects are frozen before it
    exits, so the interpreter's last collection skips them: they are freed at
    exit either way, and traversing them cost about 0.15 s of CPU after a small fit.
    """
    if sys.argv[1:2] != ["serve"] and os.name == "posix":
        from mixedfx.command_server.client import forward

        status = forward(sys.argv[1:])
        if status is not None:
            sys.exit(status)
    status = main()
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    run()
