"""The `rivergen` command line."""
