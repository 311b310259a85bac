"""Typed dependencies for route functions."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from rivergen.clients import PlatformClients
from rivergen.settings import Settings


def _clients(request: Request) -> PlatformClients:
    clients: PlatformClients = request.app.state.clients
    return clients


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ClientsDep = Annotated[PlatformClients, Depends(_clients)]
SettingsDep = Annotated[Settings, Depends(_settings)]

# The paging parameters of every list route: newest first, follow `next_cursor`.
PageLimit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
PageCursor = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
]
