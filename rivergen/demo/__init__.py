"""The demo: a signed-up account with the Northwind tables as profiled, searchable datasets,
made through the public API exactly as a person would (`rivergen up --demo`)."""

from rivergen.demo.seed import DEMO_EMAIL, DemoReport, seed_demo

__all__ = ["DEMO_EMAIL", "DemoReport", "seed_demo"]
