"""Routes of Prompt Studio (PSA): execute a question, the history, confirmations, saved
prompts."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, Response, status

from rivergen.agents.prompt_studio.schemas import (
    ConversationDetail,
    ConversationPage,
    ExecuteRequest,
    ExecutionPage,
    ExecutionView,
    SavedPrompt,
    SavedPromptCreate,
    SavedPromptPage,
)
from rivergen.api.accounts import ERRORS
from rivergen.api.deps import PageCursor, PageLimit, PromptsDep
from rivergen.api.security import Context, authorize

router = APIRouter(
    prefix="/api/v1/prompts",
    dependencies=[Depends(authorize)],
    responses=ERRORS,
    tags=["prompts"],
)


Prompts = PromptsDep


@router.post("/execute")
async def execute_prompt(body: ExecuteRequest, context: Context, prompts: Prompts) -> ExecutionView:
    """Answer a question now (within `RIVERGEN_PROMPTS__MAX_SECONDS`): every tool call is
    authorized as the caller's own request would be, and recorded as a turn. Writes are not
    run: the execution stops in `awaiting_confirmation` with the `pending` calls. The status
    says how it ended (`completed`, `not_understood`, `needs_clarification`,
    `awaiting_confirmation`, `failed`). With `conversation_id` the question may follow up the
    conversation's previous answer or answer its clarifying question (404
    `conversation_not_found`); without, a new conversation begins."""
    return await prompts.execute(context, body)


@router.get("/conversations")
async def list_conversations(
    context: Context, prompts: Prompts, limit: PageLimit = 50, cursor: PageCursor = None
) -> ConversationPage:
    """The workspace's conversations, newest first; follow `next_cursor`. Each comes with its
    latest turn, without its data (`rows_withheld`) when computed under other policies than
    the caller's."""
    return await prompts.list_conversations(context, limit, cursor)


@router.get("/conversations/{conversation_id}")
async def get_conversation(
    conversation_id: UUID, context: Context, prompts: Prompts
) -> ConversationDetail:
    """A conversation with its turns, oldest first, each as the history shows it to the
    caller. 404 `conversation_not_found` (another workspace's too)."""
    return await prompts.get_conversation(context, conversation_id)


@router.get("/executions")
async def list_executions(
    context: Context, prompts: Prompts, limit: PageLimit = 50, cursor: PageCursor = None
) -> ExecutionPage:
    """The workspace's executions, newest first; follow `next_cursor`. An execution computed
    under other policies than the caller's comes without its data (`rows_withheld`)."""
    return await prompts.list_executions(context, limit, cursor)


@router.get("/executions/{execution_id}")
async def get_execution(execution_id: UUID, context: Context, prompts: Prompts) -> ExecutionView:
    """An execution with its turns (tool, arguments, result summary, duration, provider);
    without its data (`rows_withheld`) when computed under other policies than the caller's."""
    return await prompts.get(context, execution_id)


@router.post("/executions/{execution_id}/confirm")
async def confirm_execution(
    execution_id: UUID, context: Context, prompts: Prompts
) -> ExecutionView:
    """Run the pending writes. 403 `confirmation_forbidden` unless the caller's role allows
    every one; 409 `execution_not_awaiting_confirmation` when there is nothing to confirm."""
    return await prompts.confirm(context, execution_id)


@router.post("/executions/{execution_id}/rerun", status_code=status.HTTP_201_CREATED)
async def rerun_execution(execution_id: UUID, context: Context, prompts: Prompts) -> ExecutionView:
    """Compute an execution again as the caller, under the caller's own policies: a new
    execution of the caller's (`rerun_of` names the original) whose recorded reads run again
    (the same tool calls, the same SQL; one that read nothing asks its question again; writes
    are not proposed again). This is how a reader gets the rows of an execution listed with
    `rows_withheld`. 404 `execution_not_found`; 409 `execution_not_finished` while it runs."""
    return await prompts.rerun(context, execution_id)


@router.get("/saved")
async def list_saved(
    context: Context, prompts: Prompts, limit: PageLimit = 50, cursor: PageCursor = None
) -> SavedPromptPage:
    return await prompts.list_saved(context, limit, cursor)


@router.post("/saved", status_code=status.HTTP_201_CREATED)
async def save_prompt(body: SavedPromptCreate, context: Context, prompts: Prompts) -> SavedPrompt:
    return await prompts.save(context, body)


@router.delete("/saved/{saved_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_saved(saved_id: UUID, context: Context, prompts: Prompts) -> Response:
    await prompts.delete_saved(context, saved_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
