"""Execution Support: SQL compiled to Internal Compute queries, and running them."""
