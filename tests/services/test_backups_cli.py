"""`core backup create|list|restore` on a data dir (the lead wires `register` into core/cli.py)."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import apsw
import pytest

from core.backups.cli import register
from core.backups.lock import DataDirLock
from core.backups.progress import ProgressBar


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="core")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.fixture
def data(fixture_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(fixture_dir, target)
    return target


def titles(data: Path) -> list[str]:
    conn = apsw.Connection(str(data / "pocketbase" / "data.db"))
    try:
        return [r[0] for r in conn.execute("SELECT title FROM posts ORDER BY id")]
    finally:
        conn.close()


def test_create_list_restore(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("backup", "create", "first.zip", "--dir", str(data)) == 0
    assert "Created backup first.zip" in capsys.readouterr().out

    conn = apsw.Connection(str(data / "pocketbase" / "data.db"))
    conn.execute("UPDATE posts SET title = 'changed'")
    conn.close()

    assert run("backup", "create", "--dir", str(data)) == 0  # default name
    assert run("backup", "list", "--json", "--dir", str(data)) == 0
    keys = [b["key"] for b in json.loads(capsys.readouterr().out.split("\n", 1)[1])]
    assert keys[0] == "first.zip" and keys[1].startswith("pb_backup_acme_")

    assert run("backup", "restore", "first.zip", "--dir", str(data)) == 0
    assert "Restored first.zip" in capsys.readouterr().out
    assert "changed" not in titles(data)
    assert sorted(p.name for p in (data / "pocketbase" / "backups").iterdir()) == sorted(keys)
    assert list((data / "pocketbase" / ".pb_temp_to_delete").iterdir()) == []


def test_restore_refuses_while_a_server_holds_the_dir(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("backup", "create", "b.zip", "--dir", str(data)) == 0
    server = DataDirLock(data / "pocketbase")
    assert server.acquire(exclusive=False)
    try:
        assert run("backup", "restore", "b.zip", "--dir", str(data)) == 1
        assert "a server is running" in capsys.readouterr().err
    finally:
        server.release()


def test_restore_errors(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("backup", "restore", "missing.zip", "--dir", str(data)) == 1
    assert "Missing or invalid backup file." in capsys.readouterr().err
    backups = data / "pocketbase" / "backups"
    backups.mkdir(parents=True, exist_ok=True)
    (backups / "bad.zip").write_bytes(b"PK\x03\x04 broken")
    before = titles(data)
    assert run("backup", "restore", "bad.zip", "--dir", str(data)) == 1
    assert "not a valid zip archive" in capsys.readouterr().err
    assert titles(data) == before


def test_list_empty_and_create_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("backup", "list", "--dir", str(tmp_path / "nothing")) == 0
    assert "No backups." in capsys.readouterr().out
    assert run("backup", "create", "--dir", str(tmp_path / "nothing")) == 1


def test_progress_bar_draws_on_a_tty() -> None:
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    bar = ProgressBar(out)
    bar.phase("zipping")
    bar(50, 100, "storage/x.txt")
    bar(100, 100, "data.db pages")
    bar.finish()
    text = out.getvalue()
    assert "zipping" in text and "[###############---------------]  50%" in text and "100/100 pages" in text
