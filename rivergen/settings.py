"""The one settings tree of RiverGen.

Every value comes from the environment with the prefix ``RIVERGEN_``, nested with ``__``
(``RIVERGEN_POSTGRES__DSN``, ``RIVERGEN_KAFKA__BOOTSTRAP_SERVERS``). A backing service that is
not configured (its address left unset) falls back to its embedded default; one that is
configured but unreachable is a start-up error, never a silent fallback.

Build it once at an entry point (the CLI, a deployment's constructor) with :func:`load_settings`;
never at import time, since Serve pickles deployment classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, IPvAnyAddress, IPvAnyNetwork, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class PostgresSettings(BaseModel):
    """Postgres, reached by every service through PgBouncer in transaction pooling."""

    dsn: SecretStr | None = Field(
        None,
        description="DSN the services use (through PgBouncer in production). "
        "Unset: an embedded Postgres in the data dir.",
    )
    migrate_dsn: SecretStr | None = Field(
        None,
        description="DSN straight to Postgres, for migrations (they need session state that "
        "a transaction-pooling bouncer cannot keep). Unset: the same as `dsn`.",
    )
    pool_min_size: int = Field(1, ge=0, description="Connections each process keeps open.")
    pool_max_size: int = Field(10, ge=1, description="Most connections one process opens.")
    connect_timeout_s: float = Field(5.0, gt=0, description="Timeout to open one connection.")
    command_timeout_s: float = Field(30.0, gt=0, description="Timeout of one statement.")
    acquire_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Longest wait for a pooled connection (a new one included) before the "
        "request fails with 503.",
    )


class RedisSettings(BaseModel):
    """One Redis server."""

    url: SecretStr | None = Field(
        None, description="redis:// URL. Unset: the embedded Redis in the data dir."
    )
    socket_timeout_s: float = Field(5.0, gt=0, description="Timeout of one command.")


class KafkaSettings(BaseModel):
    """The event bus. Unset: the embedded bus (Redis Streams on the Redis App server)."""

    bootstrap_servers: str | None = Field(
        None, description="Comma-separated host:port list. Unset: the embedded event bus."
    )
    client_id: str = Field("rivergen", description="Client id reported to the brokers.")
    request_timeout_s: float = Field(10.0, gt=0, description="Timeout of one broker request.")


class S3Settings(BaseModel):
    """Object storage. Unset endpoint and bucket: a local directory store in the data dir."""

    endpoint_url: str | None = Field(
        None, description="S3 endpoint (MinIO, an S3 server). Unset with no bucket: local store."
    )
    bucket: str | None = Field(None, description="Bucket that holds every workspace's objects.")
    region: str = Field("us-east-1", description="S3 region.")
    access_key_id: SecretStr | None = Field(None, description="Access key id.")
    secret_access_key: SecretStr | None = Field(None, description="Secret access key.")
    presign_expiry_s: int = Field(3600, gt=0, le=7 * 24 * 3600, description="Presigned URL life.")
    connect_timeout_s: float = Field(5.0, gt=0, description="Timeout to connect to S3.")
    read_timeout_s: float = Field(
        60.0, gt=0, description="Longest silence of S3 while a request is in flight."
    )
    max_attempts: int = Field(
        3,
        ge=1,
        le=10,
        description="Tries of one S3 request, the first included (retries back off).",
    )

    @property
    def configured(self) -> bool:
        return self.bucket is not None or self.endpoint_url is not None


class RaySettings(BaseModel):
    """The Ray cluster that hosts Serve and the compute tasks."""

    address: str | None = Field(
        None, description="Ray address to join ('auto', 'ray://host:10001'). Unset: a local head."
    )
    num_cpus: int | None = Field(None, gt=0, description="CPUs for a local head (default all).")
    dashboard_host: str = Field("127.0.0.1", description="Dashboard bind address (keep loopback).")
    dashboard_port: int = Field(8265, description="Dashboard port of a local head.")
    dashboard_agent_port: int = Field(
        52365,
        description="HTTP port of a local head's dashboard agent, which runs Python jobs (taken "
        "by another Ray on the machine, the Jobs API fails).",
    )


class HttpSettings(BaseModel):
    """Where Serve listens."""

    host: str = Field("127.0.0.1", description="HTTP bind address.")
    port: int = Field(8000, description="HTTP port of the gateway.")
    ha_proxy: bool = Field(
        True,
        description="Run Serve's HAProxy ingress (RAY_SERVE_ENABLE_HA_PROXY and "
        "RAY_SERVE_THROUGHPUT_OPTIMIZED); about 5x the default proxy's throughput.",
    )
    upstream_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Networks of the load balancers in front of Serve's HAProxy whose "
        "X-Forwarded-For (and X-Forwarded-Proto) it keeps (JSON list). HAProxy appends the "
        "address of the peer it saw; from any other peer it first drops both headers, so a "
        "client cannot forge its address. List them in RIVERGEN_GATEWAY__TRUSTED_PROXIES too. "
        "Empty: HAProxy is the edge.",
    )
    haproxy_admin_host: IPvAnyAddress = Field(
        IPvAnyAddress("127.0.0.1"),  # type: ignore[operator]
        description="Address of HAProxy's stats page and Prometheus metrics "
        "(RAY_SERVE_HAPROXY_STATS_PORT, RAY_SERVE_HAPROXY_METRICS_PORT), which Ray binds to "
        "every interface; `0.0.0.0` exposes them. Ray's own metrics port reports HAProxy too.",
    )


class GatewaySettings(BaseModel):
    """The gateway deployment."""

    min_replicas: int = Field(1, ge=1, description="Fewest gateway replicas.")
    max_replicas: int = Field(2, ge=1, description="Most gateway replicas.")
    replica_num_cpus: float = Field(0.25, gt=0, description="CPUs reserved by each replica.")
    max_ongoing_requests: int = Field(64, ge=1, description="Requests one replica takes at once.")
    target_ongoing_requests: float = Field(
        16, gt=0, description="Autoscaling target of ongoing requests per replica."
    )
    readiness_timeout_s: float = Field(2.0, gt=0, description="Per-dependency /readyz timeout.")
    rate_limit: bool = Field(
        True,
        description="Limit requests a minute per workspace by plan. Off only behind another "
        "limiter, or for a benchmark.",
    )
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Networks of the proxies in front of the gateway that set "
        'X-Forwarded-For (JSON list, e.g. `["10.0.0.0/8"]`). The client\'s address is the '
        "first hop of X-Forwarded-For, read from the right, outside them; a request from "
        "anywhere else is its own peer address and its header is ignored. Empty: no header is "
        "trusted.",
    )


class StorageSettings(BaseModel):
    """Storage Orchestration: the one-shot upload and the sweeper of abandoned uploads."""

    form_upload_max_bytes: int = Field(
        16 * 1024 * 1024,
        gt=0,
        le=5 * 1024**3,
        description="Largest file `POST /storage/upload` takes (bigger: a direct upload).",
    )
    upload_lifetime_s: int = Field(
        24 * 3600, gt=0, description="How long a direct upload may stay open before it expires."
    )
    sweep_interval_s: float = Field(
        300.0, gt=0, description="Seconds between two sweeps of abandoned uploads."
    )
    sweep_grace_s: int = Field(
        3600,
        ge=0,
        description="How long past its expiry an upload stuck in `completing` is left alone "
        "(a completion may still be verifying it).",
    )
    replica_num_cpus: float = Field(
        0.25, gt=0, description="CPUs reserved by each Storage Orchestration replica."
    )
    max_replicas: int = Field(2, ge=1, description="Most Storage Orchestration replicas.")


class SocketSettings(BaseModel):
    """The Socket.io cluster: its Serve replicas, the Redis Socket channel they share, and how
    often each replica checks its sockets' credentials and its own subscription."""

    num_replicas: int = Field(
        4, ge=1, description="Socket.io replicas; a client holds one WebSocket to any of them."
    )
    replica_num_cpus: float = Field(
        0.05, gt=0, description="CPUs reserved by each Socket.io replica (it mostly waits)."
    )
    max_ongoing_requests: int = Field(
        2000,
        ge=1,
        description="Open sockets one replica holds (each open socket is an ongoing request).",
    )
    channel: str = Field(
        "socketio",
        description="Redis Socket pub/sub channel of the cluster; every emitter must use it.",
    )
    cors_allowed_origins: list[str] = Field(
        default_factory=list,
        description='Browser origins allowed to connect (JSON list, `["*"]` for any). Empty: '
        "the same origin only (clients outside a browser send no origin and are unaffected).",
    )
    recheck_interval_s: float = Field(
        5.0,
        gt=0,
        description="Seconds between two checks of every open socket's credential; a socket "
        "whose session was revoked, whose token expired or whose API key was revoked is dropped.",
    )
    listener_check_interval_s: float = Field(
        1.0, gt=0, description="Seconds between two checks of a replica's Redis subscription."
    )
    listener_stale_s: float = Field(
        3.0,
        gt=0,
        description="Seconds a replica's subscription may be missing before it is forced to "
        "subscribe again.",
    )
    listener_retry_max_s: float = Field(
        1.0, gt=0, description="Longest wait between two attempts to subscribe again."
    )
    redis_health_check_interval_s: int = Field(
        10,
        ge=1,
        description="Seconds of silence after which the listener PINGs Redis Socket (finds a "
        "dead connection; the listener's reads never time out).",
    )
    bridge_linger_s: float = Field(
        0.02,
        ge=0,
        le=1,
        description="Seconds the notification bridge waits for more events while they keep "
        "coming, to send them together (one message per socket); a lone event goes at once.",
    )


