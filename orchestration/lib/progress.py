"""Where long work is and how long is left (generate, import, runs at a million customers).

rich's progress bars (already installed with dagster and dagster-dbt, and well kept) on stderr, so the
command's own output on stdout stays clean; without a terminal rich prints the bars' final state only.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def progress_bar() -> Progress:
    """A progress display for one command: use it as a context manager, add one task per stage."""
    return Progress(
        TextColumn("{task.description:<44}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
    )
