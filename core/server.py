"""`core serve`: one process, one asyncio loop, the ASGI server and the NATS child (with
`--workers N`, this is the leader and starts N-1 followers: see core/workers.py)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import resource
import signal
from typing import Any

from core import datadir, superusers, workers
from core.app import App
from core.bus import settings as bus_settings
from core.config import Settings
from core.lifecycle import lifecycle_of

log = logging.getLogger("core")
_NOFILE_CAP = 1 << 20  # Linux's default fs.nr_open, for an unlimited hard limit


def bootstrap_superuser(app: App, settings: Settings) -> None:
    if settings.admin_email and settings.admin_password:
        superusers.ensure(app.store, settings.admin_email, settings.admin_password)
        log.info("superuser %s upserted from CORE_POCKETBASE_ADMIN_EMAIL", settings.admin_email)
    elif superusers.count(app.store) == 0:
        print(
            "No superuser yet. Create one with:\n"
            f"  core superuser upsert EMAIL PASSWORD --dir {settings.data_dir}\n"
            "or set CORE_POCKETBASE_ADMIN_EMAIL and CORE_POCKETBASE_ADMIN_PASSWORD.",
            flush=True,
        )


async def serve(settings: Settings, args: Any = None) -> None:
    nats = _nats_service(settings, args)  # checks every NATS setting before anything starts
    workers.check_workers(settings, nats is not None)
    ha = _ha_enabled(settings, args, nats)
    leader = settings.worker == 0
    datadir.prepare(settings.data_dir, settings.pb_dir)
    # held until the process ends (the kernel drops it then, however it ends)
    serve_lock = datadir.hold_serve_lock(settings.data_dir) if leader else None
    if leader and settings.http_port:
        workers.check_port_free(settings.http_host, settings.http_port)
    raise_open_files_limit()
    app = App(settings)
    metrics = _metrics(app, settings, args)
    # the record events flags, checked before anything starts (core/bus)
    app.services[bus_settings.SERVICE] = bus_settings.from_args(args, settings.env)
    if not ha:
        app.open()
    try:
        # Three parts of the start-up path overlap: the superuser's password hash (a thread),
        # importing and assembling the routes (a thread; the hooks that need NATS run later, at
        # the ASGI lifespan start) and nats-server's boot (a child process, spawned from this
        # thread: its PR_SET_PDEATHSIG follows the spawning thread).
        # followers skip it: the leader did it, and they may read the same .env
        superuser = bootstrap_superuser if leader else _nothing
        routes = asyncio.to_thread(_build_asgi, app)
        if ha:
            # under --ha the data dir follows the changelog: NATS first, then the store opens
            # (restoring a snapshot, replaying the log), then the superuser goes through the log
            asgi, _ = await asyncio.gather(routes, nats.start())
            app.nats = nats.nc
            app.services["nats"] = nats
            app.services["ha"] = await _open_ha(app, settings, args, nats, leader)
            if metrics is not None and leader:
                metrics.follow_ha(app.services["ha"])
            await asyncio.to_thread(superuser, app, settings)
        elif nats is not None:
            asgi, *_ = await asyncio.gather(routes, asyncio.to_thread(superuser, app, settings), nats.start())
            app.nats = nats.nc
            app.services["nats"] = nats
            log.info("NATS ready at %s", nats.client_url)
        else:
            asgi, _ = await asyncio.gather(routes, asyncio.to_thread(superuser, app, settings))
        if metrics is not None:
            metrics.wrap(asgi)
        followers = None
        if settings.workers > 1:
            assert nats is not None
            group = settings.env.get(workers.GROUP_ENV) or workers.new_group_id()
            peers = workers.Peers(nats.nc, group, settings.workers, lifecycle_of(app))
            await peers.start()
            lifecycle_of(app).peers = peers
            if metrics is not None:
                await metrics.share_with_workers(nats.nc, group, settings.workers, leader)
            if leader:
                from core.nats.settings import follower_flags

                argv = workers.follower_argv(settings, nats.client_url, nats.settings.creds)
                argv += follower_flags(nats.settings)
                if ha:
                    from core.ha.cli import serve_flags

                    argv += serve_flags(args)
                argv += bus_settings.serve_flags(args)
                env = {**os.environ, workers.GROUP_ENV: group}
                if metrics is not None:
                    env.update(metrics.follower_env())  # followers count, the leader serves
                followers = workers.Followers(settings.workers, argv, env)
        # what start-up built lives as long as the process: out of the collector's sight
        gc.freeze()
        gc.enable()
        if metrics is not None and leader:
            await metrics.start_listener()
        await _run_http(asgi, settings, lambda: _end_streams(app), followers)
    finally:
        if metrics is not None:
            await metrics.stop()
        peers = lifecycle_of(app).peers
        if peers is not None:
            await peers.stop()
        ha_node = app.services.pop("ha", None)
        if ha_node is not None:
            await ha_node.close()
        if nats is not None:
            await nats.stop()
        app.close()
        if serve_lock is not None:
            serve_lock.release()


def raise_open_files_limit() -> None:
    """Every connection is a file descriptor: lift the soft limit to the hard one, as Go does
    at start-up for PocketBase (the common soft limit of 1024 is a few hundred idle clients)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, _NOFILE_CAP)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.debug("open files limit stays at %d: %s", soft, exc)


def _nothing(*_args: Any) -> None:
    return None


def _build_asgi(app: App) -> Any:
    from core.api import build_asgi  # Litestar and every route module: imported off the loop

    return build_asgi(app)