class AuthSettings(BaseModel):
    """Access tokens (signed JWT), refresh tokens, API keys."""

    jwt_private_key: SecretStr | None = Field(
        None,
        description="PEM of the Ed25519 key that signs access tokens (every replica needs the "
        "same one). Unset: `rivergen up` makes one in the data dir.",
    )
    issuer: str = Field("rivergen", description="`iss` of access tokens.")
    audience: str = Field("rivergen-api", description="`aud` of access tokens.")
    access_token_ttl_s: int = Field(3600, gt=0, description="Life of an access token.")
    refresh_token_ttl_s: int = Field(30 * 24 * 3600, gt=0, description="Life of a refresh token.")
    session_ttl_s: int = Field(30 * 24 * 3600, gt=0, description="Life of a session in Redis.")
    membership_cache_s: int = Field(
        300,
        ge=0,
        description="How long a person's role in a workspace stays cached in Redis App (a "
        "change of memberships makes it stale at once; 0: not cached).",
    )
    registrations_per_hour: int = Field(
        10,
        ge=1,
        description="New accounts an hour from one client address (an IPv6 address counts as "
        "its /64); off with the gateway's `rate_limit`.",
    )
    operators: list[str] = Field(
        default_factory=list,
        description="Emails of platform operators (JSON list), besides those granted with "
        "`rivergen operators add`. Operators alone call the operations routes "
        "(`/api/v1/operations`).",
    )


