"""What every command shares: the Typer app, bad input as one line and exit status 2, the console."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gongji.errors import InputError
from gongji.policy.loader import PolicyBook, PolicyError, load_book

app = typer.Typer(help="gongji (共济): employee medical insurance outpatient mutual aid.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
policy_app = typer.Typer(help="Region policies.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")

PolicyDir = Annotated[
    Path | None,
    typer.Option("--policy-dir", help="A folder of region files read beside the shipped ones "
                 "(default: $GONGJI_POLICY_DIR).", show_default=False),
]
EXIT_BAD_INPUT = 2


def fail(message: str) -> NoReturn:
    """One line on stderr and exit status 2: the input was wrong, nothing was done."""
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(EXIT_BAD_INPUT)


@contextmanager
def bad_input() -> Iterator[None]:
    """A use case's InputError ends the command: one line on stderr, exit status 2."""
    try:
        yield
    except InputError as exc:
        fail(str(exc))


def book_or_fail(policy_dir: Path | None) -> PolicyBook:
    try:
        return load_book(policy_dir)
    except PolicyError as exc:
        fail(str(exc))


def console() -> Console:
    """The terminal's width on a terminal; wide enough for the tables when piped."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


def progress_bar() -> Progress:
    """The bar every long batch shows: what, how far, how long."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console(), transient=False)


@contextmanager
def step_bar(description: str, total: int | None, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """A progress bar advanced, and captioned, by each step a long run reports; none when `quiet` (--json: stdout
    is the JSON alone)."""
    if quiet:
        yield lambda step: None
        return
    with progress_bar() as progress:
        task = progress.add_task(description, total=total)

        def advance(step: str) -> None:
            progress.update(task, advance=1, description=f"{description}: {step}")

        yield advance
