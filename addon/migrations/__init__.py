"""Versioned schema migrations, applied in order; schema_version holds the last one applied.

Each migration is a function of a connection, run inside one transaction with the version
bump, so a crash leaves the database at the old version or the new one, never between.
Never edit a released migration: add the next one. The connection must be in autocommit mode
(isolation_level=None) so that BEGIN and COMMIT here are the only transaction boundaries.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable


def _statements(db: sqlite3.Connection, script: str) -> None:
    # Not executescript: it commits first, and a migration must be one transaction.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1_initial(db: sqlite3.Connection) -> None:
    # AUTOINCREMENT: an id is never reused, so a deleted sample's or job's URL never shows another.
    _statements(
        db,
        """
        CREATE TABLE projects (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            slug TEXT NOT NULL UNIQUE,
            phrase TEXT NOT NULL,
            language TEXT NOT NULL,
            author TEXT NOT NULL,
            website TEXT,
            created_by TEXT,
            created_at REAL NOT NULL
        );
        CREATE TABLE samples (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            label TEXT NOT NULL,
            speaker TEXT NOT NULL,
            source TEXT NOT NULL,
            duration_s REAL NOT NULL,
            flags TEXT NOT NULL DEFAULT '[]',
            created_by TEXT,
            created_at REAL NOT NULL,
            path TEXT NOT NULL
        );
        CREATE INDEX samples_project_label ON samples(project_id, label);
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            spec TEXT NOT NULL,
            created_by TEXT,
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            error TEXT,
            result TEXT
        );
        CREATE INDEX jobs_state ON jobs(state);
        CREATE TABLE job_events (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            stage TEXT NOT NULL,
            done INTEGER NOT NULL,
            total INTEGER NOT NULL,
            message TEXT NOT NULL,
            metrics TEXT NOT NULL,
            time_s REAL NOT NULL
        );
        CREATE INDEX job_events_job ON job_events(job_id, id);
        """,
    )


def _v2_recovery(db: sqlite3.Connection) -> None:
    """What restart recovery and duplicate detection need."""
    _statements(
        db,
        """
        ALTER TABLE samples ADD COLUMN sha256 TEXT;
        CREATE INDEX samples_project_sha ON samples(project_id, sha256);
        ALTER TABLE jobs ADD COLUMN pid INTEGER;
        ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE jobs ADD COLUMN progress_offset INTEGER NOT NULL DEFAULT 0;
        """,
    )


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1_initial, _v2_recovery)
LATEST = len(MIGRATIONS)


def schema_version(db: sqlite3.Connection) -> int:
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at REAL)"
    )
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return row[0] or 0


def migrate(db: sqlite3.Connection, target: int = LATEST) -> int:
    """Applies every migration after the database's version up to `target`; returns it."""
    current = schema_version(db)
    if current > LATEST:
        raise RuntimeError(
            f"the database is at schema version {current}, newer than this add-on knows "
            f"({LATEST}); install the newer add-on version again or restore a backup"
        )
    for version in range(current + 1, target + 1):
        db.execute("BEGIN IMMEDIATE")  # one transaction: the migration and its version row
        try:
            MIGRATIONS[version - 1](db)
            db.execute("INSERT INTO schema_version VALUES (?, ?)", (version, time.time()))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return max(current, target)