class ConnectorSettings(BaseModel):
    """Data sources a workspace registers (Postgres, S3, CSV over HTTP): what they may reach and
    how much they may read."""

    http_allow_hosts: list[str] = Field(
        default_factory=list,
        description="Host names or host:port that an HTTP source may reach even when they "
        "resolve to a loopback, private, link-local or other non-public address "
        '(JSON list, e.g. `["data.internal:8080"]`). Empty: public addresses only.',
    )
    http_timeout_s: float = Field(
        30.0, gt=0, description="Time one HTTP source read may take, redirects included."
    )
    http_max_bytes: int = Field(
        256 * 1024 * 1024, gt=0, description="Most bytes one HTTP source may download."
    )
    max_redirects: int = Field(5, ge=0, description="Most redirects one HTTP source follows.")
    max_rows: int = Field(
        1_000_000, gt=0, description="Most rows one read of a data source may return."
    )
    postgres_allow_hosts: list[str] = Field(
        default_factory=list,
        description="Host names or host:port that a Postgres source may reach even when they "
        "resolve to a non-public address (JSON list). Empty: public addresses only.",
    )
    postgres_statement_timeout_s: float = Field(
        30.0, gt=0, description="statement_timeout of a Postgres source's read-only query."
    )
    postgres_connect_timeout_s: float = Field(
        10.0, gt=0, description="Timeout to connect to a Postgres source."
    )
    s3_allow_hosts: list[str] = Field(
        default_factory=list,
        description="Host names or host:port that an S3 source's own `endpoint_url` may reach "
        "even when they resolve to a non-public address (JSON list). The platform's own S3 "
        "endpoint is always allowed.",
    )
    s3_max_bytes: int = Field(
        1024 * 1024 * 1024, gt=0, description="Most bytes one read of an S3 source may fetch."
    )
    s3_max_objects: int = Field(
        1000, gt=0, description="Most objects under one S3 source's prefix."
    )
    secrets_key: SecretStr | None = Field(
        None,
        description="Fernet key (32 bytes, url-safe base64) that encrypts data-source secrets "
        "at rest. Unset: derived from RIVERGEN_AUTH__JWT_PRIVATE_KEY (set this one before "
        "rotating that key).",
    )


