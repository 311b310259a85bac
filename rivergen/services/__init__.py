"""Capability services: stateless logic, each hosted by its own Serve deployment."""
