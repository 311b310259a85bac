"""PSA, the Prompt Studio agent: a question becomes tool calls (by a model provider), each
authorized by the gateway's table, reads run, writes wait for a confirmation, and the answer
comes with an explanation.

- :class:`ModelProvider`, :class:`BuiltinProvider`, :class:`OpenAICompatibleProvider`,
  :class:`FallbackChain`: who decides the next step.
- :class:`ToolBox`: the tools (and the ports :class:`SqlRunner`, :class:`ResultSaver`,
  :class:`PolicyWriter` that run_sql, save_result and create_policy need).
- :class:`PromptAgent`: the loop; :class:`PromptService`: records, confirms, saved prompts.
- :func:`build_prompt_service`: all of it from settings.
"""

from __future__ import annotations

from rivergen.agents.prompt_studio.agent import AgentRun, PromptAgent
from rivergen.agents.prompt_studio.catalog import catalog_of, load_catalog
from rivergen.agents.prompt_studio.openai import OpenAICompatibleProvider
from rivergen.agents.prompt_studio.ports import (
    DatasetRead,
    PolicyWriter,
    ResultSaver,
    SavedAnswer,
    SqlAnswer,
    SqlRunner,
)
from rivergen.agents.prompt_studio.providers import (
    BuiltinProvider,
    FallbackChain,
    ModelProvider,
    Planner,
    ProviderError,
)
from rivergen.agents.prompt_studio.schemas import ExecuteRequest, ExecutionView, PendingCall
from rivergen.agents.prompt_studio.service import (
    PROMPT_COMPLETED,
    PROMPT_PROGRESS,
    Explainer,
    PromptService,
)
from rivergen.agents.prompt_studio.steps import (
    FinalAnswer,
    NotUnderstood,
    Step,
    StepRequest,
    ToolCall,
    ToolCalls,
    ToolSpec,
    Turn,
)
from rivergen.agents.prompt_studio.tools import Tool, ToolBox, ToolContext, ToolResult
from rivergen.datasets import DatasetService
from rivergen.db import Database
from rivergen.jobs import JobService
from rivergen.services.governance import GovernanceService
from rivergen.settings import PromptSettings


def provider_chain(settings: PromptSettings, planner: Planner | None = None) -> FallbackChain:
    """The in-cluster model when enabled, the configured providers in order, then the
    built-in one (on ``planner``, the Planning service); each attempt is bounded by its
    provider's timeout and the execution's time."""
    configured = list(settings.providers)
    if settings.cluster_llm.enabled:
        configured.insert(0, settings.cluster_llm.provider())
    return FallbackChain(
        [OpenAICompatibleProvider(p) for p in configured],
        settings.max_seconds,
        fallback=BuiltinProvider(planner),
    )


def build_prompt_service(
    db: Database,
    settings: PromptSettings,
    datasets: DatasetService,
    jobs: JobService,
    *,
    sql: SqlRunner | None = None,
    saver: ResultSaver | None = None,
    governance: GovernanceService | None = None,
    provider: ModelProvider | None = None,
    planner: Planner | None = None,
    explainer: Explainer | None = None,
) -> PromptService:
    """Prompt Studio over the platform's services; ``sql``, ``saver`` and ``governance`` plug
    in the tools run_sql, save_result and create_policy (and the catalog's governed hints);
    ``planner`` and ``explainer`` are the Planning and Language & Explanation services (in
    this process when not given)."""
    tools = ToolBox.standard(datasets, jobs, sql=sql, saver=saver, policies=governance)
    agent = PromptAgent(provider or provider_chain(settings, planner), tools, settings)
    return PromptService(db, agent, governance, explainer)


__all__ = [
    "PROMPT_COMPLETED",
    "PROMPT_PROGRESS",
    "AgentRun",
    "BuiltinProvider",
    "DatasetRead",
    "ExecuteRequest",
    "ExecutionView",
    "FallbackChain",
    "FinalAnswer",
    "ModelProvider",
    "NotUnderstood",
    "OpenAICompatibleProvider",
    "PendingCall",
    "PolicyWriter",
    "PromptAgent",
    "PromptService",
    "ProviderError",
    "ResultSaver",
    "SavedAnswer",
    "SqlAnswer",
    "SqlRunner",
    "Step",
    "StepRequest",
    "Tool",
    "ToolBox",
    "ToolCall",
    "ToolCalls",
    "ToolContext",
    "ToolResult",
    "ToolSpec",
    "Turn",
    "build_prompt_service",
    "catalog_of",
    "load_catalog",
    "provider_chain",
]