class JobSettings(BaseModel):
    """Compute jobs and the job supervisor (a detached Ray actor) that owns them."""

    supervisor_name: str = Field("job-supervisor", description="Name of the supervisor actor.")
    namespace: str = Field("rivergen", description="Ray namespace of the supervisor actor.")
    supervisor_num_cpus: float = Field(
        0.1, gt=0, description="CPUs the supervisor reserves (it only waits on tasks)."
    )
    max_attempts: int = Field(
        3, ge=1, le=10, description="Times a job's work is started before the job fails."
    )
    progress_interval_s: float = Field(
        1.0, gt=0, description="Least seconds between two progress writes (and events) of a job."
    )
    heartbeat_interval_s: float = Field(
        1.0, gt=0, description="Seconds between the supervisor's checks of cancel requests."
    )
    test_kinds: bool = Field(
        False,
        description="Also accept the job kinds the platform's own tests use (never in production).",
    )
    min_nnz_per_block: int = Field(
        4_000_000,
        ge=1,
        description="Least nonzeros in one row block of a Sparse Native job (one task's share "
        "per round); smaller spreads small matrices over more tasks and nodes.",
    )
    kernel_plan: Literal["auto", "in_process", "tasks"] = Field(
        "auto",
        description="Where a Sparse Native job's products run: chosen by the matrix's size and "
        "the cluster (auto: in the job's process, a thread per block, on one node or under two "
        "blocks' worth; else Ray tasks over the nodes), or always one of the two.",
    )


class ModelProviderSettings(BaseModel):
    """One OpenAI-compatible chat-completions endpoint with tool calling."""

    name: str = Field(min_length=1, max_length=64, description="Name the turns record.")
    base_url: str = Field(
        description="Base URL; `/v1/chat/completions` is appended unless it ends in `/v1`."
    )
    api_key: SecretStr | None = Field(None, description="Bearer key; unset: none sent.")
    model: str = Field(min_length=1, description="Model name sent in each request.")
    timeout_s: float = Field(20.0, gt=0, description="Longest wait for one answer.")


class ClusterLLMSettings(BaseModel):
    """An open model hosted on the cluster by Ray Serve LLM (the `llm` application of
    `deployments/serve_config.yaml`, off by default), used as the first OpenAI-compatible
    provider."""

    enabled: bool = Field(
        False, description="Ask the in-cluster model first (its application must be deployed)."
    )
    base_url: str = Field(
        "http://127.0.0.1:8000/llm/v1",
        description="Its OpenAI-compatible route: Serve's proxy on every node, the `llm` "
        "application's route prefix.",
    )
    model: str = Field(
        "qwen2.5-1.5b-instruct", min_length=1, description="The `model_id` it is served as."
    )
    timeout_s: float = Field(30.0, gt=0, description="Longest wait for one answer.")

    def provider(self) -> ModelProviderSettings:
        return ModelProviderSettings(
            name="cluster-llm", base_url=self.base_url, model=self.model, timeout_s=self.timeout_s
        )


class PromptSettings(BaseModel):
    """Prompt Studio: the agent's model providers and bounds."""

    cluster_llm: ClusterLLMSettings = Field(
        default_factory=ClusterLLMSettings,
        description="The open model on the cluster (Ray Serve LLM); off by default.",
    )
    providers: list[ModelProviderSettings] = Field(
        default_factory=list,
        description="OpenAI-compatible providers tried in order, each falling back to the next "
        "on an error or timeout, then to the built-in provider (JSON list of objects with name, "
        "base_url, api_key, model, timeout_s). Empty: the built-in provider only.",
    )
    max_turns: int = Field(
        8, ge=1, le=50, description="Most provider steps (reason, act, observe) of one execution."
    )
    max_seconds: float = Field(
        60.0, gt=0, description="Longest time one execution may take, confirmations apart."
    )
    answer_row_limit: int = Field(
        1000, ge=1, le=100_000, description="Most rows of an answer kept and returned."
    )
    max_sql_corrections: int = Field(
        2,
        ge=0,
        le=10,
        description="Times a provider may send corrected SQL after the engine refused or "
        "failed its query (each correction sees the error); past it the execution fails "
        "with `sql_corrections_exhausted`.",
    )
    conversation_turns: int = Field(
        10,
        ge=1,
        le=100,
        description="Earlier turns of a conversation a follow-up is read against (and a "
        "model is shown).",
    )


