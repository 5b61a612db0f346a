"""Webhooks: the record events of PB_EVENTS, POSTed to the URLs of the `webhooks` setting.

Each hook has a durable pull consumer on PB_EVENTS (`webhook_<id>`, filtered to its collections
and actions) with at most one unacknowledged message: deliveries are in stream order (so ordered
per record) and, under --ha, every node pulls from the same consumer while only one of them
holds the next event. An event is acknowledged once the receiver answered 2xx (or the hook's
filter does not match the record). A failure is negatively acknowledged with a delay that
doubles from the hook's `backoff` (JetStream counts the attempts, so a restart neither forgets
nor repeats them); after `maxAttempts` the delivery is parked in PB_WEBHOOKS
(`GET /api/webhooks/deliveries`) and the hook moves on. A disabled hook is paused: its consumer
keeps its place, and once enabled again it delivers what it missed. At-least-once: a receiver
may see an event twice (after a crash mid-POST); `X-Core-Event-Id` is the event's Nats-Msg-Id.

Each POST is signed like Stripe's: `X-Core-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<body>" with the hook's secret>`; a receiver recomputes it and rejects an old `t`
(`verify` below does both).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from core.bus.events import STREAM, SUBJECT_PREFIX
from core.realtime.access import _probe
from core.store.filter import FilterError, compile_filter
from core.store.request import RequestContext
from core.store.rules import filter_context
from core.store.settings_webhooks import ACTIONS, DEFAULT_BACKOFF, DEFAULT_MAX_ATTEMPTS
from core.store.times import now_str
from core.tasks import cancel_all

log = logging.getLogger("core.bus")

CONSUMER_PREFIX = "webhook_"
PARKED_STREAM = "PB_WEBHOOKS"
PARKED_SUBJECT = "core.webhooks.parked"  # core.> : no issued credential can read it
PARKED_MAX_AGE = 30 * 86400.0
POST_TIMEOUT = 10.0
# beyond one POST's timeout; also how long an event waits after its node died mid-delivery
ACK_WAIT = POST_TIMEOUT + 5.0
MAX_DELAY = 3600.0
SIGNATURE_TOLERANCE = 300  # seconds; what `verify` accepts by default
USER_AGENT = "core-webhooks"
CONSUMER_GRACE = 60.0  # seconds; see Dispatcher.reconcile
RUNNER_FAILURES = 3  # fetches failing in a row before a hook's consumer is made again


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(
    secret: str, body: bytes, header: str, tolerance: int = SIGNATURE_TOLERANCE, now: float | None = None
) -> bool:
    """What a receiver does: the signature matches and its timestamp is recent (no replays)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), f"t={timestamp},v1={parts.get('v1', '')}")


