"""core: a PocketBase-compatible backend with embedded NATS in one executable."""

__version__ = "0.1.0"
