"""Benchmarks: each compares RiverGen with a reference run on the same machine, in the same run."""
