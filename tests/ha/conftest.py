"""The HA tests start real nats-servers with the NATS tests' fixtures."""

from tests.nats.conftest import no_orphans, start_node

__all__ = ["no_orphans", "start_node"]
