"""Governance: the workspace's policies (row filters, masks, query limits, access), evaluated
and applied to every path that returns data."""
