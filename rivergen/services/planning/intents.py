"""What the built-in provider understood a prompt to ask: one intent, or a clear refusal."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field


class _Intent(BaseModel):
    understood: list[str] = Field(
        default_factory=list, description="How each phrase of the prompt was read."
    )


class QueryIntent(_Intent):
    """A read-only question answered by one SELECT over catalog tables (by name)."""

    kind: Literal["query"] = "query"
    sql: str
    tables: list[str]
    save_as: str | None = Field(
        None, description="A write-back: keep the answer as a new dataset of this name."
    )


class DescribeIntent(_Intent):
    kind: Literal["describe"] = "describe"
    table: str


class ProfileIntent(_Intent):
    kind: Literal["profile"] = "profile"
    table: str


class FindDatasetsIntent(_Intent):
    kind: Literal["find_datasets"] = "find_datasets"
    terms: list[str]


class StartJobIntent(_Intent):
    kind: Literal["start_job"] = "start_job"
    job_kind: str = Field(description="A job kind: query, pagerank, similarity, ...")
    table: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class CreatePolicyIntent(_Intent):
    kind: Literal["create_policy"] = "create_policy"
    policy: dict[str, Any] = Field(
        description="A policy draft in the shape of rivergen.services.governance.schemas."
        "PolicyCreate, with `dataset` naming a table instead of `dataset_id`."
    )


class DeleteDatasetIntent(_Intent):
    kind: Literal["delete_dataset"] = "delete_dataset"
    table: str


class NotUnderstood(_Intent):
    """Said plainly instead of guessing."""

    kind: Literal["not_understood"] = "not_understood"
    message: str
    unknown: list[str] = Field(default_factory=list, description="Words that were not understood.")


Intent = Annotated[
    QueryIntent
    | DescribeIntent
    | ProfileIntent
    | FindDatasetsIntent
    | StartJobIntent
    | CreatePolicyIntent
    | DeleteDatasetIntent
    | NotUnderstood,
    Field(discriminator="kind"),
]

WRITE_INTENTS: frozenset[str] = frozenset({"create_policy", "delete_dataset"})
