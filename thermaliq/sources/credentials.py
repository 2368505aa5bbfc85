"""Secrets of a source (username, password, bearer token), resolved once per run, never logged.

The configuration names where a secret lives, never the secret: ``username_env``,
``password_env`` and ``token_env`` name environment variables (read through
:func:`thermaliq.settings.secret`); ``password_block`` and ``token_block`` name Prefect Secret
blocks, which only ``tasks/ingest.py`` loads and passes in as ``block_value``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from thermaliq.settings import secret


@dataclass(frozen=True)
class Credentials:
    """What a connector sends to authenticate; ``repr`` shows which are set, not their values."""

    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        given = [n for n in ("username", "password", "token") if getattr(self, n)]
        return f"Credentials({', '.join(given) or 'none'} set)"

    def secrets(self) -> list[str]:
        """The secret values (to mask them, should a server echo one into an error text)."""
        return [v for v in (self.password, self.token) if v]


def source_credentials(source, block_value: str | None = None) -> Credentials:
    """The credentials a source's configuration names.

    Parameters
    ----------
    source : thermaliq.config.model.Source
        The facility's source.
    block_value : str, optional
        The value of the Prefect Secret block named by ``password_block`` (or ``token_block``
        for a bearer token), loaded by the caller.

    Raises
    ------
    ConfigError
        Naming the variable when a configured environment variable is unset or empty.
    """
    username = secret(source.username_env, field="source.username_env") if source.username_env else None
    password = secret(source.password_env, field="source.password_env") if source.password_env else None
    token = secret(source.token_env, field="source.token_env") if source.token_env else None
    if block_value is not None:
        if source.password_block:
            password = block_value
        elif source.token_block:
            token = block_value
    return Credentials(username, password, token)


def mask(text: str, credentials: Credentials) -> str:
    """``text`` with every secret of ``credentials`` replaced by ``***``."""
    for value in credentials.secrets():
        text = text.replace(value, "***")
    return text


__all__ = ["Credentials", "source_credentials", "mask"]
