"""The RiverGen SDK: a workspace's datasets from a Python script, on the cluster or anywhere.

A Python job (``rivergen submit script.py``) gets its address and credentials as environment
variables, so a script needs only::

    from rivergen.sdk import Client

    with Client.from_env() as client:
        table = client.read_dataset("orders")      # a pyarrow.Table
        print(table.num_rows)

Exported names:

- :class:`Client`: the API client (``from_env``, ``datasets``, ``dataset``, ``read_dataset``,
  ``dataset_to_ray``).
- :data:`API_URL_ENV`, :data:`API_KEY_ENV`, :data:`TOKEN_ENV`, :data:`WORKSPACE_ENV`: the
  environment variables ``Client.from_env`` reads.
- Errors are RiverGen's own (:mod:`rivergen.errors`): a dataset of another workspace, or none of
  that name, raises :class:`rivergen.errors.NotFound`; a refused credential ``Unauthorized``; a
  role too low ``Forbidden``; a missing variable ``ConfigurationError``.

The caller's credentials decide what is visible: the same rules as the API, nothing more.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from uuid import UUID

import httpx
import pyarrow as pa
import pyarrow.parquet as pq

from rivergen.datasets.schemas import DatasetDownload, DatasetPage, DatasetSummary, DatasetView
from rivergen.errors import (
    BadRequest,
    ConfigurationError,
    Conflict,
    DependencyUnavailable,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RiverGenError,
    Unauthorized,
    ValidationFailed,
)

if TYPE_CHECKING:
    from ray import ObjectRef

__all__ = ["API_KEY_ENV", "API_URL_ENV", "TOKEN_ENV", "WORKSPACE_ENV", "Client"]

API_URL_ENV = "RIVERGEN_API_URL"
API_KEY_ENV = "RIVERGEN_API_KEY"
TOKEN_ENV = "RIVERGEN_TOKEN"
WORKSPACE_ENV = "RIVERGEN_WORKSPACE_ID"

# A download up to this size stays in memory; a larger one spills to a temporary file.
_SPOOL_BYTES = 64 * 1024 * 1024
_CHUNK = 1024 * 1024
_ERRORS: dict[int, type[RiverGenError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PayloadTooLarge,
        ValidationFailed,
        RateLimited,
        DependencyUnavailable,
    )
}


class Client:
    """A RiverGen API client with one credential (an API key or an access token) and,
    optionally, a workspace (else the credential's default workspace).

    Close it (or use it as a context manager) to release its connections.
    """

    def __init__(
        self,
        api_url: str,
        *,
        api_key: str | None = None,
        token: str | None = None,
        workspace_id: UUID | str | None = None,
        timeout_s: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_url:
            raise ConfigurationError("the API URL is empty", code="sdk_not_configured")
        if (api_key is None) == (token is None):
            raise ConfigurationError(
                "give exactly one credential: an API key or an access token",
                code="sdk_not_configured",
            )
        self.api_url = api_url.rstrip("/")
        self.workspace_id = UUID(str(workspace_id)) if workspace_id else None
        headers = {"X-API-Key": api_key} if api_key else {"Authorization": f"Bearer {token}"}
        if self.workspace_id is not None:
            headers["X-Workspace-ID"] = str(self.workspace_id)
        self._auth = headers
        self._http = httpx.Client(
            base_url=f"{self.api_url}/api/v1",
            headers=headers,
            timeout=timeout_s,
            transport=transport,
        )
        # Presigned URLs carry their own signature: no platform credentials go there.
        self._plain = httpx.Client(timeout=timeout_s, transport=transport)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Client:
        """A client from ``RIVERGEN_API_URL`` and ``RIVERGEN_API_KEY`` (or ``RIVERGEN_TOKEN``),
        with ``RIVERGEN_WORKSPACE_ID`` if set: what a Python job gets from ``rivergen submit``.

        Raises :class:`ConfigurationError` naming what is missing or malformed.
        """
        source = os.environ if env is None else env
        api_url = source.get(API_URL_ENV, "").strip()
        api_key = source.get(API_KEY_ENV, "").strip() or None
        token = source.get(TOKEN_ENV, "").strip() or None
        workspace = source.get(WORKSPACE_ENV, "").strip() or None
        missing = [API_URL_ENV] if not api_url else []
        if api_key is None and token is None:
            missing.append(f"{API_KEY_ENV} (or {TOKEN_ENV})")
        if missing:
            raise ConfigurationError(
                f"{' and '.join(missing)} not set: a job submitted with `rivergen submit` gets "
                "them; elsewhere export them",
                code="sdk_not_configured",
            )
        if not api_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"{API_URL_ENV} must be an http(s) URL, not {api_url!r}", code="sdk_not_configured"
            )
        if workspace is not None:
            try:
                UUID(workspace)
            except ValueError:
                raise ConfigurationError(
                    f"{WORKSPACE_ENV} is not a workspace id: {workspace!r}",
                    code="sdk_not_configured",
                ) from None
        # An API key wins over a token: it does not expire during a long job.
        return cls(
            api_url,
            api_key=api_key,
            token=None if api_key else token,
            workspace_id=workspace,
        )

    # Lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()
        self._plain.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Datasets ----------------------------------------------------------------------------

    def datasets(self) -> list[DatasetSummary]:
        """Every dataset of the workspace, newest first."""
        found: list[DatasetSummary] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = DatasetPage.model_validate(self._get_json("/datasets", params))
            found.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                return found

    def dataset(self, name_or_id: str | UUID) -> DatasetView:
        """A dataset by id or by name: schema, versions, lineage. ``NotFound`` if the
        workspace has none (a dataset of another workspace is not found either)."""
        return DatasetView.model_validate(self._get_json(f"/datasets/{self._resolve(name_or_id)}"))

    def download(self, name_or_id: str | UUID, version: int | None = None) -> DatasetDownload:
        """Where to read a version (default: the current) as Parquet."""
        dataset = self._resolve(name_or_id)
        if version is None:
            version = self.dataset(dataset).current_version
        return DatasetDownload.model_validate(
            self._get_json(f"/datasets/{dataset}/versions/{version}/download")
        )

    def read_dataset(
        self,
        name_or_id: str | UUID,
        version: int | None = None,
        *,
        columns: list[str] | None = None,
    ) -> pa.Table:
        """A version (default: the current) as a ``pyarrow.Table``, optionally only
        ``columns``. Streamed from object storage; large versions spill to a temporary file."""
        target = self.download(name_or_id, version)
        client = self._http if target.credentials_required else self._plain
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            with client.stream("GET", target.url) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error_of(response)
                for chunk in response.iter_bytes(_CHUNK):
                    spool.write(chunk)
            spool.seek(0)
            table: pa.Table = pq.read_table(spool, columns=columns)
        return table

    def dataset_to_ray(
        self, name_or_id: str | UUID, version: int | None = None
    ) -> ObjectRef[pa.Table]:
        """Read a version and put it into the Ray object store once (``ray.put``): pass the
        reference to many tasks. Needs a connected Ray (inside a Python job it is)."""
        import ray

        return ray.put(self.read_dataset(name_or_id, version))

    # Internals ---------------------------------------------------------------------------

    def _resolve(self, name_or_id: str | UUID) -> UUID:
        if isinstance(name_or_id, UUID):
            return name_or_id
        try:
            return uuid.UUID(name_or_id)
        except ValueError:
            pass
        for summary in self.datasets():
            if summary.name == name_or_id:
                return summary.id
        raise NotFound(
            f"no dataset named {name_or_id!r} in this workspace", code="dataset_not_found"
        )

    def _get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise DependencyUnavailable(
                f"RiverGen at {self.api_url} did not answer: {exc}", code="api_unreachable"
            ) from exc
        if response.status_code >= 400:
            raise _error_of(response)
        return response.json()


def _error_of(response: httpx.Response) -> RiverGenError:
    """The platform's error body as RiverGen's own exception (S3's errors by status)."""
    cls = _ERRORS.get(response.status_code, RiverGenError)
    try:
        body = response.json()["error"]
        return cls(body["message"], code=body["code"], details=body.get("details") or {})
    except (ValueError, KeyError, TypeError):
        text = response.text[:500]
        return cls(f"{response.request.method} {response.url.path}: {response.status_code} {text}")
