"""A model provider on any OpenAI-compatible ``/v1/chat/completions`` endpoint with tool
calling: the tools go as ``tools``, the calls come back as ``tool_calls``, and each call's
result goes back as a ``tool`` message on the next step."""

from __future__ import annotations

import json
from typing import Any

import httpx

from rivergen.agents.prompt_studio.providers import ProviderError
from rivergen.agents.prompt_studio.steps import (
    Clarification,
    FinalAnswer,
    NotUnderstood,
    Step,
    StepRequest,
    ToolCall,
    ToolCalls,
    Turn,
)
from rivergen.services.planning.catalog import CatalogColumn, CatalogMeasure, PromptCatalog
from rivergen.services.planning.measures import MeasureError, measure_sql
from rivergen.settings import ModelProviderSettings

NOT_UNDERSTOOD = "NOT_UNDERSTOOD:"
CLARIFY = "CLARIFY:"
MAX_TOOL_CONTENT = 8000
MAX_ROWS_SHOWN = 20

SYSTEM = """You answer questions about a workspace's datasets by calling tools.
Call tools to read data; writes (deleting a dataset, creating a policy, saving a result) are
proposed by calling their tool and run only after a person confirms them.
When the tool results answer the question, reply with the answer in plain language.
If the question cannot be answered with these tools and datasets, reply with a message that
starts with NOT_UNDERSTOOD: and say which words you did not understand. Never guess.
If the question fits several readings, reply with a message that starts with CLARIFY: and
asks which one, then one line per reading starting with "- "; the person answers next.
A question may follow up the earlier ones of the conversation ("and by country?", "only
1997", "what about France?"): change the earlier SQL accordingly.

Datasets (table name [business name; other names]: columns [business name; role; other
names]):
{catalog}"""


def _also(names: list[str]) -> str:
    return f"also: {', '.join(names)}" if names else ""


def _column_text(column: CatalogColumn) -> str:
    notes = [
        n
        for n in (
            f'"{column.business_name}"' if column.business_name else "",
            column.role or "",
            _also(column.synonyms),
            f"true={'/'.join(column.true_values)}" if column.true_values else "",
            f"false={'/'.join(column.false_values)}" if column.false_values else "",
        )
        if n
    ]
    return f"{column.name} {column.type}" + (f" [{'; '.join(notes)}]" if notes else "")


def catalog_text(catalog: PromptCatalog) -> str:
    """The datasets, and what the workspace's semantic layer says of them: business names,
    synonyms, roles, measures, relationships and verified queries."""
    lines = []
    for table in catalog.tables:
        columns = ", ".join(_column_text(c) for c in table.columns)
        rows = f", {table.row_count} rows" if table.row_count is not None else ""
        about = f" -- {table.description}" if table.description else ""
        named = [
            n
            for n in (
                f'"{table.business_name}"' if table.business_name else "",
                _also(table.synonyms),
            )
            if n
        ]
        called = f" [{'; '.join(named)}]" if named else ""
        lines.append(f"- {table.name}{called} ({columns}){rows}{about}")
    text = "\n".join(lines) or "(none)"
    if catalog.measures:
        text += "\n\nMeasures (use their SQL for these words):\n" + "\n".join(
            f"- {m.name}"
            + (f" [{_also(m.synonyms)}]" if m.synonyms else "")
            + f" = {_measure_text(m)} over {m.table}"
            + (f" -- {m.description}" if m.description else "")
            for m in catalog.measures
        )
    if catalog.keys:
        text += "\n\nRelationships (join keys):\n" + "\n".join(
            f"- {k.table}.{k.column} = {k.ref_table}.{k.ref_column}" for k in catalog.keys
        )
    if catalog.examples:
        text += "\n\nVerified queries (questions answered correctly before; answer alike):\n"
        text += "\n".join(f"Q: {e.question}\nSQL: {e.sql}" for e in catalog.examples)
    return text


def _measure_text(measure: CatalogMeasure) -> str:
    try:
        return measure_sql(measure.expression, measure.aggregation)
    except MeasureError:
        return measure.expression


