"""The command line: ``harness run | validate | recover | history | compare``.

Exit codes: 0 PASS, 1 FAIL, 2 ERROR or invalid input, 130 interrupted.
User mistakes are reported as ``file:line: field: message``, never as a
traceback; an unexpected exception is an "internal error" (exit 2), with its
traceback only under ``--debug``.

Plug-ins: ``HARNESS_PLUGINS="module:function,..."`` names functions called at
start-up (before the suite is read) that may call
:func:`harness.stages.register_stage` to add step kinds. This module names no stage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import signal
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import cast

from rich.console import Console

from harness import stages as stage_registry
from harness.api import InvalidRun, PreparedRun, event_log, prepare_run, resolve_suite
from harness.config import load_suite
from harness.config.suite import TargetKindName
from harness.engine import (
    RunOptions,
    RunResult,
    interrupted_before_start,
    run_suite,
)
from harness.events import Emit, RunInterrupted
from harness.paths import project_root
from harness.plan import Suite
from harness.reporters import fan_out, write_reports
from harness.reporters.console import ConsoleReporter
from harness.reporters.event_log import EventLog
from harness.runner import Problem

EXIT_INVALID = 2
EXIT_INTERRUPTED = 130
DEFAULT_SUITE = "suites/smoke.yaml"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness", description="One PASS / FAIL verdict for an ML platform release."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    # Also accepted after the command; SUPPRESS keeps a --debug given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", parents=[common], help="run a suite and give a verdict")
    run.add_argument("suite", nargs="?", default=None, help=f"suite file (default {DEFAULT_SUITE})")
    run.add_argument(
        "--report-dir", type=Path, default=None, help="where reports go (default reports/<run-id>/)"
    )
    run.add_argument(
        "--target",
        choices=["local", "external", "kubernetes"],
        default=None,
        help="override the suite's target.kind",
    )
    run.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="local testbed fault switch (repeatable), to prove the verdict catches defects",
    )
    dry = [stage.kind for stage in stage_registry.all_stages() if stage.supports_dry_run]
    run.add_argument(
        "--dry-run",
        action="store_true",
        help=f"steps of kinds that support it ({', '.join(dry)}) touch nothing; "
        "the others run as usual",
    )
    validate = commands.add_parser(
        "validate", parents=[common], help="check a suite and what it references; start nothing"
    )
    validate.add_argument("suite", help="suite file")
    commands.add_parser(
        "recover", parents=[common], help="revert faults left behind by a run that was killed"
    )
    history = commands.add_parser("history", parents=[common], help="list recorded runs")
    history.add_argument("--suite", default=None, help="only the runs of this suite (its name)")
    history.add_argument("--limit", type=_positive_int, default=20, help="at most N runs")
    compare = commands.add_parser(
        "compare",
        parents=[common],
        help="compare two runs (default: the latest vs the last passing run of its suite)",
    )
    compare.add_argument("run_a", nargs="?", default=None, help="run id (or a unique prefix)")
    compare.add_argument("run_b", nargs="?", default=None, help="run id (or a unique prefix)")
    compare.add_argument("--format", choices=["table", "markdown"], default="table")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "validate":
            return validate_command(args.suite)
        if args.command == "recover":
            return recover_command()
        if args.command in ("history", "compare"):
            return _history_command(args)
        return run_command(args)
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        print(f"harness: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if args.debug:
            traceback.print_exc()
        else:
            print("harness: run with --debug for the traceback", file=sys.stderr)
        return EXIT_INVALID


def _history_command(args: argparse.Namespace) -> int:
    from harness.history.commands import compare_command, history_command

    console = Console(highlight=False, width=_console_width())
    if args.command == "history":
        return history_command(args.suite, args.limit, console)
    return compare_command(args.run_a, args.run_b, args.format, console)


def resolve_suite_path(given: str | None) -> Path:
    return resolve_suite(given, DEFAULT_SUITE)


def _plugin_problems() -> list[Problem]:
    env = Path("$HARNESS_PLUGINS")
    return [Problem(env, None, "plugins", line) for line in stage_registry.load_plugins()]


def _load(given: str | None) -> tuple[Suite | None, list[Problem]]:
    plugin_problems = _plugin_problems()
    if plugin_problems:
        return None, plugin_problems
    return load_suite(resolve_suite_path(given), base_dir=project_root())


def _console_width() -> int | None:
    """Terminal width on a terminal; 120 columns in CI logs (unless $COLUMNS says)."""
    return None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"harness: {len(problems)} problem(s) found", file=sys.stderr)


def validate_command(given: str) -> int:
    suite, problems = _load(given)
    if suite is None:
        _print_problems(problems)
        return EXIT_INVALID
    kinds = sorted({step.kind for step in suite.steps})
    print(
        f"{suite.path}: suite {suite.name!r} is valid: {len(suite.stages)} stage(s), "
        f"{len(suite.steps)} step(s) ({', '.join(kinds)}), target {suite.target.kind}"
    )
    return 0


def recover_command() -> int:
    from harness.recovery import live_holdings, recover_everything

    lines = recover_everything()
    for line in lines:
        print(line)
    left = [line for line in lines if line.startswith(("NOT reverted", "skipped unreadable"))]
    if left:
        not_clean = f"harness: {len(left)} item(s) NOT reverted: the ledger is not clean"
        print(not_clean, file=sys.stderr)
        return EXIT_INVALID
    print(f"harness: {len(lines)} item(s) reverted" if lines else "harness: nothing to recover")
    for line in live_holdings():
        print(line)
    return 0


def run_command(args: argparse.Namespace) -> int:
    plugin_problems = _plugin_problems()
    if plugin_problems:
        _print_problems(plugin_problems)
        return EXIT_INVALID
    try:
        prepared = prepare_run(
            resolve_suite_path(args.suite),
            report_dir=args.report_dir,
            target=cast(TargetKindName | None, args.target),
            faults=tuple(args.fault),
            dry_run=args.dry_run,
        )
        if args.dry_run:
            _say_dry_run(prepared.suite)
        with event_log(prepared.options.report_dir, prepared.options.run_id) as log:
            return _run_and_report(prepared, log)
    except InvalidRun as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        if exc.counted:
            print(f"harness: {len(exc.lines)} problem(s) found", file=sys.stderr)
        return EXIT_INVALID


def _run_and_report(prepared: PreparedRun, log: EventLog) -> int:
    console = ConsoleReporter(Console(highlight=False, width=_console_width()))
    emit = fan_out(console, log)
    report_dir = prepared.options.report_dir
    result = asyncio.run(_run_with_signals(prepared.suite, prepared.options, emit, console))
    result = prepared.judged(result)
    with _signals_ignored("harness: writing the reports; please wait"):
        result = write_reports(result, report_dir)
    console.final(result, str(report_dir))
    return result.exit_code


def _say_dry_run(suite: Suite) -> None:
    as_usual = sorted(
        {s.kind for s in suite.steps if not stage_registry.stage_for(s.kind).supports_dry_run}
    )
    if as_usual:
        print(f"harness: --dry-run: {', '.join(as_usual)} steps run as usual", file=sys.stderr)


@contextlib.contextmanager
def _signals_ignored(message: str) -> Iterator[None]:
    """Ctrl-C / SIGTERM while the reports are written only print ``message``."""

    def say(signum: int, frame: FrameType | None) -> None:
        print(message, file=sys.stderr)

    handled = (signal.SIGINT, signal.SIGTERM)
    previous = [signal.signal(sig, say) for sig in handled]
    try:
        yield
    finally:
        for sig, handler in zip(handled, previous, strict=True):
            signal.signal(sig, handler)


async def _run_with_signals(
    suite: Suite, options: RunOptions, emit: Emit, console: ConsoleReporter
) -> RunResult:
    """Run the suite; the first SIGINT/SIGTERM cancels it (steps reap their tools, the
    target is torn down); later signals only say that clean-up is under way."""
    loop = asyncio.get_running_loop()
    run_task = asyncio.create_task(run_suite(suite, options, emit))
    received: list[str] = []

    def on_signal(sig: signal.Signals) -> None:
        if received:
            console.console.print("[bold]still cleaning up child processes; please wait[/bold]")
            return
        received.append(sig.name)
        emit(RunInterrupted(sig.name))
        run_task.cancel()

    handled = (signal.SIGINT, signal.SIGTERM)
    for sig in handled:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        result = await run_task
    except asyncio.CancelledError:  # cancelled before it started: nothing ran
        result = interrupted_before_start(suite, options)
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
    if received and result.interrupted:
        verdict = dataclasses.replace(result.verdict, reason=f"interrupted by {received[0]}")
        result = dataclasses.replace(result, verdict=verdict)
    return result