class DecisionSettings(BaseModel):
    """Decision Intelligence: the baseline when a model fails, and simulation sizes."""

    baseline_score: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Score of the constant-rate baseline used when the named model (and its "
        "fallback) fails; 0.5 sends a case to review under the default thresholds.",
    )
    top_contributions: int = Field(
        5, ge=0, le=50, description="Feature contributions a decision's explanation keeps."
    )
    simulation_block_rows: int = Field(
        5000, ge=1, description="Rows scored and decided per block (one task) of a simulation."
    )
    simulation_listed_rows: int = Field(
        10_000, ge=0, description="A simulation lists each row's outcome up to this many rows."
    )
    simulation_group: str = Field(
        "decision-simulation", description="Kafka consumer group of the simulation workers."
    )


class EngineSettings(BaseModel):
    """The SQL engine (DuckDB in the Ray task that runs a query; see rivergen/engine)."""

    task_cpus: float = Field(
        1.0, gt=0, description="CPUs a query's task reserves; DuckDB's threads: these, rounded up."
    )
    node_queries: int = Field(
        2,
        ge=1,
        le=64,
        description="Query jobs one node's engine (a long-lived actor, compute/engine.py) runs "
        "at once; more wait for a turn. They reserve no Ray CPU.",
    )
    threads: int | None = Field(
        None,
        ge=1,
        le=256,
        description="DuckDB's threads in a query (default: the task's CPUs, rounded up). More "
        "lets one query use a node's idle cores, which it then shares with other work.",
    )
    memory_mb: int = Field(2048, ge=64, description="Memory limit of one query (DuckDB).")
    timeout_s: float = Field(300.0, gt=0, description="A query is interrupted after this.")
    distributed_min_bytes: int = Field(
        2 * 1024 * 1024 * 1024,
        ge=0,
        description="A query job whose inputs' stored (Parquet) bytes add up to more than this "
        "runs on the distributed engine (Daft on the Ray cluster) instead of DuckDB on one "
        "node. Below it one node is faster: Daft's scheduling costs seconds a query.",
    )
    cache_mb: int = Field(
        4096, ge=0, description="Node-local cache of S3 dataset objects the engine scans."
    )
    cache_dir: Path | None = Field(
        None, description="Where that cache lives (default: the system's temp dir)."
    )


class IdempotencySettings(BaseModel):
    """`Idempotency-Key` on unsafe requests: how long a key holds, how big a keyed body may be."""

    ttl_s: int = Field(
        24 * 3600, gt=0, description="Seconds a key replays its first response (then it is new)."
    )
    max_body_bytes: int = Field(
        1024 * 1024, gt=0, description="Largest body of a request that carries a key (else 413)."
    )


class Settings(BaseSettings):
    """Root of the settings tree."""

    model_config = SettingsConfigDict(
        env_prefix="RIVERGEN_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    environment: Literal["development", "test", "production"] = Field(
        "development", description="Deployment environment."
    )
    data_dir: Path = Field(
        Path(".rivergen"), description="State of the embedded services (one-machine mode)."
    )
    startup_timeout_s: float = Field(
        15.0, gt=0, description="How long start-up waits for a configured service."
    )
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    redis_app: RedisSettings = Field(default_factory=RedisSettings)
    redis_socket: RedisSettings = Field(default_factory=RedisSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    ray: RaySettings = Field(default_factory=RaySettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    connectors: ConnectorSettings = Field(default_factory=ConnectorSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    sockets: SocketSettings = Field(default_factory=SocketSettings)
    prompts: PromptSettings = Field(default_factory=PromptSettings)
    decisions: DecisionSettings = Field(default_factory=DecisionSettings)
    idempotency: IdempotencySettings = Field(default_factory=IdempotencySettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)

    @property
    def object_dir(self) -> Path:
        """Root of the local directory object store."""
        return self.data_dir / "objects"


def load_settings() -> Settings:
    """Read the settings from the environment (and a `.env` file is not read on purpose)."""
    return Settings()
