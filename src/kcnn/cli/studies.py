"""`kcnn race`, `kcnn studies` and `kcnn study show|stop`: studies that spend runs where they decide something."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console

from kcnn.api.arguments import RACE_TOP, seconds, whole
from kcnn.api.views import safe
from kcnn.cli.common import add_store_option, open_store
from kcnn.cli.output import add_format_option, output_console, print_fitted


def register(commands: Any) -> None:
    """Add `race`, `studies` and `study`."""
    race = commands.add_parser(
        "race",
        help="add seeds, in rounds, only to configurations that may still be the best",
        description="Race the leaderboard's top configurations (or the given keys): seeds are added in rounds to "
        "the configurations still plausibly the best, until the leader is separated from every other (Welch's "
        "test, Holm-corrected across configurations, Pocock's level across rounds) or each has --max-repeats "
        "runs. Workers run the race's runs and advance it; `kcnn studies` shows it.",
        epilog="Examples: kcnn race --top 3 · kcnn race a1b2c3d4 e5f6a7b8 --max-repeats 8",
    )
    race.add_argument("keys", nargs="*", metavar="KEY", help="config keys (or their first characters) to race")
    race.add_argument(
        "--top", type=whole("--top", *RACE_TOP, 3), default=3, help="race the leaderboard's top N (default 3)"
    )
    race.add_argument(
        "--max-repeats", type=whole("--max-repeats", 2, 1000, 10), default=10, help="runs per configuration at most"
    )
    race.add_argument("--alpha", type=float, default=0.05, help="family-wise significance level (default 0.05)")
    race.add_argument("--metric", choices=("best", "final"), default="best", help="validation accuracy to race on")
    add_store_option(race)
    race.set_defaults(handler=run_race)

    optimize = commands.add_parser(
        "optimize",
        help="search a space of configurations with Optuna (TPE, random or grid) and prune weak runs",
        description="Create an Optuna study over SPACE.toml (each hyperparameter's choices or range, plus [fixed] "
        "values; see examples/space.toml). Workers run its trials (impossible configurations are told to Optuna "
        "as failed, at no compute) and stop weak runs between epochs (state pruned). The study lives in the "
        "store; Optuna's storage is optuna.sqlite3 beside it (optuna-dashboard opens it). Needs kcnn[optuna].",
        epilog="Example: kcnn optimize examples/space.toml --trials 30 --pruner median --repeats 2",
    )
    optimize.add_argument("space", metavar="SPACE.toml")
    optimize.add_argument("--trials", type=whole("--trials", 1, 100_000, 20), default=20, help="trials (default 20)")
    optimize.add_argument("--sampler", choices=("tpe", "random", "grid"), default="tpe", help="default: tpe")
    optimize.add_argument("--pruner", choices=("median", "hyperband", "none"), default="median", help="default: median")
    optimize.add_argument(
        "--repeats", type=whole("--repeats", 1, 100, 2), default=1, help="seeds per trial (default 1)"
    )
    optimize.add_argument("--metric", choices=("best", "final"), default="best", help="validation accuracy to maximize")
    optimize.add_argument(
        "--time-limit",
        type=seconds("--time-limit", example="5m"),
        default=None,
        metavar="DURATION",
        help="no new trial after this long: seconds, or with a unit (90s, 5m, 2h)",
    )
    optimize.add_argument(
        "--parallel", type=whole("--parallel", 1, 1000, 4), default=2, help="trials in flight (default 2)"
    )
    optimize.add_argument("--seed", type=whole("--seed", 0, 2**31 - 1, 0), default=0, help="sampler seed (default 0)")
    add_store_option(optimize)
    optimize.set_defaults(handler=run_optimize)

    studies = commands.add_parser(
        "studies", help="list the studies (races, Optuna studies)", description="List every study in the store."
    )
    add_format_option(studies, help="table (default) or json: JSON")
    add_store_option(studies)
    studies.set_defaults(handler=run_studies)

    study = commands.add_parser(
        "study",
        help="show or stop one study; answer a question within a budget",
        description="Show a study (settings, progress, verdict, runs) or stop it (its queued runs are cancelled); "
        "or start a budgeted study that answers which hyperparameters matter and which configuration wins.",
        epilog="Examples: kcnn study show 1 · kcnn study stop 1 · kcnn study answer sweep.toml --budget 5m",
    )
    actions = study.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=type(study))
    for action, text in (("show", "a study's settings, progress, verdict and runs"),
                         ("stop", "stop a running study (its queued runs are cancelled)")):  # fmt: skip
        one = actions.add_parser(action, help=text, description=text[0].upper() + text[1:] + ".")
        one.add_argument("study_id", metavar="ID", type=whole("ID", 1, 2**62, 1))
        add_format_option(one, help="table (default) or json: JSON (show)")
        add_store_option(one)
        one.set_defaults(handler=run_study)
    answer = actions.add_parser(
        "answer",
        help="which hyperparameters matter and which configuration wins, within a wall-time budget",
        description="Start a budgeted study over a sweep file's [grid] (and [fixed] values): it screens a balanced "
        "fraction of the grid with 2 seeds per point, trains the configurations a main-effects model of the "
        "screen leaves plausible under successive halving (a configuration is pruned by its seeds' mean at a few "
        "epochs), races the top few, and answers within --budget (a run that cannot finish in "
        "time is not started). Workers run its runs; `kcnn study show ID` shows the answer and the effect tests.",
        epilog="Example: kcnn study answer examples/dilation_sweep.toml --budget 5m --workers 2, then kcnn worker "
        "--jobs 2 --once",
    )
    answer.add_argument("sweep", metavar="SWEEP.toml")
    answer.add_argument("--budget", type=seconds("--budget", example="5m"), required=True, metavar="DURATION",
                        help="wall time from now to the answer: seconds, or with a unit (90s, 5m, 2h)")  # fmt: skip
    answer.add_argument("--workers", type=whole("--workers", 1, 1024, 2), default=1,
                        help="worker slots that will train it side by side, as kcnn worker --jobs 2 has "
                        "(default 1)")  # fmt: skip
    answer.add_argument("--seeds", type=whole("--seeds", 2, 20, 2), default=2,
                        help="seeds per configuration screened or focused (default 2)")  # fmt: skip
    answer.add_argument("--metric", choices=("best", "final"), default="best", help="validation accuracy to answer on")
    answer.add_argument("--seed", type=whole("--seed", 0, 2**31 - 1, 0), default=0,
                        help="seed of the screening fraction's choice (default 0)")  # fmt: skip
    add_store_option(answer)
    answer.set_defaults(handler=run_answer)


def run_race(args: argparse.Namespace) -> int:
    """Start a race and say what it queued."""
    from kcnn import api

    with open_store(args, create=False) as store:
        study_id = api.race(store, args.keys or None, top=args.top, max_repeats=args.max_repeats,
                            alpha=args.alpha, metric=args.metric)  # fmt: skip
        summary = api.study_summary(store, study_id)
    keys = " ".join(key[:8] for key in summary.study.settings["keys"])
    Console(highlight=False).print(
        f"race {study_id} started on {keys}: {summary.pending} run(s) queued; `kcnn worker` runs them and advances "
        f"the race, `kcnn study show {study_id}` follows it"
    )
    return 0


def run_optimize(args: argparse.Namespace) -> int:
    """Start an Optuna study and say how to follow it."""
    from kcnn import api

    hours = None if args.time_limit is None else args.time_limit / 3600
    with open_store(args, create=True) as store:
        study_id = api.optimize(store, args.space, trials=args.trials, sampler=args.sampler, pruner=args.pruner,
                                repeats=args.repeats, metric=args.metric, timeout_hours=hours,
                                parallel=args.parallel, seed=args.seed)  # fmt: skip
        summary = api.study_summary(store, study_id)
        path = store.path
    Console(highlight=False).print(
        f"study {study_id} started: {summary.pending} run(s) of its first trial(s) queued; `kcnn worker` runs "
        f"them and asks for the next; `kcnn study show {study_id}` follows it; "
        f"optuna-dashboard sqlite:///{path.resolve()}/optuna.sqlite3 opens Optuna's view"
    )
    return 0


def run_answer(args: argparse.Namespace) -> int:
    """Start a budgeted study and say what it queued."""
    from kcnn import api

    with open_store(args, create=True) as store:
        study_id = api.answer(store, args.sweep, budget_seconds=args.budget, workers=args.workers, seeds=args.seeds,
                              metric=args.metric, seed=args.seed)  # fmt: skip
        summary = api.study_summary(store, study_id)
        tight = api.answer_budget_line(store, study_id)
    console = Console(highlight=False)
    console.print(
        f"study {study_id} started: {summary.pending} screening run(s) queued within a {args.budget:.0f} s budget; "
        f"`kcnn worker --jobs {args.workers} --once` runs them and advances the study; `kcnn study show {study_id}` "
        "shows its answer"
    )
    if tight:
        console.print(f"[yellow]note: {safe(tight)}[/]")
    return 0


def run_studies(args: argparse.Namespace) -> int:
    """List the studies."""
    from kcnn import api

    with open_store(args, create=False) as store:
        summaries = [api.study_summary(store, study.id) for study in store.studies()]
    if args.format == "json":
        print(json.dumps([summary.to_dict() for summary in summaries], indent=2))
        return 0
    from kcnn.api.views import studies_table

    print_fitted(output_console(), studies_table(summaries))
    return 0


def run_study(args: argparse.Namespace) -> int:
    """Show or stop one study."""
    from kcnn import api

    with open_store(args, create=False) as store:
        if args.action == "stop":
            cancelled = api.stop_study(store, args.study_id)
            Console(stderr=True, highlight=False).print(
                f"study {args.study_id} stopped; {cancelled} queued run(s) cancelled (running ones finish)"
            )
            return 0
        summary = api.study_summary(store, args.study_id)
        runs = store.study_runs(args.study_id)
        store_path = store.path
    if args.format == "json":
        print(json.dumps({**summary.to_dict(), "runs": [run.id for run in runs]}, indent=2))
        return 0
    from kcnn.api.views import study_table

    parts = [study_table(summary, runs)]
    if summary.study.kind == "answer":
        parts += _answer_effects(store_path, args.study_id)
    print_fitted(output_console(), *parts)
    return 0


def _answer_effects(store_path: Any, study_id: int) -> list[Any]:
    """A budgeted study's effect tests on its own runs, and what more budget would resolve."""
    from kcnn import api
    from kcnn.api.views import effect_tests_table, more_budget_line
    from kcnn.errors import KcnnError

    with api.open_store(store_path, create=False) as store:
        tight = api.answer_budget_line(store, study_id)
        try:
            analysis = api.effect_tests(store, api.study_summary(store, study_id).study.settings["metric"],
                                        study=study_id)  # fmt: skip
        except KcnnError as error:
            return [f"effect tests: {error}", *([f"note: {tight}"] if tight else [])]
    return [effect_tests_table(analysis), more_budget_line(analysis), *([f"note: {tight}"] if tight else [])]
