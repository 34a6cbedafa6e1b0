"""`consent-ledger index [--follow]`: the indexer built from Settings, with a progress bar."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from consent_ledger.composition import make_indexer, open_storage
from consent_ledger.config import Settings
from consent_ledger.errors import ChainError
from consent_ledger.indexer.runner import IndexStep


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _describe(step: IndexStep) -> str:
    rewound = f"rewound to block {step.rewound_to} (reorg); " if step.rewound_to is not None else ""
    return f"{rewound}indexed blocks {step.from_block}..{step.to_block}: {step.events} events"


def index_command(
    settings: Settings,
    follow: bool = False,
    progress: Callable[[str], None] | None = None,
    interval: float = 1.0,
) -> None:
    """Index the deployment's events into its database: backfill to head - CONSENT_CONFIRMATIONS
    with a progress bar (on stderr), then, with `follow`, keep following new blocks (and reorgs)
    every `interval` seconds until Ctrl-C. `progress` receives status lines (default: stderr)."""
    say = progress or _say
    storage = open_storage(settings)
    try:
        indexer = make_indexer(settings, storage)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("blocks"),
            TimeRemainingColumn(),
        )
        started = time.perf_counter()
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("indexing", total=None)
            step = indexer.backfill(lambda done, total: bar.update(task, completed=done, total=max(total, 1)))
        seconds = time.perf_counter() - started
        say(f"{_describe(step)} in {seconds:.1f}s; cursor at block {step.to_block}")
        if not follow:
            return
        say("following new blocks; Ctrl-C to stop")
        try:
            while True:
                try:
                    step = indexer.run_once()
                except ChainError as error:  # node restarting, network blip: the cursor still matches the rows
                    say(f"indexer: {error}; retrying in {interval:g}s")
                    time.sleep(interval)
                    continue
                if step.events or step.rewound_to is not None:
                    say(_describe(step))
                if step.caught_up:
                    time.sleep(interval)
        except KeyboardInterrupt:
            say(f"stopped at block {indexer.cursor()}")
    finally:
        storage.close()
