"""Schema & Metadata: the dataset registry, lineage and the catalog, over Data Staging.

A dataset version is created in two steps that never leave half of it behind: a compute task
writes its Parquet object under a fresh key, then one transaction records the version, its
lineage and its events (deleting the object again if that transaction fails). No transaction is
held open while compute runs.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import pyarrow as pa

from rivergen.accounts.principal import RequestContext
from rivergen.billing import USAGE_STORAGE_CHANGED, Quota, QuotaService
from rivergen.datasets import store
from rivergen.datasets.ports import DatasetCompute
from rivergen.datasets.schemas import (
    ColumnInfo,
    ColumnView,
    DatasetCreate,
    DatasetDownload,
    DatasetPage,
    DatasetSource,
    DatasetSummary,
    DatasetUpdate,
    DatasetView,
    LineageNode,
    Preview,
    ProfileView,
    QualityCheck,
    QualityReport,
    SearchHit,
    SearchResults,
    StagedVersion,
    VersionView,
)
from rivergen.datasets.search import matched, query_terms, tsquery
from rivergen.db import Database
from rivergen.errors import Conflict, Forbidden, NotFound
from rivergen.events import Event, Queued, Topic, add_all_to_outbox, add_to_outbox
from rivergen.objectstore import ObjectStore
from rivergen.pagination import decode_cursor, encode_cursor
from rivergen.quality import DatasetProfile, capped_profile, capped_samples
from rivergen.services.governance import (
    REDACTED,
    GovernanceService,
    Governed,
    changes_data,
    changes_export,
    check_columns,
)

DATASET_VERSION_CREATED = "dataset.version.created"
DATASET_PROFILED = "dataset.profiled"


class SourceReader(Protocol):
    """Reads a registered data source as a table (the Connector service)."""

    async def read(self, context: RequestContext, source_id: UUID) -> tuple[Any, pa.Table]: ...

    async def source_key(self, context: RequestContext, source_id: UUID) -> str:
        """What data the source reads, whatever its id (a copy of it has the same key)."""


def dataset_not_found(dataset: UUID) -> NotFound:
    return NotFound(f"dataset {dataset} not found", code="dataset_not_found")


class DatasetService:
    def __init__(
        self,
        db: Database,
        compute: DatasetCompute,
        sources: SourceReader | None = None,
        objects: ObjectStore | None = None,
        presign_expiry_s: int = 3600,
        governance: GovernanceService | None = None,
    ) -> None:
        self._db = db
        # Every read of a dataset's data is governed for the caller's role.
        self._governance = governance or GovernanceService(db)
        self._compute = compute
        self._sources = sources
        self._objects = objects
        self._presign_expiry_s = presign_expiry_s
        self._quotas = QuotaService(db)

    @property
    def governance(self) -> GovernanceService:
        """The policies every read of a dataset goes through."""
        return self._governance

    # Creating ----------------------------------------------------------------------------

    async def create(self, context: RequestContext, request: DatasetCreate) -> DatasetView:
        """A new dataset with its first version; 409 ``dataset_exists`` if the name is taken."""
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            if await store.name_taken(conn, request.name):
                raise _name_taken(request.name)
        dataset = uuid.uuid4()
        staged, lineage = await self._stage(context, workspace, dataset, request)

        async def record(conn: Any) -> None:
            if not await store.insert_dataset(
                conn,
                dataset,
                workspace,
                request.name,
                request.description,
                request.tags,
                context.actor,
            ):
                raise _name_taken(request.name)

        await self._record_version(context, workspace, dataset, staged, lineage, before=record)
        return await self.get(context, dataset)

    async def add_version(
        self, context: RequestContext, dataset: UUID, source: DatasetSource
    ) -> DatasetView:
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            if await store.get(conn, dataset) is None:
                raise dataset_not_found(dataset)
        staged, lineage = await self._stage(context, workspace, dataset, source)

        async def lock(conn: Any) -> None:
            if await store.get(conn, dataset, lock=True) is None:
                raise dataset_not_found(dataset)

        await self._record_version(context, workspace, dataset, staged, lineage, before=lock)
        return await self.get(context, dataset)

    async def _stage(
        self, context: RequestContext, workspace: UUID, dataset: UUID, source: DatasetSource
    ) -> tuple[StagedVersion, dict[str, Any]]:
        key = f"workspaces/{workspace}/datasets/{dataset}/{uuid.uuid4()}.parquet"
        # A file or data source a governed dataset was made of is raw data to those whom its
        # policies govern: no copy of it for them (a copy by others inherits those policies).
        # Another file of the same bytes, or source of the same config, is the same one: the
        # version records the key that says so.
        if source.file_id is not None:
            async with self._db.transaction(str(workspace)) as conn:
                file = await conn.fetchrow(
                    "SELECT id, name, content_type, object_key, sha256 FROM files WHERE id = $1",
                    source.file_id,
                )
            if file is None:
                raise NotFound(f"file {source.file_id} not found", code="file_not_found")
            same = f"file:{file['sha256']}"
            await self._governance.check_source_access(context, "file", source.file_id, same)
            staged = await self._compute.stage_file(
                file["object_key"], file["name"], file["content_type"], source.options, key
            )
            read = {"read_as": staged.read_as} if staged.read_as else {}
            return staged, {
                "kind": "file",
                "id": str(file["id"]),
                "name": file["name"],
                "key": same,
                **read,
            }
        assert source.data_source_id is not None
        if self._sources is None:
            raise NotFound("data sources are not available here", code="data_source_not_found")
        same = await self._sources.source_key(context, source.data_source_id)
        await self._governance.check_source_access(
            context, "data_source", source.data_source_id, same
        )
        view, table = await self._sources.read(context, source.data_source_id)
        staged = await self._compute.stage_table(table, key)
        return staged, {
            "kind": "data_source",
            "id": str(source.data_source_id),
            "name": getattr(view, "name", ""),
            "key": same,
        }

    async def _record_version(
        self,
        context: RequestContext,
        workspace: UUID,
        dataset: UUID,
        staged: StagedVersion,
        source: dict[str, Any],
        *,
        before: Any,
    ) -> None:
        actor = context.actor
        # Broadcast to every member: no count of a dataset policies govern for anyone.
        governed = await self._governance.governs_anyone(
            workspace, [dataset], (source["kind"], UUID(source["id"]), source.get("key"))
        )
        count = None if governed else staged.row_count
        try:
            async with self._db.transaction(str(workspace)) as conn:
                await before(conn)
                await self._quotas.check(conn, workspace, Quota.STORAGE_BYTES, staged.size_bytes)
                version = await store.insert_version(
                    conn, dataset, workspace, staged, source, actor
                )
                await store.add_lineage(
                    conn,
                    workspace,
                    source["kind"],
                    UUID(source["id"]),
                    None,
                    "dataset",
                    dataset,
                    version,
                    "imported_from",
                )
                await store.reindex(conn, dataset)
                await add_all_to_outbox(
                    conn, version_events(workspace, actor, dataset, version, count, source, staged)
                )
        except BaseException:
            await self._compute.delete([staged.object_key])
            raise

    # Reading -----------------------------------------------------------------------------

    async def get(self, context: RequestContext, dataset: UUID) -> DatasetView:
        async with self._db.transaction(str(context.require_workspace())) as conn:
            row = await store.get(conn, dataset)
            if row is None:
                raise dataset_not_found(dataset)
            versions = await store.versions(conn, dataset)
            meta = await store.column_metadata(conn, dataset)
            upstream, downstream = await store.lineage(conn, dataset)
        views = [_version_view(v) for v in versions]
        governed = (await self._governance.governed(context, [dataset]))[dataset]
        if changes_data(governed):
            # The skipped rows' text is raw data: a governed caller sees where, not what.
            views = [_without_row_text(v) for v in views]
        if counts_hidden(governed):
            views = [v.model_copy(update={"row_count": None}) for v in views]
            row = {**dict(row), "row_count": None}
        current = views[0].columns if views else []
        columns = [
            ColumnView(
                **c.model_dump(),
                description=meta[c.name]["description"] if c.name in meta else "",
                tags=list(meta[c.name]["tags"]) if c.name in meta else [],
            )
            for c in current
        ]
        return DatasetView(
            **dict(row),
            columns=columns,
            versions=views,
            upstream=[LineageNode(**dict(r)) for r in upstream],
            downstream=[LineageNode(**dict(r)) for r in downstream],
        )

    async def list_datasets(
        self, context: RequestContext, limit: int, cursor: str | None
    ) -> DatasetPage:
        after = decode_cursor(cursor)
        async with self._db.transaction(str(context.require_workspace())) as conn:
            rows = await store.page(conn, after, limit)
        items = [DatasetSummary(**dict(r)) for r in rows[:limit]]
        governed = await self._governance.governed(context, [i.id for i in items])
        items = [
            i.model_copy(update={"row_count": None}) if counts_hidden(governed[i.id]) else i
            for i in items
        ]
        return DatasetPage(
            items=items, next_cursor=encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        )

    async def version_key(
        self, context: RequestContext, dataset: UUID, version: int | None
    ) -> tuple[int, str]:
        """The version number and Parquet object key of a version (default: the current)."""
        row = await self._version_row(context, dataset, version)
        return row["version"], row["object_key"]

    async def _version_row(
        self, context: RequestContext, dataset: UUID, version: int | None
    ) -> Any:
        async with self._db.transaction(str(context.require_workspace())) as conn:
            if await store.get(conn, dataset) is None:
                raise dataset_not_found(dataset)
            row = await store.version(conn, dataset, version)
        if row is None:
            raise NotFound(
                f"dataset {dataset} has no version {version}", code="dataset_version_not_found"
            )
        return row

    async def governed(self, context: RequestContext, dataset: UUID) -> Governed:
        """What the policies make of ``dataset`` for the caller; 403 ``dataset_denied`` when
        they deny it."""
        governed = (await self._governance.governed(context, [dataset]))[dataset]
        check_columns(governed, [])
        return governed

    def _require_objects(self) -> ObjectStore:
        if self._objects is None:
            raise NotFound("downloads are not available here", code="dataset_not_found")
        return self._objects

    async def download(
        self, context: RequestContext, dataset: UUID, version: int, platform_url: str
    ) -> DatasetDownload:
        """Where to GET the version's Parquet object: presigned on S3 (valid for the presign
        life, 1 h by default), else ``platform_url``, which wants the caller's credentials.
        When policies change what the caller sees, or cap its rows, always ``platform_url``
        (which serves the governed Parquet, at most ``max_rows`` rows), never the raw object."""
        objects = self._require_objects()
        row = await self._version_row(context, dataset, version)
        governed = await self.governed(context, dataset)
        if changes_export(governed):
            data, rows = await self._compute.export(row["object_key"], governed)
            return DatasetDownload(
                dataset_id=dataset,
                version=row["version"],
                url=platform_url,
                credentials_required=True,
                expires_at=None,
                row_count=rows,
                size_bytes=len(data),
            )
        issued = datetime.now(UTC)
        url = await objects.download_url(row["object_key"], platform_url=platform_url)
        presigned = url != platform_url
        return DatasetDownload(
            dataset_id=dataset,
            version=row["version"],
            url=url,
            credentials_required=not presigned,
            expires_at=issued + timedelta(seconds=self._presign_expiry_s) if presigned else None,
            row_count=row["row_count"],
            size_bytes=row["size_bytes"],
        )

    async def governed_content(
        self, context: RequestContext, dataset: UUID, version: int
    ) -> tuple[str, bytes | None]:
        """The version's object key, and its governed Parquet bytes when policies change what
        the caller sees or cap its rows (None: the stored object is what they may read)."""
        _, key = await self.version_key(context, dataset, version)
        governed = await self.governed(context, dataset)
        if not changes_export(governed):
            return key, None
        data, _ = await self._compute.export(key, governed)
        return key, data

    async def preview(
        self, context: RequestContext, dataset: UUID, version: int | None, limit: int
    ) -> Preview:
        number, key = await self.version_key(context, dataset, version)
        governed = await self.governed(context, dataset)
        return await self._compute.preview(key, number, limit, _effective(governed))

    async def profile(
        self, context: RequestContext, dataset: UUID, version: int | None
    ) -> ProfileView:
        """Profile a version as Ray tasks, keep the profile, emit ``dataset.profiled``. A caller
        whose policies change the data gets the profile of the data they see, and it is not
        kept (the kept profile is of the whole version)."""
        workspace = context.require_workspace()
        number, key = await self.version_key(context, dataset, version)
        governed = await self.governed(context, dataset)
        if changes_data(governed):
            profile = await self._compute.profile(key, governed)
            profile = capped_profile(profile, governed.max_rows)
            return ProfileView(dataset_id=dataset, version=number, profile=profile)
        profile = await self._compute.profile(key)
        # Broadcast to every member: no count of a dataset policies govern for anyone.
        count = (
            None
            if await self._governance.governs_anyone(workspace, [dataset])
            else (profile.row_count)
        )
        async with self._db.transaction(str(workspace)) as conn:
            if await store.get(conn, dataset) is None:  # deleted meanwhile
                raise dataset_not_found(dataset)
            await store.save_profile(conn, dataset, number, workspace, profile.model_dump_json())
            await add_to_outbox(
                conn,
                Topic.STORAGE,
                Event(
                    type=DATASET_PROFILED,
                    workspace_id=workspace,
                    actor=context.actor,
                    data={
                        "dataset_id": str(dataset),
                        "version": number,
                        "row_count": count,
                        "column_count": profile.column_count,
                    },
                ),
            )
        profile = capped_profile(profile, governed.max_rows)
        return ProfileView(dataset_id=dataset, version=number, profile=profile)

    async def get_profile(
        self, context: RequestContext, dataset: UUID, version: int | None
    ) -> ProfileView:
        """The newest kept profile (of ``version`` if given). A caller whose policies change
        the data gets a fresh profile of the data they see instead (never the kept one)."""
        governed = await self.governed(context, dataset)
        if changes_data(governed):
            number, key = await self.version_key(context, dataset, version)
            profile = await self._compute.profile(key, governed)
            profile = capped_profile(profile, governed.max_rows)
            return ProfileView(dataset_id=dataset, version=number, profile=profile)
        async with self._db.transaction(str(context.require_workspace())) as conn:
            if await store.get(conn, dataset) is None:
                raise dataset_not_found(dataset)
            row = await store.latest_profile(conn, dataset, version)
        if row is None:
            raise NotFound(
                f"dataset {dataset} has no profile yet: POST .../profile makes one",
                code="profile_not_found",
            )
        return ProfileView(
            dataset_id=dataset,
            version=row["version"],
            profile=capped_profile(
                DatasetProfile.model_validate_json(row["profile"]), governed.max_rows
            ),
        )

    async def check_quality(
        self, context: RequestContext, dataset: UUID, request: QualityCheck
    ) -> QualityReport:
        number, key = await self.version_key(context, dataset, request.version)
        governed = await self.governed(context, dataset)
        check_columns(governed, [rule.column for rule in request.rules])
        # A row limit caps the failing rows shown, in all (each sample is a whole row).
        sample_size = min(request.sample_size, governed.max_rows or request.sample_size)
        results = await self._compute.check_rules(
            key, request.rules, datetime.now(UTC), sample_size, _effective(governed)
        )
        results = capped_samples(results, governed.max_rows)
        return QualityReport(
            dataset_id=dataset,
            version=number,
            passed=all(r.passed for r in results),
            results=results,
        )

    def load(
        self, key: str, columns: list[str] | None = None, governed: Governed | None = None
    ) -> Any:
        """Stage a version into the compute cluster's object store (a reference for tasks),
        governed in the task that reads it when ``governed`` is given."""
        return self._compute.load(key, columns, governed)

    # Metadata ----------------------------------------------------------------------------

    async def update(
        self, context: RequestContext, dataset: UUID, request: DatasetUpdate
    ) -> DatasetView:
        workspace = context.require_workspace()
        async with self._db.transaction(str(workspace)) as conn:
            if await store.get(conn, dataset, lock=True) is None:
                raise dataset_not_found(dataset)
            await store.update_dataset(conn, dataset, request.description, request.tags)
            current = await store.version(conn, dataset, None)
            known = {c["name"] for c in json.loads(current["columns"])} if current else set()
            unknown = sorted(set(request.columns) - known)
            if unknown:
                raise NotFound(
                    f"no column {', '.join(map(repr, unknown))} in the current version",
                    code="column_not_found",
                    details={"columns": unknown},
                )
            for name, change in request.columns.items():
                await store.set_column(
                    conn, dataset, workspace, name, change.description, change.tags
                )
            await store.reindex(conn, dataset)
        return await self.get(context, dataset)

    async def delete(self, context: RequestContext, dataset: UUID) -> None:
        """Delete the dataset, its versions and its policies. A caller its policies govern may
        not (403 ``dataset_governed``): that would lift them, and free its file or data source
        to be staged again ungoverned."""
        workspace = context.require_workspace()
        actor = context.actor
        async with self._db.transaction(str(workspace)) as conn:
            if await store.get(conn, dataset) is None:
                raise dataset_not_found(dataset)
        governed = (await self._governance.governed(context, [dataset]))[dataset]
        if changes_export(governed):
            raise Forbidden(
                f"policies govern what your role sees of dataset {dataset}: deleting it would "
                "lift them (someone they do not govern may)",
                code="dataset_governed",
                details={"policies": [a.name for a in governed.applied[:10]]},
            )
        async with self._db.transaction(str(workspace)) as conn:
            if await store.get(conn, dataset, lock=True) is None:
                raise dataset_not_found(dataset)
            objects = await store.delete(conn, dataset)
            freed = sum(r["size_bytes"] for r in objects)
            await add_to_outbox(
                conn,
                Topic.STORAGE,
                Event(
                    type=USAGE_STORAGE_CHANGED,
                    workspace_id=workspace,
                    actor=actor,
                    data={"bytes_delta": -freed, "dataset_id": str(dataset)},
                ),
            )
        await self._compute.delete([r["object_key"] for r in objects])

    async def search(self, context: RequestContext, q: str, limit: int) -> SearchResults:
        """Datasets whose name, tags, columns or descriptions match any word of ``q`` (as a
        prefix, English stemming), best first: name matches weigh most, then tags, columns,
        descriptions, and more matched words rank higher."""
        terms = query_terms(q)
        if not terms:
            return SearchResults(query=q, items=[])
        async with self._db.transaction(str(context.require_workspace())) as conn:
            rows = await store.search(conn, tsquery(terms), limit)
        hits = []
        for row in rows:
            columns = [ColumnInfo(**c).name for c in json.loads(row["columns"])]
            hits.append(
                SearchHit(
                    id=row["id"],
                    name=row["name"],
                    description=row["description"],
                    tags=list(row["tags"]),
                    score=float(row["score"]),
                    matched_columns=[c for c in columns if matched(terms, c)],
                )
            )
        return SearchResults(query=q, items=hits)


def counts_hidden(governed: Governed) -> bool:
    """Whether the dataset's stored row counts are not the caller's to see: their policies
    filter its rows (or deny it, or it derives from rows they hide). Their count is then
    null, rather than counted over the rows they see on every read of the metadata."""
    return governed.denied or governed.derived_denied or bool(governed.row_filters)


def _without_row_text(view: VersionView) -> VersionView:
    rows = [r.model_copy(update={"text": REDACTED}) for r in view.invalid_rows]
    return view.model_copy(update={"invalid_rows": rows})


def _effective(governed: Governed) -> Governed | None:
    """``governed`` if it changes anything a read returns (rows, columns or their number)."""
    return governed if changes_export(governed) else None


def _name_taken(name: str) -> Conflict:
    return Conflict(f"a dataset named {name!r} exists already", code="dataset_exists")


def _version_view(row: Any) -> VersionView:
    return VersionView(
        version=row["version"],
        source_format=row["source_format"],
        row_count=row["row_count"],
        size_bytes=row["size_bytes"],
        columns=[ColumnInfo(**c) for c in json.loads(row["columns"])],
        source=json.loads(row["source"]),
        invalid_row_count=row["invalid_row_count"],
        invalid_rows=json.loads(row["invalid_rows"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
    )


def version_events(
    workspace: UUID,
    actor: str,
    dataset: UUID,
    version: int,
    row_count: int | None,
    source: dict[str, Any],
    staged: StagedVersion,
) -> list[Queued]:
    """A new version's events, to queue with it: ``dataset.version.created`` (``row_count``
    None when policies govern the dataset for some role: it goes to every member) and the
    storage the version adds."""
    return [
        (
            Topic.STORAGE,
            Event(
                type=DATASET_VERSION_CREATED,
                workspace_id=workspace,
                actor=actor,
                data={
                    "dataset_id": str(dataset),
                    "version": version,
                    "row_count": row_count,
                    "source": source,
                },
            ),
            None,
        ),
        (
            Topic.STORAGE,
            Event(
                type=USAGE_STORAGE_CHANGED,
                workspace_id=workspace,
                actor=actor,
                data={"bytes_delta": staged.size_bytes, "dataset_id": str(dataset)},
            ),
            None,
        ),
    ]
