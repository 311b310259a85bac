"""Language & Explanation as a service: what its deployment hosts, and what runs in process
when the platform runs in one process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rivergen.services.language.explain import explain
from rivergen.services.language.schemas import Explanation

if TYPE_CHECKING:
    from rivergen.agents.prompt_studio.schemas import ExecutionView


class ExplanationService:
    """Stateless: a plain-language account of an execution."""

    async def explain(self, execution: ExecutionView) -> Explanation:
        return explain(execution)
