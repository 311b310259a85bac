"""The one SQL engine of the platform: DuckDB, sandboxed, over Arrow relations.

- :mod:`rivergen.engine.sandbox`: what SQL is admitted (sqlglot), before anything runs.
- :mod:`rivergen.engine.duck`: running it (DuckDB in the calling process: a Ray task).
- :mod:`rivergen.engine.spec`: the typed query of the API, checked and compiled to SQL.
"""

from rivergen.engine.duck import EngineLimits, execute, run_sql
from rivergen.engine.sandbox import Admitted, admit

__all__ = ["Admitted", "EngineLimits", "admit", "execute", "run_sql"]
