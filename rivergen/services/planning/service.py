"""Planning as a service: a prompt becomes an intent (the built-in provider's translator), and
SQL is checked against the catalog. Stateless; hosted by its own deployment, or in process."""

from __future__ import annotations

from rivergen.services.execution.sql import CompiledQuery, compile_sql
from rivergen.services.planning.builtin import translate
from rivergen.services.planning.catalog import PromptCatalog
from rivergen.services.planning.intents import Intent


class PlanningService:
    async def translate(self, question: str, catalog: PromptCatalog) -> Intent:
        """What the question asks, or a plain "not understood" naming the words."""
        return translate(question, catalog)

    async def compile(self, sql: str, catalog: PromptCatalog) -> CompiledQuery:
        """One read-only SELECT over the catalog, checked (raises with a code otherwise)."""
        return compile_sql(sql, catalog)
