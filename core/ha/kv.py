"""Key-value buckets addressed across a JetStream domain (a spoke's `--ha` node uses its hub's).

nats-py writes a key to `$KV.<bucket>.<key>` whatever the domain of its JetStream context. A
leafnode connection does not carry `$KV.>` between domains (measured with nats-server 2.x: no
responders from a spoke, while `$O.>` and the changelog's subject pass), so from a spoke those
writes reach no stream. nats.go prefixes them with the domain's API prefix
(`$JS.<domain>.API.$KV.<bucket>.<key>`), which the hub maps onto the bucket's own subjects; this
module does the same for nats-py's writes and leaves its reads (API requests already) alone.
"""

from __future__ import annotations

from typing import Any

from nats.js import JetStreamContext
from nats.js.kv import KeyValue

DEFAULT_API_PREFIX = "$JS.API"


class _PrefixedWrites:
    """The JetStream context a bucket uses, with its key writes sent through the API prefix."""

    def __init__(self, js: JetStreamContext, bucket_pre: str, api_prefix: str) -> None:
        self._inner = js
        self._bucket_pre = bucket_pre
        self._api_prefix = api_prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def publish(self, subject: str, *args: Any, **kwargs: Any) -> Any:
        if subject.startswith(self._bucket_pre):
            subject = f"{self._api_prefix}.{subject}"
        return await self._inner.publish(subject, *args, **kwargs)


def across_domain(kv: KeyValue, js: JetStreamContext) -> KeyValue:
    """`kv` as it must be used through `js`: unchanged in the server's own domain."""
    prefix = str(getattr(js, "_prefix", DEFAULT_API_PREFIX))
    if prefix != DEFAULT_API_PREFIX:
        kv._js = _PrefixedWrites(js, kv._pre, prefix)  # type: ignore[assignment]  # noqa: SLF001
    return kv
