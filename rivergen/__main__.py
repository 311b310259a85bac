"""`python -m rivergen` is the `rivergen` command."""

from rivergen.cli.main import app

app()
