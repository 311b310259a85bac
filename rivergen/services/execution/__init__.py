"""Execution Support: running plans (:mod:`.runner`) and SQL over the workspace's data."""
