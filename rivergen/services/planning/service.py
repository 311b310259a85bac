"""Planning as a service: a prompt becomes an intent (the built-in provider's translator).
Stateless; hosted by its own deployment, or in process. (Execution Support checks the SQL an
intent carries when it runs it: :func:`rivergen.services.execution.sql.compile_sql`.)"""

from __future__ import annotations

from rivergen.services.planning.builtin import translate
from rivergen.services.planning.catalog import PromptCatalog
from rivergen.services.planning.intents import Intent


class PlanningService:
    async def translate(self, question: str, catalog: PromptCatalog) -> Intent:
        """What the question asks, or a plain "not understood" naming the words."""
        return translate(question, catalog)
