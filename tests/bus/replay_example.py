"""Replay the record events of `posts` from a point in time: the README's example, run by
tests/bus/test_events.py as a user would run it.

    python replay_example.py nats://127.0.0.1:4222 reader.creds reader 2026-12-08T10:00:00+00:00
"""

import asyncio
import json
import sys
from datetime import datetime

import nats
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError


async def main(url: str, creds: str, name: str, since: datetime) -> None:
    nc = await nats.connect(url, user_credentials=creds)
    js = nc.jetstream()
    # a `core nats creds NAME --events ...` user has one consumer, named NAME: start it afresh
    try:
        await js.delete_consumer("PB_EVENTS", name)
    except NotFoundError:
        pass
    sub = await js.pull_subscribe(
        "pb.events.posts.>",
        durable=name,
        stream="PB_EVENTS",
        config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=since),
    )
    seen: set[str] = set()
    while True:
        try:
            msgs = await sub.fetch(100, timeout=2)
        except TimeoutError:
            break  # caught up; a service would keep fetching
        for msg in msgs:
            event_id = msg.headers["Nats-Msg-Id"]  # at-least-once: skip what was seen
            if event_id not in seen:
                seen.add(event_id)
                event = json.loads(msg.data)
                print(event["action"], event["collection"], event["record"]["id"], event["time"])
            await msg.ack()
    await nc.close()


if __name__ == "__main__":
    url, creds, name, since = sys.argv[1:5]
    asyncio.run(main(url, creds, name, datetime.fromisoformat(since)))