def _tool_content(turn: Turn) -> str:
    result = dict(turn.result)
    if isinstance(result.get("rows"), list):
        result["rows"] = result["rows"][:MAX_ROWS_SHOWN]
    body = {"status": turn.status, "summary": turn.summary, "result": result}
    if turn.error:
        body["error"] = turn.error
    return json.dumps(body, default=str)[:MAX_TOOL_CONTENT]


def messages_of(request: StepRequest) -> list[dict[str, Any]]:
    """The conversation so far: system, the question, then each step's calls and results."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM.format(catalog=catalog_text(request.catalog))},
    ]
    for prior in request.conversation.turns if request.conversation else []:
        said = prior.answer or prior.status
        if prior.sql:
            said += f"\nSQL: {prior.sql}"
        messages += [
            {"role": "user", "content": prior.question},
            {"role": "assistant", "content": said},
        ]
    messages.append({"role": "user", "content": request.question})
    by_call = {t.call_id: t for t in request.turns}
    for step in request.assistant:
        messages.append(
            {
                "role": "assistant",
                "content": step.text or None,
                "tool_calls": [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.tool, "arguments": json.dumps(c.arguments)},
                    }
                    for c in step.calls
                ],
            }
        )
        for call in step.calls:
            turn = by_call.get(call.id)
            content = _tool_content(turn) if turn else '{"status": "not run"}'
            messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
    return messages


def step_of(body: Any) -> Step:
    """Read one chat completion; raises :class:`ProviderError` on anything malformed."""
    try:
        message = body["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise ProviderError("the provider's answer has no message") from None
    content = (message.get("content") or "").strip()
    calls = []
    for raw in message.get("tool_calls") or []:
        try:
            function = raw["function"]
            arguments = json.loads(function.get("arguments") or "{}")
        except (KeyError, TypeError, json.JSONDecodeError):
            raise ProviderError("the provider sent a malformed tool call") from None
        if not isinstance(arguments, dict):
            raise ProviderError("the provider sent tool arguments that are not an object")
        call = ToolCall(tool=function["name"], arguments=arguments)
        calls.append(call.model_copy(update={"id": raw["id"]}) if raw.get("id") else call)
    if calls:
        return ToolCalls(calls=calls, text=content)
    if content.startswith(CLARIFY):
        lines = [line.strip() for line in content[len(CLARIFY) :].strip().splitlines()]
        options = [line[2:].strip() for line in lines if line.startswith("- ")]
        question = " ".join(line for line in lines if not line.startswith("- "))
        if len(options) >= 2:
            return Clarification(question=question or "Which one?", options=options)
    if content.startswith(NOT_UNDERSTOOD):
        return NotUnderstood(message=content[len(NOT_UNDERSTOOD) :].strip() or "not understood")
    if not content:
        raise ProviderError("the provider answered neither text nor tool calls")
    return FinalAnswer(text=content)


class OpenAICompatibleProvider:
    def __init__(self, settings: ModelProviderSettings) -> None:
        self.settings = settings
        base = settings.base_url.rstrip("/")
        self.url = (
            f"{base}/chat/completions" if base.endswith("/v1") else (f"{base}/v1/chat/completions")
        )

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def timeout_s(self) -> float:
        return self.settings.timeout_s

    async def step(self, request: StepRequest) -> Step:
        payload = {
            "model": self.settings.model,
            "messages": messages_of(request),
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in request.tools
            ],
            "tool_choice": "auto",
        }
        headers = {}
        if self.settings.api_key is not None:
            headers["Authorization"] = f"Bearer {self.settings.api_key.get_secret_value()}"
        try:
            async with httpx.AsyncClient(timeout=self.settings.timeout_s) as client:
                response = await client.post(self.url, json=payload, headers=headers)
        except httpx.TimeoutException:
            raise ProviderError(f"{self.name} did not answer in {self.timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise ProviderError(f"{self.name} is unreachable: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise ProviderError(
                f"{self.name} answered HTTP {response.status_code}",
                details={"status": response.status_code, "body": response.text[:500]},
            )
        try:
            body = response.json()
        except ValueError:
            raise ProviderError(f"{self.name} answered something other than JSON") from None
        return step_of(body)
