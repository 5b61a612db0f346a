"""`core backup create|list|restore`: backups of a data dir from the command line.

`create` works while a server runs on the same directory (the databases are copied through
SQLite's backup API). `restore` needs the server stopped: it refuses while a server holds the
data dir lock (a running server restores through `POST /api/backups/{key}/restore`). On a data
dir that follows a `--ha` stream, `restore` sends the backup through the stream instead (server
running or not): every node of the cluster restores it (core/ha/restore.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import apsw

from core.backups.archive import ArchiveError
from core.backups.lock import DataDirLock
from core.backups.progress import ProgressBar
from core.backups.restore import trial_open_store
from core.backups.service import BackupError, BackupService
from core.config import DEFAULT_DIR, Settings
from core.store.settings import default_settings


def register(subparsers: Any) -> None:
    """Add the `backup` command to the `core` parser's subcommands."""
    backup = subparsers.add_parser("backup", help="create, list and restore backups of the data dir")
    actions = backup.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="write a new backup into DIR/pocketbase/backups")
    create.add_argument(
        "name", nargs="?", default="", help="file name, e.g. nightly.zip (default pb_backup_<app>_<time>.zip)"
    )
    _dir_option(create)
    create.set_defaults(func=cmd_create)

    listing = actions.add_parser("list", help="list the backups")
    listing.add_argument("--json", action="store_true", help="print JSON like GET /api/backups")
    _dir_option(listing)
    listing.set_defaults(func=cmd_list)

    restore = actions.add_parser(
        "restore", help="replace the data with a backup (the server must be stopped)"
    )
    restore.add_argument("key", help="the backup file name, as `core backup list` shows it")
    _dir_option(restore)
    restore.add_argument(
        "--nats-url",
        default=None,
        help="under --ha: the NATS of this node or the cluster (default nats://127.0.0.1:NATS_PORT)",
    )
    restore.add_argument(
        "--ha-stream", default=None, help="under --ha: the stream (env PB_REPLICATION_STREAM, default pb)"
    )
    restore.set_defaults(func=cmd_restore)


def _dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default=None, help=f"data directory (default {DEFAULT_DIR})")


def _service(args: argparse.Namespace) -> BackupService:
    pb_dir = Settings.from_args(args).pb_dir
    return BackupService(pb_dir, lambda: _stored_settings(pb_dir))


def _stored_settings(pb_dir: Path) -> dict[str, Any]:
    """The settings row, read without opening the store (the server may be running)."""
    settings = default_settings()
    path = pb_dir / "data.db"
    if not path.exists():
        return settings
    try:
        conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            row = conn.execute("SELECT value FROM _params WHERE id = 'settings'").fetchone()
        finally:
            conn.close()
        if row and row[0]:
            settings.update(json.loads(row[0]))
    except (apsw.Error, ValueError):
        pass
    return settings


def cmd_create(args: argparse.Namespace) -> int:
    service = _service(args)
    if not (service.pb_dir / "data.db").exists():
        print(f"Error: no data in {service.pb_dir}", file=sys.stderr)
        return 1
    bar = ProgressBar()
    bar.phase("backing up")
    try:
        name = service.create(args.name, progress=bar)
    except (BackupError, ArchiveError, OSError) as e:
        bar.finish()
        print(f"Error: {e}", file=sys.stderr)
        return 1
    bar.finish()
    size = (service.dir / name).stat().st_size
    print(f"Created backup {name} ({size} bytes) in {service.dir}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    items = _service(args).list()
    if args.json:
        print(json.dumps([b.to_json() for b in items], indent=2))
        return 0
    if not items:
        print("No backups.")
        return 0
    width = max(len(b.key) for b in items)
    for b in items:
        print(f"{b.key:<{width}}  {b.size:>12}  {b.modified}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from core.ha.applier import file_state

    settings = Settings.from_args(args)
    service = _service(args)
    followed = file_state(settings.pb_dir / "data.db")
    if followed is not None:
        return _restore_through_stream(args, settings, service, followed.stream)
    lock = DataDirLock(service.pb_dir)
    if not lock.acquire(exclusive=True):
        print(
            "Error: a server is running on this data dir; stop it first, "
            f"or restore through the API (POST /api/backups/{args.key}/restore).",
            file=sys.stderr,
        )
        return 1
    bar = ProgressBar()
    try:
        with service.operation(args.key):
            bar.phase("extracting")
            prepared = service.prepare_restore(args.key, trial_open_store(settings.env), progress=bar)
            bar.phase("swapping")
            try:
                prepared.swap()
            finally:
                prepared.discard()
    except (BackupError, ArchiveError, OSError) as e:
        bar.finish()
        print(f"Error: {e}", file=sys.stderr)
        return 1
    finally:
        lock.release()
    bar.finish()
    print(f"Restored {args.key} into {service.pb_dir}")
    return 0


def _restore_through_stream(
    args: argparse.Namespace, settings: Settings, service: BackupService, identity: str
) -> int:
    """The data dir follows a --ha stream: replacing its files here would change this node
    only, so the backup goes through the stream and every node restores it."""
    from core.ha.cli import on_cluster
    from core.ha.restore import RestoreError, send_offline

    bar = ProgressBar()
    try:
        with service.operation(args.key):
            bar.phase("extracting")
            prepared = service.prepare_restore(args.key, trial_open_store(settings.env), progress=bar)
            bar.finish()
            try:
                seq = on_cluster(
                    args, lambda js, stream: send_offline(js, stream, identity, prepared.extracted)
                )
            finally:
                prepared.discard()
    except (BackupError, ArchiveError, OSError, RestoreError) as e:
        bar.finish()
        print(f"Error: {getattr(e, 'message', e)}", file=sys.stderr)
        return 1
    print(f"Sent {args.key} through the changelog as entry {seq}: every node restores it")
    return 0
