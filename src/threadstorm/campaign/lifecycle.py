"""A campaign's lifecycle: start one in a new folder, or resume one, with its store checked.

The command line only parses arguments and prints; what starting and resuming mean lives here,
beside the campaign itself (``runner``), its follow-up and its folder lock.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from rich.console import Console

from threadstorm.campaign.config import CampaignConfig, prepare_out_dir
from threadstorm.campaign.followup import merge_by_site, unfinished
from threadstorm.campaign.lock import campaign_lock
from threadstorm.campaign.runner import Campaign, CampaignResult
from threadstorm.errors import CouldNotTest, UsageError
from threadstorm.store.db import Store, is_store


def run_new_campaign(config: CampaignConfig, console: Console) -> CampaignResult:
    """Check everything, then create the store and run; a bad start leaves nothing behind."""
    out = Path(config.out)
    made = outermost_missing(out)
    with contextlib.ExitStack() as held:
        try:
            prepare_out_dir(config.out, resume=False)
            held.enter_context(campaign_lock(out))  # one controller per folder
            campaign = Campaign(config, console)
            campaign.prepare()
        except BaseException:
            if made is not None:
                shutil.rmtree(made, ignore_errors=True)  # we made it: leave nothing half-written
            raise
        with Store.create(out, config.to_json()) as store:
            return campaign.run(store)


def outermost_missing(path: Path) -> Path | None:
    """The outermost folder that making ``path`` creates (None when ``path`` exists)."""
    path = path.absolute()
    if path.exists():
        return None
    while path.parent != path and not path.parent.exists():
        path = path.parent
    return path


def resume_campaign(folder: Path, console: Console) -> None:
    """Continue a campaign with its stored configuration, for the rest of its budget, and finish
    the follow-up a kill interrupted; the store's integrity is checked before and after.

    A controller killed after it stored its last bucket's repro script (during gdb, variant
    search or the site merges) leaves nothing to follow up but a campaign not ``finished``:
    resuming it does the merges and marks it finished.
    """
    if not is_store(folder):
        raise UsageError(f"{folder} holds no threadstorm campaign to resume; start one with --out")
    with campaign_lock(folder), Store.open(folder) as store:
        check_integrity(store, "before resuming")
        record = store.campaign()
        config = CampaignConfig.from_json(record.config).validate()
        left = config.budget_s - record.duration_s
        pending = unfinished(store) if config.follow_up else []
        if left <= 0 and not pending:
            if record.status != "finished":  # killed after the last follow-up step it stored
                if config.follow_up:
                    merge_by_site(store, console)
                store.update_campaign(status="finished")
            console.print(f"campaign in {folder} has used its {config.budget_s:.0f} s budget")
            return
        console.print(
            f"resuming {folder}: {record.runs} runs so far, {max(0.0, left):.0f} s left, "
            f"{len(pending)} bucket(s) to follow up"
        )
        campaign = Campaign(config, console)
        campaign.prepare()
        campaign.run(store, seed_offset=record.runs, already_s=record.duration_s)
        check_integrity(store, "after resuming")
        console.print("store integrity: ok")


def check_integrity(store: Store, when: str) -> None:
    """Refuse to go on with a store that ``PRAGMA integrity_check`` finds damaged (exit 3)."""
    problems = store.integrity_problems()
    if problems:
        raise CouldNotTest(
            f"the store in {store.folder} is damaged ({when}): {problems[0]}"
            + (f" and {len(problems) - 1} more problem(s)" if len(problems) > 1 else "")
        )
