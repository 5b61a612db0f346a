"""The `core` command. Thin: parse, build settings, call into the app."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Sequence

from core import __version__
from core import cli_logs as logs_cli
from core.backups import cli as backups_cli
from core.bus import settings as bus_settings
from core.config import DEFAULT_DIR, DEFAULT_HTTP, ConfigError, Settings, load_dotenv_file
from core.ha import cli as ha_cli
from core.nats import cli as nats_cli
from core.nats.errors import NatsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="core", description="PocketBase-compatible backend with embedded NATS."
    )
    parser.add_argument("--version", action="version", version=f"core {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="start the web server (and the embedded NATS server)")
    serve.add_argument(
        "--http",
        default=None,
        help=f"TCP address to listen on: HOST:PORT, [IPV6]:PORT, :PORT (every interface), HOST or PORT "
        f"(default {DEFAULT_HTTP}) [env CORE_POCKETBASE_HTTP]",
    )
    serve.add_argument("--dir", default=None, help=f"data directory (default {DEFAULT_DIR})")
    serve.add_argument(
        "--server", choices=("granian", "uvicorn"), default=None, help="ASGI server (default granian)"
    )
    serve.add_argument(
        "--origins",
        default=None,
        metavar="LIST",
        help="CORS allowed origins, comma separated (default *) [env CORE_ORIGINS]",
    )
    serve.add_argument("--dev", action="store_true", help="verbose logs")
    serve.add_argument(
        "--workers",
        default=None,
        metavar="N",
        help="processes serving this data dir on this port, or auto (one per CPU) "
        "(default 1) [env CORE_WORKERS]",
    )
    serve.add_argument("--no-nats", action="store_true", help="run without the embedded NATS server")
    serve.add_argument(
        "--metrics-http",
        default=None,
        metavar="ADDR",
        help="serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9091 (a private "
        "address: never the public port; default off) [env CORE_METRICS_HTTP]",
    )
    nats_cli.add_serve_arguments(serve)
    ha_cli.add_serve_arguments(serve)
    bus_settings.add_serve_arguments(serve)
    serve.set_defaults(func=cmd_serve)

    su = sub.add_parser("superuser", help="manage superusers")
    su_sub = su.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, needs_password in (("upsert", True), ("create", True), ("update", True), ("delete", False)):
        p = su_sub.add_parser(action, help=f"{action} a superuser")
        p.add_argument("email")
        if needs_password:
            p.add_argument("password")
        p.add_argument("--dir", default=None, help=f"data directory (default {DEFAULT_DIR})")
        p.set_defaults(func=cmd_superuser)

    backups_cli.register(sub)

    version = sub.add_parser("version", help="print the versions of core, nats-server and SQLite")
    version.set_defaults(func=cmd_version)

    nats_cli.register(sub)
    ha_cli.register(sub)
    logs_cli.register(sub)
    return parser


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from core.server import serve

        settings = Settings.from_args(args)
    except BaseException:
        gc.enable()
        raise
    logging.basicConfig(
        level=logging.DEBUG if settings.dev else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(serve(settings, args))
    finally:
        gc.enable()  # serve() turns it on once up; not if it failed before
    return 0


def cmd_superuser(args: argparse.Namespace) -> int:
    from core import datadir, superusers
    from core.ha.applier import refuse_offline_writes
    from core.store.store import Store

    settings = Settings.from_args(args)
    refuse_offline_writes(
        settings.pb_dir / "data.db", "`core superuser` (use CORE_POCKETBASE_ADMIN_* or the API)"
    )
    datadir.prepare(settings.data_dir, settings.pb_dir)
    store = Store(settings.pb_dir)
    store.open()
    try:
        if args.action == "delete":
            superusers.delete(store, args.email)
            print(f"Successfully deleted superuser {args.email}.")
        else:
            superusers.upsert(
                store,
                args.email,
                args.password,
                create_only=args.action == "create",
                update_only=args.action == "update",
            )
            verb = {"upsert": "saved", "create": "created", "update": "changed password of"}[args.action]
            print(f"Successfully {verb} superuser {args.email}.")
    except superusers.SuperuserError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    import apsw

    print(f"core {__version__}")
    print(f"nats-server {nats_server_version()}")
    print(f"SQLite {apsw.sqlite_lib_version()} (apsw {apsw.apsw_version()})")
    return 0


def nats_server_version() -> str:
    import os
    import subprocess

    from core.nats.errors import NatsError
    from core.nats.process import find_binary

    try:
        binary = find_binary(os.environ)
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10).stdout
    except (NatsError, OSError, subprocess.SubprocessError):
        return "(not found)"
    return out.strip().removeprefix("nats-server: ").lstrip("v") or "(unknown)"


def main(argv: Sequence[str] | None = None) -> int:
    gc.disable()  # start-up allocates only long-lived objects; `serve` re-enables it once up
    load_dotenv_file()
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is not cmd_serve:
        gc.enable()
    if func is None:
        parser.print_help()
        return 0
    try:
        return int(func(args) or 0)
    except ConfigError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    except NatsError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
