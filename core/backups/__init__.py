"""Backups of `<data>/pocketbase` as PocketBase-style zip archives: create, list, restore."""

from __future__ import annotations

from core.backups.service import BackupError, BackupService

__all__ = ["BackupError", "BackupService"]
