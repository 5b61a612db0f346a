"""The `core nats …` commands and the NATS flags of `core serve`.

Commands return an exit code; a NatsError becomes one line on stderr (exit 2 for bad
configuration, 1 otherwise), never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.nats import creds, settings
from core.nats.auth import (
    APP_ACCOUNT,
    INTERNAL_ACCOUNT,
    INTERNAL_PREFIX,
    INTERNAL_SUBJECTS,
    SYSTEM_ACCOUNT,
    SYSTEM_CREDS,
    AuthBundle,
    AuthStore,
    merge,
)
from core.nats.errors import NatsConfigError, NatsError

log = logging.getLogger("core.nats")
DEFAULT_DIR = ".data"
_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """All NATS and topology flags (the lead adds them to `core serve`)."""
    settings.add_arguments(parser)


def register(subparsers: Any) -> None:
    """Add the `nats` command group to the top-level argparse subparsers."""
    group = subparsers.add_parser("nats", help="the embedded NATS server and its credentials")
    commands = group.add_subparsers(dest="nats_command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="run the NATS node alone (same flags as `core serve`)")
    _add_dir(serve)
    add_serve_arguments(serve)
    serve.set_defaults(func=_guard(cmd_serve))

    issue = commands.add_parser("creds", help="write a .creds file for a new user")
    _add_dir(issue)
    issue.add_argument("name", metavar="NAME", help="user name (shown in server logs)")
    issue.add_argument(
        "--account", default=APP_ACCOUNT, help="account of the user (default: app; never CORE, core's own)"
    )
    issue.add_argument("--pub", action="append", default=[], metavar="SUBJ", help="allow publishing to SUBJ")
    issue.add_argument("--sub", action="append", default=[], metavar="SUBJ", help="allow subscribing to SUBJ")
    issue.add_argument(
        "--logs",
        action="store_true",
        help="allow reading the PB_LOGS stream (what `core logs tail --creds FILE` needs)",
    )
    issue.add_argument(
        "--events",
        metavar="COLLECTIONS",
        help="may read the record events of these collections (comma separated, '*' for all) "
        "through one JetStream consumer named after NAME",
    )
    issue.add_argument("--expires", metavar="DURATION", help="lifetime, e.g. 24h, 7d (default: never)")
    issue.add_argument("-o", "--output", metavar="FILE", help="write here (mode 0600) instead of stdout")
    issue.set_defaults(func=_guard(cmd_creds))

    account = commands.add_parser("account", help="manage accounts")
    account_cmds = account.add_subparsers(dest="account_command", metavar="COMMAND", required=True)
    add = account_cmds.add_parser("add", help="create an account and push it to the running servers")
    _add_dir(add)
    add.add_argument("name", metavar="NAME")
    add.add_argument("--no-jetstream", action="store_true", help="create it without JetStream")
    add.add_argument("--nats-url", help="server to push to (default: nats://127.0.0.1:NATS_PORT)")
    add.add_argument("--nats-port", help="client port of the local server (default: 4222) [env NATS_PORT]")
    add.set_defaults(func=_guard(cmd_account_add))

    auth = commands.add_parser("auth", help="move the operator and accounts between nodes")
    auth_cmds = auth.add_subparsers(dest="auth_command", metavar="COMMAND", required=True)
    init = auth_cmds.add_parser(
        "init", help="create the operator, system and app accounts now (no server needed), if missing"
    )
    _add_dir(init)
    init.set_defaults(func=_guard(cmd_auth_init))
    export = auth_cmds.add_parser("export", help="print the auth bundle (SECRET: holds every seed)")
    _add_dir(export)
    export.add_argument("-o", "--output", metavar="FILE", help="write here (mode 0600) instead of stdout")
    export.set_defaults(func=_guard(cmd_auth_export))
    load = auth_cmds.add_parser("import", help="adopt a bundle from FILE, '-' (stdin) or $CORE_NATS_AUTH")
    _add_dir(load)
    load.add_argument("file", nargs="?", metavar="FILE")
    load.add_argument("--force", action="store_true", help="replace a different operator (its accounts go)")
    load.set_defaults(func=_guard(cmd_auth_import))


def _add_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=DEFAULT_DIR, help=f"data directory (default: {DEFAULT_DIR})")


def _guard(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except NatsConfigError as exc:
            print(f"core: error: {exc}", file=sys.stderr)
            return 2
        except NatsError as exc:
            print(f"core: {exc}", file=sys.stderr)
            return 1

    run.__name__ = command.__name__
    return run


def _store(args: argparse.Namespace) -> AuthStore:
    return AuthStore(Path(args.dir) / "nats-auth")


def cmd_serve(args: argparse.Namespace) -> int:
    from core.nats.service import NatsService  # nats-py only for the commands that connect

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service = NatsService.from_args(args, Path(args.dir), os.environ)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await service.start()
        try:
            print(f"NATS ready at {service.client_url}", flush=True)
            await stop.wait()
        finally:
            await service.stop()

    asyncio.run(main())
    return 0


def cmd_creds(args: argparse.Namespace) -> int:
    bundle = _store(args).load()
    account = bundle.account(args.account)
    if account.name == SYSTEM_ACCOUNT:
        log.warning("issuing a system-account user: it can administer every server")
    try:
        expires = creds.parse_duration(args.expires) if args.expires else None
    except ValueError as exc:
        raise NatsConfigError(f"--expires: {exc}") from None
    for flag, subjects in (("--pub", args.pub), ("--sub", args.sub)):
        reserved = [s for s in subjects if s.startswith(INTERNAL_PREFIX)]
        if reserved:
            raise NatsConfigError(f"{flag}: {reserved[0]} is reserved for core's own traffic")
    pub, sub = list(args.pub), list(args.sub)
    if args.logs:
        from core.logs.stream import reader_permissions

        log_pub, log_sub = reader_permissions()
        pub, sub = pub + log_pub, sub + log_sub
    if args.events is not None:
        collections = [c.strip() for c in args.events.split(",") if c.strip()]
        bad = [c for c in collections if c != "*" and not _COLLECTION_NAME.match(c)]
        if not collections or bad:
            raise NatsConfigError(f"--events: {(bad or [args.events])[0]!r} is not a collection name or '*'")
        if account.name != APP_ACCOUNT:
            raise NatsConfigError(
                f"--events: record events live in the {APP_ACCOUNT} account, not {account.name}"
            )
        events_pub, events_sub = creds.events_permissions(args.name, collections)
        pub, sub = pub + events_pub, sub + events_sub
        print(f"core: record events consumer name: {creds.events_consumer(args.name)}", file=sys.stderr)
    issued = creds.issue(
        account.seed,
        args.name,
        pub_allow=pub,
        sub_allow=sub,
        deny=INTERNAL_SUBJECTS,
        # record events come from core alone
        pub_deny=(creds.EVENTS_SUBJECTS,),
        expires_in=expires,
    )
    _emit(issued.text(), args.output)
    return 0


def cmd_account_add(args: argparse.Namespace) -> int:
    from core.nats.client import push_account

    store = _store(args)
    bundle, account = store.load().with_account(args.name, jetstream=not args.no_jetstream)
    store.save(bundle)
    port = args.nats_port or os.environ.get("NATS_PORT") or "4222"
    url = args.nats_url or f"nats://127.0.0.1:{port}"

    async def push() -> int:
        sys_creds = store.user_creds(bundle.system_account, SYSTEM_CREDS, "core-system")
        replies = await push_account(
            url, sys_creds, account.jwt, name="core nats account add", source="--nats-url"
        )
        failed = [r["error"] for r in replies if r.get("error")]
        if failed:
            raise NatsError(f"a server refused account {args.name}: {failed[0]}")
        return len(replies)

    try:
        count = asyncio.run(push())
    except NatsConfigError as exc:
        print(f"account {args.name} ({account.public_key}) saved; not pushed: {exc}", file=sys.stderr)
        print("servers of this node load it on their next start", file=sys.stderr)
        return 0
    print(f"account {args.name} ({account.public_key}) saved and pushed to {count} server(s)")
    return 0


def cmd_auth_init(args: argparse.Namespace) -> int:
    """Lets a deployment make the bundle before its first node starts (a Fly.io secret)."""
    store = _store(args)
    existed = store.exists()
    bundle = store.load_or_create()
    verb = "exists" if existed else "created"
    print(f"operator {bundle.operator_public_key} {verb}; accounts {', '.join(sorted(bundle.accounts))}")
    print(f"core's own traffic: account {INTERNAL_ACCOUNT} {bundle.internal_account.public_key} (derived)")
    return 0


def cmd_auth_export(args: argparse.Namespace) -> int:
    text = _store(args).load().export_text()
    if args.output is None:
        print(
            "core: this bundle holds every seed: keep it secret (e.g. `fly secrets set CORE_NATS_AUTH=…`)",
            file=sys.stderr,
        )
    _emit(text + "\n", args.output)
    return 0


def cmd_auth_import(args: argparse.Namespace) -> int:
    if args.file == "-":
        text, source = sys.stdin.read(), "stdin"
    elif args.file:
        try:
            text, source = Path(args.file).read_text(encoding="utf-8"), args.file
        except OSError as exc:
            raise NatsConfigError(f"FILE: cannot read {args.file}: {exc.strerror}") from None
    elif os.environ.get("CORE_NATS_AUTH"):
        text, source = os.environ["CORE_NATS_AUTH"], "CORE_NATS_AUTH"
    else:
        raise NatsConfigError("FILE: give a bundle file, '-' for stdin, or set CORE_NATS_AUTH")
    store = _store(args)
    incoming = AuthBundle.import_text(text, source)
    local = store.load() if store.exists() and not args.force else None
    bundle = merge(local, incoming, source)
    store.save(bundle)
    print(
        f"imported operator {bundle.operator_public_key} with accounts {', '.join(sorted(bundle.accounts))}"
    )
    return 0


def _emit(text: str, output: str | None) -> None:
    if output:
        creds.write_secret(Path(output), text)
    else:
        sys.stdout.write(text)


def main(argv: list[str] | None = None) -> int:
    """`python -m core.nats …`: the `core nats` group on its own, for tests and debugging."""
    parser = argparse.ArgumentParser(prog="core")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["nats", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))
