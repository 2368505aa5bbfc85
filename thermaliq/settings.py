"""Settings of one installation: every ``THERMALIQ_*`` environment variable, read in one place.

``Settings`` is a pydantic-settings model; :func:`load_settings` reads the environment (a flow
run reads it once when it starts and passes the object down). No other module of thermaliq,
``tasks`` or ``flows`` reads ``os.environ``: secrets named by a facility's configuration
(``source.token_env``) are read through :func:`secret`.
"""
from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from thermaliq.errors import ConfigError

#: Rows per chunk of a streamed readings file unless set [rows].
DEFAULT_BATCH_ROWS = 1_000_000


def _default_processes() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class Settings(BaseSettings):
    """Every ``THERMALIQ_*`` setting with its default (the variable is the field name in capitals)."""

    model_config = SettingsConfigDict(env_prefix="THERMALIQ_", extra="ignore", frozen=True)

    home: Path | None = Field(None, description="home directory when --home is not given")
    reports_url: str | None = Field(None, description="base URL under which the reports are served")
    processes: int = Field(default_factory=_default_processes, ge=1,
                           description="worker processes for CPU-heavy jobs (1: in the task's thread)")
    max_workers: int = Field(8, ge=1, description="threads of Prefect's task runner")
    window_days: int = Field(31, ge=1, description="days per calculation window of a backfill")
    ingest_batch_rows: int = Field(DEFAULT_BATCH_ROWS, ge=1, description="rows per ingest chunk [rows]")
    lock_timeout_s: float = Field(900.0, gt=0, description="longest wait for a facility's lock [s]")
    crash_at: str | None = Field(None, description="crash point for the crash-safety tests (point:n)")
    serve_log: bool = Field(False, description="log every request of the report server")
    schedule_tz: str | None = Field(None, description="timezone of the nightly deployment's cron")
    cpu_slots: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1,
                           description="worker-process jobs at once on this machine, all runs together")
    slots_dir: Path | None = Field(None, description="folder of the machine's CPU-slot lock files "
                                   "(default: <temp>/thermaliq-cpu-slots)")
    io_timeout_s: float = Field(1800.0, gt=0, description="longest time of a historian ingest's "
                                "requests, retries and waits included (each request also has "
                                "source.timeout_s) [s]")
    executor: str = Field("local", pattern=r"^(local|(dask|tcp|tls)://[^/\s]+)$",
                          description="where the CPU-heavy jobs run: 'local' (this machine's worker "
                          "processes) or 'dask://host:port' (the workers of a Dask scheduler)")
    # issue #19: the lake on object storage
    lake_url: str | None = Field(None, description="fsspec URL of the lake (s3://bucket/prefix, "
                                 "gs://..., az://...); unset: <home>/lake on local disk")
    lake_lock: str = Field("prefect", pattern="^(prefect|none)$",
                           description="cross-host exclusion of a facility's writers on a remote "
                           "lake: 'prefect' (global concurrency limit with a lease) or 'none' "
                           "(one host: file locks and conditional commits only)")
    lake_lease_s: float = Field(60.0, ge=60, le=86400, description="lease of a facility's "
                                "cross-host lock, renewed while held; a killed holder frees it "
                                "after this long [s]")

    def as_env(self) -> dict[str, str]:
        """The settings as ``THERMALIQ_*`` variables (for a child process that reads its own)."""
        out = {}
        for name, value in self.model_dump().items():
            if value is not None:
                out[f"THERMALIQ_{name.upper()}"] = str(value)
        return out


_PREFIX = "THERMALIQ_"
_READ: dict[tuple, Settings] = {}


def load_settings(**overrides) -> Settings:
    """Read the settings from the environment; ``overrides`` (field=value) win over it.

    Building the model costs milliseconds, so the object read for the same ``THERMALIQ_*``
    variables is reused (a process reads its settings once, and again only when they change).
    Raises ``ConfigError`` naming the variable when a value does not parse.
    """
    key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(_PREFIX)))
    if not overrides and key in _READ:
        return _READ[key]
    settings = _read(overrides)
    if not overrides:
        _READ.clear()                      # one entry: the environment as it is now
        _READ[key] = settings
    return settings


def crash_point_setting() -> str | None:
    """``THERMALIQ_CRASH_AT`` alone, read without building the model (the crash-safety tests'
    hook is asked at every write, so this must cost microseconds)."""
    return os.environ.get(_PREFIX + "CRASH_AT") or None


def _read(overrides: dict) -> Settings:
    try:
        return Settings(**overrides)
    except Exception as exc:  # pydantic's ValidationError: name the variable, not the model
        errors = getattr(exc, "errors", None)
        if errors is None:
            raise
        first = errors()[0]
        name = "THERMALIQ_" + str(first["loc"][0]).upper() if first.get("loc") else "THERMALIQ_*"
        raise ConfigError(f"{name}: {first['msg']}", field=name,
                          fix="correct or unset the environment variable") from None


class ObjectStoreSettings(BaseSettings):
    """Connection settings of an S3-compatible lake: the standard AWS variables (never the YAML)."""

    model_config = SettingsConfigDict(env_prefix="AWS_", extra="ignore", frozen=True)

    endpoint_url: str | None = Field(None, description="S3 endpoint (AWS_ENDPOINT_URL); unset: AWS")
    access_key_id: str | None = Field(None, description="AWS_ACCESS_KEY_ID")
    secret_access_key: str | None = Field(None, repr=False, description="AWS_SECRET_ACCESS_KEY")
    session_token: str | None = Field(None, repr=False, description="AWS_SESSION_TOKEN")
    region: str | None = Field(None, description="AWS_REGION")


def object_store_settings() -> ObjectStoreSettings:
    """The ``AWS_*`` connection settings of an S3 lake, read from the environment now."""
    return ObjectStoreSettings()


def secret(name: str, *, field: str) -> str:
    """The value of the environment variable ``name`` that a configuration names (a token).

    Raises ``ConfigError`` naming the variable and ``field`` when it is unset or empty. The value
    is never logged.
    """
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} is not set", field=field,
                          fix=f"export {name}=<secret> before running")
    return value


def names_prefect_api() -> bool:
    """Whether the environment names a Prefect API (``PREFECT_API_URL``), now."""
    return "PREFECT_API_URL" in os.environ


def child_environment(**extra: str) -> dict[str, str]:
    """The environment of a child process: this process's environment with ``extra`` on top."""
    return {**os.environ, **extra}

