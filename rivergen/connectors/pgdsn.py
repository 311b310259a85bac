"""A Postgres source's DSN: one TCP host, nothing that could point the driver elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit

from rivergen.errors import BadRequest

# Query parameters that would send the driver to another host, a Unix socket or a local file.
_REFUSED_PARAMS = frozenset(
    {
        "host",
        "hostaddr",
        "port",
        "passfile",
        "service",
        "sslkey",
        "sslcert",
        "sslrootcert",
        "sslcrl",
        "krbsrvname",
    }
)


@dataclass(frozen=True)
class ParsedDsn:
    host: str
    port: int
    database: str
    user: str | None

    @property
    def masked(self) -> str:
        """The DSN without its password or parameters, fit to show."""
        user = f"{quote(self.user, safe='')}:***@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"postgresql://{user}{host}:{self.port}/{quote(self.database, safe='')}"


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_dsn")


def parse_dsn(dsn: str) -> ParsedDsn:
    """Check and take apart ``postgresql://user:password@host:port/database?params``."""
    parts = urlsplit(dsn.strip())
    if parts.scheme not in ("postgresql", "postgres"):
        raise _invalid("the DSN must start with postgresql://")
    if "," in parts.netloc:
        raise _invalid("the DSN must name exactly one host")
    try:
        host, port = parts.hostname, parts.port or 5432
    except ValueError:
        raise _invalid("the DSN's port is not a number") from None
    if not host:
        raise _invalid("the DSN must name a host (Unix sockets are not allowed)")
    params = {key.lower() for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if refused := sorted(params & _REFUSED_PARAMS):
        raise _invalid(f"the DSN may not set {', '.join(refused)}")
    database = parts.path.lstrip("/") or (parts.username or "")
    return ParsedDsn(host=host, port=port, database=database, user=parts.username)
