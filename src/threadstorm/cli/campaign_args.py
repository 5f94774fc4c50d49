"""Command-line options shared by the commands that run a campaign (``fuzz``, ``check``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from threadstorm.campaign.config import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MODULES,
    CampaignConfig,
    split_names,
)
from threadstorm.errors import UsageError
from threadstorm.generate.catalogue import FAMILIES


def add_campaign_arguments(parser: argparse.ArgumentParser, budget: float) -> None:
    """The options that describe what to storm and how."""
    parser.add_argument("--python", help="target interpreter (a free-threaded CPython build)")
    parser.add_argument(
        "--modules",
        help=f"comma-separated modules to storm (default {','.join(DEFAULT_MODULES)})",
    )
    parser.add_argument(
        "--package",
        action="append",
        default=[],
        help="a package to storm with all its submodules (repeatable)",
    )
    parser.add_argument(
        "--path",
        action="append",
        default=[],
        metavar="DIR",
        help="folder to put on the target's sys.path, e.g. where your extension "
        "was built (repeatable)",
    )
    parser.add_argument(
        "--budget", type=float, default=budget, help=f"fuzzing time in seconds (default {budget:g})"
    )
    parser.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="fork servers side by side (default: one per two CPUs, so a run's threads "
        "race in parallel)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds before a run counts as hung (default 10)",
    )
    parser.add_argument(
        "--runs-per-child",
        type=int,
        default=16,
        help="scenarios one forked child may run in a row (1: a fresh child "
        "for every run; default 16)",
    )
    parser.add_argument("--families", help=f"comma-separated subset of: {', '.join(FAMILIES)}")
    parser.add_argument(
        "--outside-share",
        type=float,
        default=None,
        metavar="FRACTION",
        help="largest share of runs for scenarios the contract policy calls unsupported "
        "(default 0.1; no cap when --families is given)",
    )
    parser.add_argument("--policy", help="TOML contract policy (default: threadstorm's own)")
    parser.add_argument(
        "--deny",
        action="append",
        default=[],
        help="extra callable pattern never to call, e.g. 'mymod.dangerous*'",
    )
    parser.add_argument(
        "--no-follow-up",
        action="store_true",
        help="skip rate, minimisation, backtraces and variants for new buckets",
    )
    parser.add_argument(
        "--follow-up-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="time for following up new buckets after fuzzing (default: half the budget, at "
        "least 30 s); each bucket gets an even share, and rare crashes need more to amplify",
    )
    parser.add_argument("--core-files", action="store_true", help="let crashing runs dump core")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run scenarios on the workers of this Dask scheduler, e.g. tcp://HOST:8786 "
        "(needs threadstorm[dask]; the target must be at the same path on every worker)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"scenarios per Dask task (default {DEFAULT_BATCH_SIZE})",
    )
    add_suppressions_argument(parser)


def add_suppressions_argument(parser: argparse.ArgumentParser) -> None:
    """``--suppressions FILE``: the user's ThreadSanitizer suppressions (repeatable)."""
    parser.add_argument(
        "--suppressions",
        action="append",
        default=[],
        metavar="FILE",
        help="ThreadSanitizer suppression file, used on a TSan target beside CPython's own "
        "(repeatable)",
    )


def config_from_args(args: argparse.Namespace, out: str) -> CampaignConfig:
    """The campaign configuration a command line asks for (validated)."""
    if not args.python:
        raise UsageError("--python is required: the path of a free-threaded python to storm")
    return CampaignConfig(
        python=args.python,
        out=out,
        modules=split_names(args.modules) if args.modules is not None else DEFAULT_MODULES,
        packages=tuple(args.package),
        paths=tuple(args.path),
        budget_s=args.budget,
        seed=args.seed,
        workers=args.workers,
        run_timeout_s=args.timeout,
        runs_per_child=args.runs_per_child,
        families=split_names(args.families),
        outside_share=args.outside_share,
        policy=args.policy,
        deny=tuple(args.deny),
        suppressions=tuple(str(Path(name).absolute()) for name in args.suppressions),
        core_files=args.core_files,
        follow_up=not args.no_follow_up,
        follow_up_budget_s=args.follow_up_budget,
        scheduler=args.scheduler,
        batch_size=args.batch_size,
    ).validate()
