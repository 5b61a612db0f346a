"""Errors the NATS layer raises; each message is one line meant for a person at a terminal."""

from __future__ import annotations


class NatsError(Exception):
    """Something went wrong running NATS (the child would not start, a push found no server...)."""


class NatsConfigError(NatsError):
    """Bad configuration. The message is one line that names the flag or variable to fix."""


class CredentialsRefused(NatsConfigError):
    """The server answered the first connect with Authorization Violation."""
