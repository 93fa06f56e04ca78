"""The `gongji` command: Typer commands over the services, one module per group."""

from gongji.cli import benefits, clearing, demo, ops, quote, serve, users  # noqa: F401  (registers the commands)
from gongji.cli.common import app

__all__ = ["app"]
