"""``threadstorm fuzz``: run a campaign, or continue one with ``--resume``."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from rich.console import Console

from threadstorm.campaign.config import (
    DEFAULT_MODULES,
    CampaignConfig,
    prepare_out_dir,
    split_names,
)
from threadstorm.campaign.runner import Campaign
from threadstorm.errors import UsageError
from threadstorm.generate.families import FAMILIES
from threadstorm.store.db import Store, is_store


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "fuzz",
        help="run a campaign against a target interpreter",
        description="Discover the modules' surface inside the target, storm its objects with "
        "concurrent scenarios for the budget, keep every crash and hang in DIR/threadstorm.sqlite,"
        " then measure, minimise and reproduce each new bucket.",
    )
    parser.add_argument("--python", help="target interpreter (a free-threaded CPython build)")
    parser.add_argument(
        "--modules",
        help=f"comma-separated modules to storm (default {','.join(DEFAULT_MODULES)})",
    )
    parser.add_argument("--package", action="append", default=[],
                        help="a package to storm with all its submodules (repeatable)")
    parser.add_argument("--budget", type=float, default=600.0,
                        help="fuzzing time in seconds (default 600)")
    parser.add_argument("--out", help="campaign folder to create (must be new or empty)")
    parser.add_argument("--resume", metavar="DIR", help="continue the campaign in DIR")
    parser.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    parser.add_argument("--workers", type=int, default=0,
                        help="fork servers side by side (default: one per CPU)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds before a run counts as hung (default 10)")
    parser.add_argument("--families", help=f"comma-separated subset of: {', '.join(FAMILIES)}")
    parser.add_argument("--policy", help="TOML contract policy (default: threadstorm's own)")
    parser.add_argument("--deny", action="append", default=[],
                        help="extra callable pattern never to call, e.g. 'mymod.dangerous*'")
    parser.add_argument("--no-follow-up", action="store_true",
                        help="skip rate, minimisation, backtraces and variants for new buckets")
    parser.add_argument("--core-files", action="store_true", help="let crashing runs dump core")
    parser.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace) -> CampaignConfig:
    """The campaign configuration a command line asks for (validated)."""
    if not args.python:
        raise UsageError("--python is required: the path of a free-threaded python to storm")
    if not args.out:
        raise UsageError("--out is required: a new folder for the campaign's store and reports")
    return CampaignConfig(
        python=args.python,
        out=args.out,
        modules=split_names(args.modules) if args.modules is not None else DEFAULT_MODULES,
        packages=tuple(args.package),
        budget_s=args.budget,
        seed=args.seed,
        workers=args.workers,
        run_timeout_s=args.timeout,
        families=split_names(args.families),
        policy=args.policy,
        deny=tuple(args.deny),
        core_files=args.core_files,
        follow_up=not args.no_follow_up,
    ).validate()


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=False)
    if args.resume:
        return resume(Path(args.resume), console)
    config = config_from_args(args)
    out = Path(config.out)
    existed = out.exists()
    prepare_out_dir(config.out, resume=False)
    try:
        campaign = Campaign(config, console)
        campaign.prepare()
    except BaseException:
        if not existed:
            shutil.rmtree(out, ignore_errors=True)  # we made it; leave nothing half-written
        raise
    with Store.create(out, config.to_json()) as store:
        campaign.run(store)
    return 0


def resume(folder: Path, console: Console) -> int:
    """Continue a campaign with its stored configuration, for the rest of its budget."""
    if not is_store(folder):
        raise UsageError(f"{folder} holds no threadstorm campaign to resume; start one with --out")
    with Store.open(folder) as store:
        record = store.campaign()
        config = CampaignConfig.from_json(record.config).validate()
        left = config.budget_s - record.duration_s
        if left <= 0:
            console.print(f"campaign in {folder} has used its {config.budget_s:.0f} s budget")
            return 0
        console.print(f"resuming {folder}: {record.runs} runs so far, {left:.0f} s left")
        campaign = Campaign(config, console)
        campaign.prepare()
        campaign.run(store, seed_offset=record.runs, already_s=record.duration_s)
    return 0