def _ha_enabled(settings: Settings, args: Any, nats: Any) -> bool:
    from core.config import ConfigError
    from core.ha import settings as ha_settings

    if args is None or not ha_settings.enabled(args, settings.env):
        return False
    if nats is None:
        raise ConfigError("--ha: the changelog lives on NATS; drop --no-nats (or give --nats-url)")
    return True


async def _open_ha(app: App, settings: Settings, args: Any, nats: Any, leader: bool) -> Any:
    from core.ha import settings as ha_settings
    from core.ha.node import HaNode
    from core.nats.topology import changelog_domain

    await nats.jetstream_ready()
    domain = changelog_domain(nats.plan)  # a spoke's changelog is in its hub's JetStream
    config = ha_settings.from_args(
        args,
        settings.env,
        node=nats.settings.name or (nats.plan.server_name if nats.plan else nats.settings.hostname),
        region=nats.settings.region or "",
        # a spoke cannot count its hub's servers: the stream's replicas are the hub's business
        cluster_size=nats.cluster_size() if leader and domain is None else None,
    )
    node = HaNode(config, nats.nc.jetstream(domain=domain) if domain else nats.js)
    await node.open(app, leader=leader)
    log.info(
        "HA: node %s follows stream %s (%s, %d replica(s))",
        config.node,
        config.stream.name,
        config.mode.value,
        config.stream.replicas,
    )
    return node


def _metrics(app: App, settings: Settings, args: Any) -> Any:
    """`--metrics-http ADDR`: the metrics service, or None when they are off."""
    from core.metrics import service

    listen = service.address(args, settings.env)
    return service.Metrics(app, listen) if listen else None


def _nats_service(settings: Settings, args: Any) -> Any:
    if args is None or getattr(args, "no_nats", False):
        return None
    from core.nats.service import NatsService

    return NatsService.from_args(args, settings.data_dir, settings.env)


async def _end_streams(app: App) -> None:
    """End open SSE streams first: the ASGI server waits for every open request before it runs
    the lifespan shutdown that would otherwise end them."""
    hub = app.services.get("ui")
    if hub is not None:
        hub.shutdown()
    broker = app.services.pop("realtime", None)
    if broker is not None:
        await broker.stop()


async def _run_http(
    asgi: Any, settings: Settings, before_stop: Any = None, followers: workers.Followers | None = None
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if settings.server == "uvicorn":
        server_task, shutdown = _uvicorn(asgi, settings)
    else:
        server_task, shutdown = _granian(asgi, settings)
    if settings.worker == 0:
        print(f"Server started at {settings.public_url}\n├─ REST API: {settings.public_url}/api/", flush=True)
    if followers is not None:
        followers.start()
    try:
        waiter = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({server_task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if server_task in done:
            waiter.cancel()
            server_task.result()
            return
        if before_stop is not None:
            await before_stop()
    finally:
        if followers is not None:
            await followers.stop()
    shutdown()
    try:
        await asyncio.wait_for(server_task, timeout=10)
    except (TimeoutError, asyncio.CancelledError):
        server_task.cancel()


def _granian(asgi: Any, settings: Settings) -> tuple[asyncio.Future[Any], Any]:
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server.embed import Server

    # every open SSE stream holds one request slot: granian's default of 128 would make client 129
    # of /api/realtime hang, so allow many (what they cost is memory, not threads)
    server = Server(
        asgi,
        address=settings.http_host,
        port=settings.http_port,
        interface=Interfaces.ASGI,
        # HTTP/1.1 only, as PocketBase serves plain HTTP: in auto mode the connection first waits
        # (with no timeout) for enough bytes to tell HTTP/1 from an HTTP/2 preface, so a client
        # that connects and sends nothing held its file descriptor forever, and a preface got an
        # HTTP/2 session. HTTP/1 mode closes both, and the header timeout below covers the
        # connection from its first moment (silent, partial or idle keep-alive alike).
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=int(settings.http_read_timeout * 1000)),
        log_level=LogLevels.warning,
        log_access=False,
        backlog=2048,
        backpressure=65536,
        # the socket writes of realtime fan-outs (a frame per subscriber and event) run on
        # granian's Rust threads: with one, a burst to a thousand sockets queued behind itself
        # and a send now and then had to wait for room (tens of ms at p99); two cut those tails
        runtime_threads=min(2, len(os.sched_getaffinity(0))),
    )
    # granian calls its in-process (embedded) mode experimental and says so on every start; it
    # is the mode this design chose (one process, one loop) and the one the tests run
    logging.getLogger("_granian").addFilter(_not_experimental_warning)
    return asyncio.ensure_future(server.serve()), server.stop


def _not_experimental_warning(record: logging.LogRecord) -> bool:
    return record.getMessage() != "Embedded server is experimental!"


def _uvicorn(asgi: Any, settings: Settings) -> tuple[asyncio.Future[Any], Any]:
    import uvicorn

    class Server(uvicorn.Server):
        # our own handlers own SIGTERM; uvicorn's would re-raise it after serve() and skip cleanup
        def capture_signals(self) -> Any:  # type: ignore[override]
            import contextlib

            return contextlib.nullcontext()

    config = uvicorn.Config(
        asgi, host=settings.http_host, port=settings.http_port, log_level="warning", lifespan="on"
    )
    server = Server(config)

    def shutdown() -> None:
        server.should_exit = True

    return asyncio.ensure_future(server.serve()), shutdown
