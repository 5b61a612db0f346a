"""Writing and reading backup archives.

An archive is a zip of the data dir as PocketBase makes it: `data.db` and `auxiliary.db` at
the root, then every other file (storage/...) under its relative path, deflated at the fastest
level. The databases are copied with SQLite's online backup API from one read transaction, so
each is a consistent snapshot even while the server keeps writing (the WAL lets writers go on).

Reading is defensive: an archive is checked before anything is extracted (a zip with sane
member names, CRCs that match, a `data.db` at the root, enough disk space) and extracted only
into a scratch directory; `check_databases` then proves the databases are intact SQLite files.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

import apsw

from core.backups.layout import AUX_DB, DATA_DB, DATABASES, DB_FILES, EXCLUDED

# (done, total, what): bytes, or database pages when `what` ends with " pages"
Progress = Callable[[int, int, str], None]

CHUNK = 1024 * 1024
PAGES_PER_STEP = 256


class ArchiveError(Exception):
    """The archive cannot be used; the message says why, in one line."""


def no_progress(_done: int, _total: int, _what: str) -> None:
    pass


# -- creating ----------------------------------------------------------------------------------
def copy_database(src: Path, dest: Path, progress: Progress = no_progress) -> None:
    """A consistent copy of `src` through the SQLite backup API, in steps (for progress)."""
    source = apsw.Connection(str(src))
    target = apsw.Connection(str(dest))
    try:
        source.setbusytimeout(10000)
        # one read transaction across all steps: every page comes from the same snapshot, and
        # writes by other connections (the server's writer) neither block nor restart the copy
        source.execute("BEGIN")
        source.execute("SELECT count(*) FROM sqlite_schema").fetchall()
        with target.backup("main", source, "main") as backup:
            while not backup.done:
                backup.step(PAGES_PER_STEP)
                total = backup.page_count
                progress(total - backup.remaining, total, f"{src.name} pages")
        source.execute("COMMIT")
    finally:
        target.close()
        source.close()


def _data_files(pb_dir: Path) -> Iterator[tuple[Path, str]]:
    """Every regular file to archive besides the databases, with its zip name."""
    for root, dirs, files in os.walk(pb_dir):
        rel_root = Path(root).relative_to(pb_dir)
        if rel_root == Path("."):
            dirs[:] = sorted(d for d in dirs if d not in EXCLUDED)
            files = [f for f in files if f not in EXCLUDED and f not in DB_FILES]
        else:
            dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if path.is_file() and not path.is_symlink():
                yield path, (rel_root / name).as_posix()


def create_archive(pb_dir: Path, scratch: Path, dest: Path, progress: Progress = no_progress) -> None:
    """Zip the data dir into `dest` (written in `scratch` first, then renamed into place)."""
    scratch.mkdir(parents=True, exist_ok=True)
    tmp_zip = scratch / f"{dest.name}.partial"
    copies: list[tuple[Path, str]] = []
    try:
        for name in DATABASES:
            if (pb_dir / name).exists():
                copy = scratch / f"{dest.name}.{name}"
                copy_database(pb_dir / name, copy, progress)
                copies.append((copy, name))
        files = copies + list(_data_files(pb_dir))
        total = sum(_size(p) for p, _ in files)
        done = 0
        with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for path, arcname in files:
                try:
                    done = _add_file(zf, path, arcname, done, total, progress)
                except FileNotFoundError:
                    continue  # deleted while the backup ran: it was not part of the data any more
        os.replace(tmp_zip, dest)
    finally:
        tmp_zip.unlink(missing_ok=True)
        for copy, _ in copies:
            copy.unlink(missing_ok=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _add_file(
    zf: zipfile.ZipFile, path: Path, arcname: str, done: int, total: int, progress: Progress
) -> int:
    info = zipfile.ZipInfo.from_file(path, arcname)
    info.compress_type = zipfile.ZIP_DEFLATED
    with path.open("rb") as src, zf.open(info, "w") as out:
        while chunk := src.read(CHUNK):
            out.write(chunk)
            done += len(chunk)
            progress(done, total, arcname)
    return done


# -- reading -----------------------------------------------------------------------------------
def _safe_name(name: str) -> PurePosixPath:
    if "\\" in name or "\x00" in name:
        raise ArchiveError(f"unsafe file name in the archive: {name!r}")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise ArchiveError(f"unsafe file name in the archive: {name!r}")
    return path


def inspect(zip_path: Path, free_bytes: int | None = None) -> list[zipfile.ZipInfo]:
    """The members to extract, after every check that needs no extraction."""
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ArchiveError(f"not a valid zip archive ({e})") from None
    with zf:
        members: list[zipfile.ZipInfo] = []
        for info in zf.infolist():
            path = _safe_name(info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ArchiveError(f"the archive contains a symbolic link: {info.filename!r}")
            if not path.parts or path.parts[0] in EXCLUDED or info.is_dir():
                continue
            members.append(info)
        if not any(m.filename == DATA_DB for m in members):
            raise ArchiveError(f"{DATA_DB} is missing from the archive: it is not a backup of this app")
        total = sum(m.file_size for m in members)
        if free_bytes is not None and total > free_bytes:
            raise ArchiveError(f"not enough disk space to extract the archive ({total} bytes needed)")
        try:
            bad = zf.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as e:
            raise ArchiveError(f"the archive is corrupted ({e})") from None
        if bad is not None:
            raise ArchiveError(f"the archive is corrupted (bad CRC for {bad!r})")
    return members


def extract(zip_path: Path, dest: Path, progress: Progress = no_progress) -> None:
    """Extract a backup into the empty directory `dest` (checks included)."""
    free = shutil.disk_usage(dest.parent).free
    members = inspect(zip_path, free)
    total = sum(m.file_size for m in members)
    done = 0
    with zipfile.ZipFile(zip_path) as zf:
        for info in members:
            target = dest.joinpath(*PurePosixPath(info.filename).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, target.open("wb") as out:
                    while chunk := src.read(CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        progress(done, total, info.filename)
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise ArchiveError(f"failed to extract {info.filename!r} ({e})") from None


def check_databases(root: Path) -> None:
    """The extracted databases must be intact SQLite files, and data.db must be an app database."""
    for name in DATABASES:
        path = root / name
        if not path.exists():
            if name == AUX_DB:
                continue  # logs are optional; an empty auxiliary.db is made on open
            raise ArchiveError(f"{name} is missing from the archive")
        try:
            conn = apsw.Connection(str(path))
            try:
                result = conn.execute("PRAGMA quick_check").fetchall()
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
            finally:
                conn.close()
        except apsw.Error as e:
            raise ArchiveError(f"{name} is not a valid SQLite database ({e})") from None
        if result != [("ok",)]:
            raise ArchiveError(f"{name} is corrupted ({result[0][0] if result else 'no result'})")
        if name == DATA_DB and not {"_collections", "_params"} <= tables:
            raise ArchiveError(f"{DATA_DB} is not a database of this app (no _collections/_params tables)")
