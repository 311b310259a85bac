"""The catalog a prompt is understood against: the workspace's datasets (current versions) as
named tables, built from the dataset registry.

A text column carries its distinct values as a hint (from the version's kept profile: the
values it keeps, up to a few thousand, or else its top values when they are all of them), so
"customers in Germany" finds the column that holds "Germany" and "the price of Chai" the
product named so. Hints come only
from datasets the caller's policies leave as they are: a masked or filtered dataset gives
none (its values would tell what the policy hides).

The workspace's confirmed semantic layer (:mod:`rivergen.semantic`) is applied to it: business
names, synonyms, column roles, measures, relationships (the catalog's keys) and verified
queries, which both providers read."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import asyncpg

from rivergen.accounts.principal import RequestContext
from rivergen.db import Database
from rivergen.semantic import store as semantic_store
from rivergen.semantic.catalog import apply_layer
from rivergen.semantic.schemas import SemanticLayer
from rivergen.services.governance import GovernanceService, Governed
from rivergen.services.governance.evaluation import changes_data
from rivergen.services.planning.catalog import CatalogColumn, CatalogTable, PromptCatalog

MAX_TABLES = 500
MAX_HINTED_VALUES = 50
"""A text column without kept values is hinted only when its profile saw every distinct value
in its top values and there are at most this many."""


def _hints(profile: Any) -> dict[str, list[str]]:
    if profile is None:
        return {}
    hints: dict[str, list[str]] = {}
    for column in json.loads(profile).get("columns", []):
        if column.get("type") not in ("string", "large_string"):
            continue
        distinct = column.get("distinct_count")
        kept = column.get("values")
        top = [v.get("value") for v in column.get("top_values", [])]
        if distinct is None or distinct <= 0:
            continue
        if distinct <= min(MAX_HINTED_VALUES, len(top)):
            values = top  # most frequent first
        elif isinstance(kept, list) and len(kept) == distinct:
            values = kept
        else:
            continue
        if all(isinstance(v, str) for v in values):
            hints[column["name"]] = values
    return hints


async def catalog_of(conn: asyncpg.Connection, limit: int = MAX_TABLES) -> PromptCatalog:
    """The datasets of the connection's tenant transaction, newest first."""
    rows = await conn.fetch(
        "SELECT d.id, d.name, d.description, d.tags, v.version, v.columns, v.row_count, "
        "p.profile FROM datasets d JOIN dataset_versions v "
        "ON v.dataset_id = d.id AND v.version = d.current_version "
        "LEFT JOIN dataset_profiles p ON p.dataset_id = d.id AND p.version = v.version "
        "ORDER BY d.created_at DESC, d.id DESC LIMIT $1",
        limit,
    )
    tables = []
    for r in rows:
        hints = _hints(r["profile"])
        tables.append(
            CatalogTable(
                dataset_id=r["id"],
                version=r["version"],
                name=r["name"],
                description=r["description"],
                tags=list(r["tags"]),
                columns=[
                    CatalogColumn(name=c["name"], type=c["type"], values=hints.get(c["name"], []))
                    for c in json.loads(r["columns"])
                ],
                row_count=r["row_count"],
            )
        )
    return PromptCatalog(tables=tables)


async def load_catalog(
    db: Database, context: RequestContext, governance: GovernanceService | None = None
) -> PromptCatalog:
    """The caller's catalog; without ``governance`` (tests of the agent alone) every hint
    stays."""
    catalog, _ = await governed_catalog(db, context, governance)
    return catalog


async def governed_catalog(
    db: Database, context: RequestContext, governance: GovernanceService | None = None
) -> tuple[PromptCatalog, dict[UUID, Governed]]:
    """The caller's catalog with the workspace's confirmed semantic layer, and what its
    policies make of each of its datasets (empty without ``governance``)."""
    async with db.transaction(str(context.require_workspace())) as conn:
        catalog = await catalog_of(conn)
        layer = await semantic_store.confirmed(conn)
    if layer is not None:
        raw = layer["layer"]
        document = SemanticLayer.model_validate(json.loads(raw) if isinstance(raw, str) else raw)
        catalog = apply_layer(catalog, document, layer["version"])
    if governance is None or not catalog.tables:
        return catalog, {}
    governed = await governance.governed(context, [t.dataset_id for t in catalog.tables])
    for table in catalog.tables:
        if changes_data(governed[table.dataset_id]):
            table.columns = [c.model_copy(update={"values": []}) for c in table.columns]
            table.row_count = None
    return catalog, governed
