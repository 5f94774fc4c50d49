"""The task a Dask worker runs: one batch (``campaign.batch``) on this process's fork servers.

Dask ships the call by reference, so every worker needs threadstorm importable and the target at
the path the controller names.  The fork servers live in a module-level ``SessionPool`` keyed by
target: started on first use, restarted when one dies, stopped when the worker process exits (a
worker killed outright leaves servers that see their request pipe close, and exit).  A target
that cannot start here, or a fork server that will not start again, comes back as an
``unusable`` result naming the worker, so the controller can exclude it with one line.
"""

from __future__ import annotations

import atexit
from typing import Any

from threadstorm.campaign.batch import Batch, BatchResult, SessionPool, TargetSpec
from threadstorm.errors import HarnessError

POOL = SessionPool()
atexit.register(POOL.close)


def worker_address() -> str:
    """The Dask worker running this task (``local`` outside Dask)."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"


def run_batch_task(target: dict[str, Any], batch: dict[str, Any]) -> dict[str, Any]:
    """Run the JSON ``batch`` on the JSON ``target``; return the JSON ``BatchResult``."""
    spec = TargetSpec.from_json(target)
    work = Batch.from_json(batch)
    worker = worker_address()
    try:
        result = POOL.run(spec, work, worker)
    except HarnessError as error:
        result = BatchResult(work.number, worker, unusable=str(error))
    return result.to_json()