def _created(hook: dict[str, Any]) -> datetime:
    try:
        return datetime.strptime(hook.get("created", ""), "%Y-%m-%d %H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return datetime.now(UTC)


def consumer_name(hook_id: str) -> str:
    return CONSUMER_PREFIX + hook_id


def filter_subjects(hook: dict[str, Any], canonical: Any) -> list[str]:
    collections = hook.get("collections") or []
    actions = hook.get("actions") or list(ACTIONS)
    names = ["*"] if "*" in collections else [canonical(c) for c in collections]
    if names == ["*"] and set(actions) == set(ACTIONS):
        return [f"{SUBJECT_PREFIX}.>"]
    return sorted({f"{SUBJECT_PREFIX}.{c}.{a}" for c in names for a in actions})


class Dispatcher:
    """Runs the deliveries of every enabled hook (one task per hook) and follows the setting."""

    def __init__(self, store: Any, system: RequestContext, js: Any, *, replicas: int = 1) -> None:
        self.store = store
        self.system = system
        self.js = js
        self.replicas = replicas
        self._http = httpx.AsyncClient(
            timeout=POST_TIMEOUT, follow_redirects=False, headers={"User-Agent": USER_AGENT}
        )
        self._runners: dict[str, tuple[tuple[str, ...], asyncio.Task[None]]] = {}
        self._changed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._parked_ready = False
        self.delivered = 0
        self.parked = 0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.store.db.listeners.append(self._on_change)
        self._changed.set()
        self._task = asyncio.create_task(self._follow(), name="webhooks")

    async def stop(self) -> None:
        if self._on_change in self.store.db.listeners:
            self.store.db.listeners.remove(self._on_change)
        tasks = [t for _, t in self._runners.values()]
        if self._task is not None:
            tasks.append(self._task)
        await cancel_all(tasks)
        self._runners.clear()
        self._task = None
        await self._http.aclose()

    def _on_change(self, change: Any) -> None:  # writer thread
        if change.tags.get("settings_changed") and self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._changed.set)

    def hooks(self) -> dict[str, dict[str, Any]]:
        return {h["id"]: h for h in self.store.settings.get().get("webhooks") or [] if h.get("id")}

    async def _follow(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CONSUMER_GRACE):
                    await self._changed.wait()
            self._changed.clear()
            try:
                await self.reconcile()
            except Exception as exc:  # NATS away, JetStream not ready: try again in a while
                log.warning("webhooks: following the setting failed (%r); trying again", exc)
                await asyncio.sleep(2.0)
                self._changed.set()

    async def _ensure_parked_stream(self) -> None:
        from nats.js.api import StorageType, StreamConfig

        config = StreamConfig(
            name=PARKED_STREAM,
            subjects=[f"{PARKED_SUBJECT}.>"],
            storage=StorageType.FILE,
            max_age=PARKED_MAX_AGE,
            num_replicas=self.replicas,
            description="core: webhook deliveries that ran out of attempts",
        )
        try:
            await self.js.add_stream(config)
        except Exception:  # exists (another node, an earlier start)
            await self.js.update_stream(config)
        self._parked_ready = True

    async def reconcile(self) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        if not self._parked_ready:
            await self._ensure_parked_stream()

        hooks = self.hooks()
        # a disabled hook is paused: its consumer stays and keeps its place in the stream
        enabled = {i: h for i, h in hooks.items() if not h.get("disabled")}
        for hook_id, hook in enabled.items():
            subjects = filter_subjects(hook, self._canonical)
            running = self._runners.get(hook_id)
            if running is not None and running[0] == tuple(subjects) and not running[1].done():
                continue
            name = consumer_name(hook_id)
            one = len(subjects) == 1
            await self.js.add_consumer(
                STREAM,
                ConsumerConfig(
                    name=name,
                    durable_name=name,
                    # the events committed since the hook was saved, however late this runs
                    deliver_policy=DeliverPolicy.BY_START_TIME,
                    opt_start_time=_created(hook),
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=ACK_WAIT,
                    max_ack_pending=1,  # one event at a time, cluster-wide: the order holds
                    filter_subject=subjects[0] if one else None,
                    filter_subjects=None if one else subjects,
                    num_replicas=self.replicas,
                ),
            )
            if running is not None:
                await cancel_all([running[1]])
            task = asyncio.create_task(self._run(hook_id), name=f"webhook {hook_id}")
            self._runners[hook_id] = (tuple(subjects), task)
        for hook_id in [i for i in self._runners if i not in enabled]:
            await cancel_all([self._runners.pop(hook_id)[1]])
        # consumers of hooks that are gone. A young one is left alone: under --ha a
        # node still applying older settings would otherwise remove a hook another node just
        # added (and its deliveries would start over); the periodic pass removes it later.
        young = datetime.now(UTC) - timedelta(seconds=CONSUMER_GRACE)
        for info in await self.js.consumers_info(STREAM):
            name = info.name
            if not name.startswith(CONSUMER_PREFIX) or name[len(CONSUMER_PREFIX) :] in hooks:
                continue
            created = info.created if info.created.tzinfo else info.created.replace(tzinfo=UTC)
            if created > young:
                continue
            with contextlib.suppress(Exception):
                await self.js.delete_consumer(STREAM, name)
                log.info("webhooks: consumer %s removed", name)

    def _canonical(self, name: str) -> str:
        col = self.store.registry.find(name)
        return col.name if col is not None else name

    # -- one hook --------------------------------------------------------------------------
    def _end_runner(self, hook_id: str) -> None:
        """The calling runner stops; the follower makes the consumer again and starts a new one
        if the hook still wants it."""
        current = self._runners.get(hook_id)
        if current is not None and current[1] is asyncio.current_task():
            del self._runners[hook_id]
        self._changed.set()

    async def _run(self, hook_id: str) -> None:
        try:
            sub = await self.js.pull_subscribe_bind(durable=consumer_name(hook_id), stream=STREAM)
        except Exception as exc:
            log.warning("webhooks: cannot follow the consumer of %s (%r); trying again", hook_id, exc)
            await asyncio.sleep(1.0)
            self._end_runner(hook_id)
            return
        failures = 0
        try:
            while True:
                try:
                    msgs = await sub.fetch(1, timeout=5)
                except TimeoutError:
                    failures = 0
                    continue
                except Exception as exc:  # NATS away, or the consumer (or the stream) gone
                    log.debug("webhooks: fetch for %s failed: %r", hook_id, exc)
                    failures += 1
                    if failures >= RUNNER_FAILURES:
                        self._end_runner(hook_id)
                        return
                    await asyncio.sleep(1.0)
                    continue
                failures = 0
                for msg in msgs:
                    try:
                        if not await self._handle(hook_id, msg):
                            self._end_runner(hook_id)
                            return
                    except asyncio.CancelledError:
                        # stopping mid-delivery: hand the event back at once rather than after ACK_WAIT
                        with contextlib.suppress(Exception):
                            await asyncio.shield(msg.nak())
                        raise
                    except Exception:
                        log.exception("webhooks: delivering an event of %s failed", hook_id)
                        with contextlib.suppress(Exception):
                            await msg.nak(delay=1.0)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _handle(self, hook_id: str, msg: Any) -> bool:
        """Deliver one event; False when the hook was disabled or removed meanwhile (the event
        goes back, and this runner stops rather than spend the event's attempts)."""
        hook = self.hooks().get(hook_id)
        if hook is None or hook.get("disabled"):
            await msg.nak(delay=1.0)
            return False
        attempt = int(msg.metadata.num_delivered)
        event = json.loads(msg.data)
        if hook.get("filter") and not await self._matches(hook["filter"], event):
            await msg.ack()
            return True
        event_id = (msg.headers or {}).get("Nats-Msg-Id", "")
        await msg.in_progress()  # the filter took some of ACK_WAIT: the POST gets all of it
        status, error = await self._post(hook, msg.data, event_id, attempt)
        if status is not None and 200 <= status < 300:
            await msg.ack()
            self.delivered += 1
            return True
        limit = int(hook.get("maxAttempts") or DEFAULT_MAX_ATTEMPTS)
        if attempt >= limit:
            await self._park(hook, event, event_id, attempt, status, error)
            await msg.ack()
            return True
        delay = min(float(hook.get("backoff") or DEFAULT_BACKOFF) * 2 ** (attempt - 1), MAX_DELAY)
        log.info(
            "webhooks: %s answered %s; attempt %d again in %.0fs",
            hook_id,
            status or error,
            attempt + 1,
            delay,
        )
        await msg.nak(delay=delay)
        return True

    async def _post(
        self, hook: dict[str, Any], body: bytes, event_id: str, attempt: int
    ) -> tuple[int | None, str]:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Core-Webhook-Id": hook["id"],
            "X-Core-Event-Id": event_id,
            "X-Core-Attempt": str(attempt),
            "X-Core-Signature": sign(hook.get("secret", ""), body, timestamp),
        }
        try:
            resp = await self._http.post(hook["url"], content=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        return resp.status_code, "" if resp.is_success else resp.text[:500]

    async def _matches(self, flt: str, event: dict[str, Any]) -> bool:
        """The hook's filter over the event's record (as of the event, like realtime's rules)."""
        col = self.store.registry.find(str(event.get("collectionId", "")))
        if col is None:
            return False
        record = event.get("record") or {}
        row = {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in record.items()}

        def check(conn: Any) -> bool:
            try:
                sql = compile_filter(flt, filter_context(col, self.system, self.store.registry.find))
            except FilterError:
                log.warning("webhooks: filter %r does not compile for %s; event not sent", flt, col.name)
                return False
            with _probe(conn, col, row) as probe:
                return probe.matches(sql)

        result: bool = await self.store.db.read(check)
        return result

    async def _park(
        self,
        hook: dict[str, Any],
        event: dict[str, Any],
        event_id: str,
        attempts: int,
        status: int | None,
        error: str,
    ) -> None:
        record = event.get("record") or {}
        item = {
            "webhook": hook["id"],
            "url": hook.get("url", ""),
            "eventId": event_id,
            "collection": event.get("collection", ""),
            "action": event.get("action", ""),
            "recordId": record.get("id", ""),
            "attempts": attempts,
            "status": status or 0,
            "error": error,
            "created": now_str(),
            "event": event,
        }
        await self.js.publish(
            f"{PARKED_SUBJECT}.{hook['id']}", json.dumps(item).encode(), stream=PARKED_STREAM
        )
        self.parked += 1
        log.warning(
            "webhooks: %s gave up on event %s after %d attempt(s) (%s); parked",
            hook["id"],
            event_id,
            attempts,
            status or error,
        )


async def parked(js: Any, page: int, per_page: int, hook_id: str = "") -> tuple[int, list[dict[str, Any]]]:
    """(total, items) of the parked deliveries, newest first."""
    from nats.js.errors import NotFoundError

    try:
        info = await js.stream_info(PARKED_STREAM)
    except NotFoundError:
        return 0, []
    first, last = int(info.state.first_seq), int(info.state.last_seq)
    if info.state.messages == 0:
        return 0, []
    if not hook_id:
        total = int(info.state.messages)
        start = last - (page - 1) * per_page
        items = []
        for seq in range(start, max(first, start - per_page + 1) - 1, -1):
            item = await _parked_item(js, seq)
            if item is not None:
                items.append(item)
        return total, items
    # one hook: few parked, scanned newest first
    matched = []
    for seq in range(last, first - 1, -1):
        item = await _parked_item(js, seq)
        if item is not None and item.get("webhook") == hook_id:
            matched.append(item)
    skip = (page - 1) * per_page
    return len(matched), matched[skip : skip + per_page]


async def _parked_item(js: Any, seq: int) -> dict[str, Any] | None:
    from nats.js.errors import NotFoundError

    try:
        msg = await js.get_msg(PARKED_STREAM, seq)
    except NotFoundError:
        return None
    item: dict[str, Any] = json.loads(msg.data or b"{}")
    item["id"] = str(seq)
    return item
