"""SQLite storage for projects, samples, jobs and job events, and where their files live.

All database work runs on one dedicated thread (the connection never crosses threads and
writes are serialised), so the event loop never waits on the disk. WAL mode lets a crash at
any moment leave the last committed state intact.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from addon import migrations
from addon.errors import conflict
from mww_trainer.job_specs import JobKind
from mww_trainer.jobfiles import LABEL_DIRS, LABELS

T = TypeVar("T")

SOURCES = ("browser", "upload", "synthetic", "satellite", "import", "room", "recorded")
# People talking whose recordings a Generate job added: voice prompts, game dialogue, letters that
# Debian packages install (mww_trainer/synth/recorded.py).
RECORDED_SOURCE = "recorded"
JOB_KINDS = tuple(str(kind) for kind in JobKind)
MODEL_KINDS = ("train", "tune")  # jobs whose result is a model (download, try, install)
JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED_STATES = ("succeeded", "failed", "cancelled")
SHOWN_PROBLEMS = 5  # of PRAGMA quick_check's lines, in messages
# The kinds by their names on screen, for searching ("wake word" finds every positive).
LABEL_WORDS = {
    "positive": "wake word",
    "negative": "other speech",
    "hard_negative": "sound-alikes sound alikes",
    "background": "background noise",
    "rir": "room impulses",
}
_HIDDEN_FLAG = "converted"  # once set on every converted clip; never shown (see _sample)
_ESCAPE = "'\\'"
_LABEL_WORDS_SQL = (
    "CASE label "
    + " ".join(f"WHEN '{label}' THEN '{words}'" for label, words in LABEL_WORDS.items())
    + " END"
)
# The file name is the last part of path; searching all of it also finds the kind's folder.
_SEARCHED = ("path", "speaker", "source", "label", _LABEL_WORDS_SQL)
_DELETE_CHUNK = 500  # ids per statement, well under SQLite's bound on parameters


class DatabaseDamaged(RuntimeError):
    """PRAGMA quick_check found the database damaged; the message says what to do."""


@dataclass(frozen=True)
class ProjectLayout:
    """Where one project's files live under the data folder."""

    root: Path

    @property
    def dataset(self) -> Path:
        return self.root / "dataset"

    @property
    def processed(self) -> Path:  # feature cache and split file, shared by the project's jobs
        return self.root / "processed"

    def label_dir(self, label: str) -> Path:
        return self.dataset / LABEL_DIRS[label]

    def job_dir(self, job_id: int) -> Path:
        return self.root / "jobs" / str(job_id)


@dataclass(frozen=True)
class Project:
    id: int
    slug: str
    phrase: str
    language: str
    author: str
    website: str | None
    created_by: str | None
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Sample:
    id: int
    project_id: int
    label: str
    speaker: str
    source: str
    duration_s: float
    flags: tuple[str, ...]
    created_by: str | None
    created_at: float
    path: str  # relative to the project's folder, POSIX separators
    sha256: str | None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "flags": list(self.flags)}


@dataclass(frozen=True)
class SampleFilter:
    """Which samples a list or a bulk delete means; every field given must match.

    `text` is words, each found (any case) in the file name, the speaker, the source or the kind
    (its key or its name on screen, "wake word"); `flag` is one warning, or "any".
    """

    label: str | None = None
    source: str | None = None
    flag: str | None = None
    text: str = ""

    def where(self, project_id: int) -> tuple[str, list[Any]]:
        clauses, args = ["project_id = ?"], [project_id]
        for column in ("label", "source"):
            if getattr(self, column) is not None:
                clauses.append(f"{column} = ?")
                args.append(getattr(self, column))
        if self.flag == "any":
            clauses.append(
                f"EXISTS (SELECT 1 FROM json_each(flags) WHERE value != '{_HIDDEN_FLAG}')"
            )
        elif self.flag is not None:
            clauses.append("EXISTS (SELECT 1 FROM json_each(flags) WHERE value = ?)")
            args.append(self.flag)
        for word in self.text.split():
            pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append(f"({' OR '.join(f'{c} LIKE ? ESCAPE {_ESCAPE}' for c in _SEARCHED)})")
            args.extend([pattern] * len(_SEARCHED))
        return " AND ".join(clauses), args


@dataclass(frozen=True)
class SamplePage:
    """One page of the samples a filter matches (newest first), with what all of them add up to."""

    samples: list[Sample]
    total: int
    duration_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": [s.to_dict() for s in self.samples],
            "total": self.total,
            "duration_s": self.duration_s,
        }


@dataclass(frozen=True)
class NewSample:
    label: str
    speaker: str
    source: str
    duration_s: float
    flags: tuple[str, ...]
    path: str
    sha256: str
    created_by: str | None = None


@dataclass(frozen=True)
class Job:
    id: int
    project_id: int
    project_slug: str
    kind: str
    state: str
    spec: dict[str, Any]
    created_by: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    error: str | None
    result: dict[str, Any] | None
    pid: int | None
    attempts: int
    progress_offset: int

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["pid"], data["progress_offset"]
        return data


_JOB_SELECT = (
    "SELECT jobs.*, projects.slug AS project_slug"
    " FROM jobs JOIN projects ON projects.id = jobs.project_id"
)
_JOB_UPDATABLE = {"state", "started_at", "finished_at", "error", "result", "pid", "attempts"}


class Store:
    """The database. Open with `await Store.open(path)`; every method runs off the event loop."""

    def __init__(self, db: sqlite3.Connection, executor: ThreadPoolExecutor, path: Path):
        self._db = db
        self._executor = executor
        self.path = path

    @classmethod
    async def open(cls, path: Path) -> Store:
        """Opens (and migrates) the database; DatabaseDamaged when quick_check finds damage."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        loop = asyncio.get_running_loop()
        try:
            problems = await loop.run_in_executor(executor, quick_check, Path(path))
            if problems:
                raise DatabaseDamaged(
                    f"{path}: the database is damaged ({'; '.join(problems)}); the add-on will "
                    "not start on it. Stop it, move the file aside (the audio in projects/ is "
                    "untouched) and restore a backup"
                )
            db = await loop.run_in_executor(executor, _connect, Path(path))
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(db, executor, Path(path))

    async def check(self) -> list[str]:
        """quick_check's problems on a fresh connection (no cached pages); [] when sound."""
        return await self._run(lambda _db: quick_check(self.path))

    async def close(self) -> None:
        await self._run(lambda db: db.close())
        self._executor.shutdown(wait=True)

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, self._db)

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Runs `work` in one transaction: all of its writes land, or none."""

        def transaction(db: sqlite3.Connection) -> T:
            db.execute("BEGIN IMMEDIATE")
            try:
                out = work(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return out

        return await self._run(transaction)

    # --- projects ----------------------------------------------------------------------------

    async def create_project(
        self, fields: dict[str, Any], samples: Iterable[NewSample] = ()
    ) -> Project:
        """A new project (with its imported samples, in the same transaction)."""
        rows = list(samples)

        def work(db: sqlite3.Connection) -> Project:
            if db.execute("SELECT 1 FROM projects WHERE slug = ?", (fields["slug"],)).fetchone():
                raise conflict(
                    f"a wake word named {fields['slug']!r} already exists; open it, or choose "
                    "another name"
                )
            row = {**fields, "created_at": fields.get("created_at") or time.time()}
            columns = ", ".join(row)
            marks = ", ".join("?" * len(row))
            cursor = db.execute(
                f"INSERT INTO projects ({columns}) VALUES ({marks})", [*row.values()]
            )
            _insert_samples(db, cursor.lastrowid, rows)
            return _project(
                db.execute("SELECT * FROM projects WHERE id = ?", (cursor.lastrowid,)).fetchone()
            )

        return await self._write(work)

    async def list_projects(self) -> list[Project]:
        return await self._run(
            lambda db: [_project(r) for r in db.execute("SELECT * FROM projects ORDER BY slug")]
        )

    async def get_project(self, slug: str) -> Project | None:
        def work(db: sqlite3.Connection) -> Project | None:
            row = db.execute("SELECT * FROM projects WHERE slug = ?", (slug,)).fetchone()
            return None if row is None else _project(row)

        return await self._run(work)

    async def delete_project(self, project_id: int) -> None:
        await self._write(lambda db: db.execute("DELETE FROM projects WHERE id = ?", (project_id,)))

    # --- samples -----------------------------------------------------------------------------

    async def add_samples(self, project_id: int, new: Iterable[NewSample]) -> list[Sample]:
        rows = list(new)

        def work(db: sqlite3.Connection) -> list[Sample]:
            ids = _insert_samples(db, project_id, rows)
            query = "SELECT * FROM samples WHERE id = ?"
            return [_sample(db.execute(query, (i,)).fetchone()) for i in ids]

        return await self._write(work)

    async def list_samples(self, project_id: int, label: str | None = None) -> list[Sample]:
        query, args = "SELECT * FROM samples WHERE project_id = ?", [project_id]
        if label is not None:
            query, args = query + " AND label = ?", [*args, label]
        return await self._run(
            lambda db: [_sample(r) for r in db.execute(query + " ORDER BY id", args)]
        )

    async def find_samples(
        self, project_id: int, which: SampleFilter, *, offset: int, limit: int
    ) -> SamplePage:
        """The page of matching samples, newest first, with their count and total length."""
        where, args = which.where(project_id)

        def work(db: sqlite3.Connection) -> SamplePage:
            total, duration_s = db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(duration_s), 0) FROM samples WHERE {where}", args
            ).fetchone()
            rows = db.execute(
                f"SELECT * FROM samples WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            )
            return SamplePage([_sample(r) for r in rows], total, duration_s)

        return await self._run(work)

    async def matching_samples(
        self, project_id: int, which: SampleFilter | None = None, ids: Iterable[int] = ()
    ) -> list[Sample]:
        """Every sample the filter matches, or those of `ids` (in this project)."""
        wanted = list(ids)

        def work(db: sqlite3.Connection) -> list[Sample]:
            if which is not None:
                where, args = which.where(project_id)
                return [
                    _sample(r) for r in db.execute(f"SELECT * FROM samples WHERE {where}", args)
                ]
            found = []
            for start in range(0, len(wanted), _DELETE_CHUNK):
                chunk = wanted[start : start + _DELETE_CHUNK]
                marks = ", ".join("?" * len(chunk))
                query = f"SELECT * FROM samples WHERE project_id = ? AND id IN ({marks})"
                found.extend(_sample(r) for r in db.execute(query, [project_id, *chunk]))
            return found

        return await self._run(work)

    async def delete_samples(self, sample_ids: list[int]) -> None:
        """Deletes the rows together: all of them, or none."""

        def work(db: sqlite3.Connection) -> None:
            for start in range(0, len(sample_ids), _DELETE_CHUNK):
                chunk = sample_ids[start : start + _DELETE_CHUNK]
                db.execute(
                    f"DELETE FROM samples WHERE id IN ({', '.join('?' * len(chunk))})", chunk
                )

        await self._write(work)

    async def restore_samples(self, project_id: int, samples: list[Sample]) -> None:
        """Puts deleted rows back as they were, ids included (an id is never given to another)."""

        def work(db: sqlite3.Connection) -> None:
            for s in samples:
                row = {**s.to_dict(), "project_id": project_id, "flags": json.dumps(list(s.flags))}
                marks = ", ".join("?" * len(row))
                db.execute(
                    f"INSERT INTO samples ({', '.join(row)}) VALUES ({marks})", [*row.values()]
                )

        await self._write(work)

    async def get_sample(self, project_id: int, sample_id: int) -> Sample | None:
        def work(db: sqlite3.Connection) -> Sample | None:
            row = db.execute(
                "SELECT * FROM samples WHERE id = ? AND project_id = ?", (sample_id, project_id)
            ).fetchone()
            return None if row is None else _sample(row)

        return await self._run(work)

    async def find_sha(self, project_id: int, sha256: str) -> Sample | None:
        def work(db: sqlite3.Connection) -> Sample | None:
            row = db.execute(
                "SELECT * FROM samples WHERE project_id = ? AND sha256 = ?", (project_id, sha256)
            ).fetchone()
            return None if row is None else _sample(row)

        return await self._run(work)

    async def move_samples(self, project_id: int, places: list[tuple[int, str, str]]) -> None:
        """Sets (sample id, speaker, path) together: all of them, or none."""

        def work(db: sqlite3.Connection) -> None:
            for sample_id, speaker, path in places:
                db.execute(
                    "UPDATE samples SET speaker = ?, path = ? WHERE id = ? AND project_id = ?",
                    (speaker, path, sample_id, project_id),
                )

        await self._write(work)

    async def delete_sample(self, sample_id: int) -> None:
        await self._write(lambda db: db.execute("DELETE FROM samples WHERE id = ?", (sample_id,)))

    async def sample_counts(self, project_id: int) -> dict[str, dict[str, Any]]:
        def work(db: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            counts = {label: {"count": 0, "duration_s": 0.0, "speakers": 0} for label in LABELS}
            for label, count, duration, speakers in db.execute(
                "SELECT label, COUNT(*), SUM(duration_s), COUNT(DISTINCT speaker) FROM samples"
                " WHERE project_id = ? GROUP BY label",
                (project_id,),
            ):
                counts[label] = {"count": count, "duration_s": duration, "speakers": speakers}
            return counts

        return await self._run(work)

    async def recorded_positives(self, project_id: int) -> int:
        """Wake words recorded by people: every positive not made by a speech engine."""
        query = (
            "SELECT COUNT(*) FROM samples WHERE project_id = ? AND label = 'positive'"
            " AND source != 'synthetic'"
        )
        return await self._run(lambda db: db.execute(query, (project_id,)).fetchone()[0])

    # --- jobs --------------------------------------------------------------------------------

    async def create_job(
        self, project_id: int, kind: str, spec: dict[str, Any], created_by: str | None
    ) -> Job:
        def work(db: sqlite3.Connection) -> Job:
            cursor = db.execute(
                "INSERT INTO jobs (project_id, kind, state, spec, created_by, created_at)"
                " VALUES (?, ?, 'queued', ?, ?, ?)",
                (project_id, kind, json.dumps(spec), created_by, time.time()),
            )
            return _job_by_id(db, cursor.lastrowid)

        return await self._write(work)

    async def get_job(self, job_id: int) -> Job | None:
        return await self._run(lambda db: _job_by_id(db, job_id))

    async def list_jobs(self, project_id: int | None = None, limit: int = 100) -> list[Job]:
        where, args = ("WHERE jobs.project_id = ?", [project_id]) if project_id else ("", [])
        query = f"{_JOB_SELECT} {where} ORDER BY jobs.id DESC LIMIT ?"
        return await self._run(lambda db: [_job(r) for r in db.execute(query, [*args, limit])])

    async def jobs_in_state(self, *states: str) -> list[Job]:
        marks = ", ".join("?" * len(states))
        query = f"{_JOB_SELECT} WHERE jobs.state IN ({marks}) ORDER BY jobs.id"
        return await self._run(lambda db: [_job(r) for r in db.execute(query, states)])

    async def update_job(self, job_id: int, **changes: Any) -> Job:
        unknown = set(changes) - _JOB_UPDATABLE
        if unknown:
            raise ValueError(f"jobs cannot update {sorted(unknown)}")
        if "result" in changes and changes["result"] is not None:
            changes["result"] = json.dumps(changes["result"], default=str)

        def work(db: sqlite3.Connection) -> Job:
            sets = ", ".join(f"{key} = ?" for key in changes)
            db.execute(f"UPDATE jobs SET {sets} WHERE id = ?", [*changes.values(), job_id])
            return _job_by_id(db, job_id)

        return await self._write(work)

    async def delete_job(self, job_id: int) -> None:
        await self._write(lambda db: db.execute("DELETE FROM jobs WHERE id = ?", (job_id,)))

    async def append_events(
        self, job_id: int, events: list[dict[str, Any]], offset: int
    ) -> list[int]:
        """Stores events read from progress.jsonl and the file offset after them, together."""

        def work(db: sqlite3.Connection) -> list[int]:
            ids = []
            for e in events:
                cursor = db.execute(
                    "INSERT INTO job_events (job_id, stage, done, total, message, metrics, time_s)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        job_id,
                        str(e.get("stage", "")),
                        int(e.get("done") or 0),
                        int(e.get("total") or 0),
                        str(e.get("message", "")),
                        json.dumps(e.get("metrics") or {}),
                        float(e.get("time_s") or time.time()),
                    ),
                )
                ids.append(cursor.lastrowid)
            db.execute("UPDATE jobs SET progress_offset = ? WHERE id = ?", (offset, job_id))
            return ids

        return await self._write(work)

    async def job_events(self, job_id: int, after_id: int = 0) -> list[dict[str, Any]]:
        def work(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT * FROM job_events WHERE job_id = ? AND id > ? ORDER BY id",
                (job_id, after_id),
            )
            return [_event(r) for r in rows]

        return await self._run(work)


def quick_check(path: Path) -> list[str]:
    """PRAGMA quick_check of the file at `path` (a missing one is sound: it will be created)."""
    if not path.exists():
        return []
    try:
        # resolve(): as_uri() needs an absolute path, and --data-dir ./data is relative.
        uri = f"{path.resolve().as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            lines = [row[0] for row in db.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:  # not a database at all, or unreadable
        return [str(exc)]
    if lines == ["ok"]:
        return []
    problems = [line for row in lines for line in row.splitlines() if line.strip()]
    return problems[:SHOWN_PROBLEMS] + (["…"] if len(problems) > SHOWN_PROBLEMS else [])


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 5000")
    migrations.migrate(db)
    return db


def _insert_samples(db: sqlite3.Connection, project_id: int, rows: list[NewSample]) -> list[int]:
    ids = []
    for s in rows:
        cursor = db.execute(
            "INSERT INTO samples (project_id, label, speaker, source, duration_s, flags,"
            " created_by, created_at, path, sha256) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                project_id,
                s.label,
                s.speaker,
                s.source,
                s.duration_s,
                json.dumps(list(s.flags)),
                s.created_by,
                time.time(),
                s.path,
                s.sha256,
            ),
        )
        ids.append(cursor.lastrowid)
    return ids


def _project(row: sqlite3.Row) -> Project:
    return Project(**{key: row[key] for key in row.keys()})  # noqa: SIM118 (Row has no __iter__ of keys)


def _sample(row: sqlite3.Row) -> Sample:
    data = {key: row[key] for key in row.keys()}  # noqa: SIM118
    # "converted" was once set on every clip not already 16 kHz mono: never a problem.
    data["flags"] = tuple(f for f in json.loads(data["flags"]) if f != "converted")
    return Sample(**data)


def _job(row: sqlite3.Row) -> Job:
    data = {key: row[key] for key in row.keys()}  # noqa: SIM118
    data["spec"] = json.loads(data["spec"])
    data["result"] = None if data["result"] is None else json.loads(data["result"])
    return Job(**data)


def _job_by_id(db: sqlite3.Connection, job_id: int) -> Job | None:
    row = db.execute(f"{_JOB_SELECT} WHERE jobs.id = ?", (job_id,)).fetchone()
    return None if row is None else _job(row)


def _event(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "stage": row["stage"],
        "done": row["done"],
        "total": row["total"],
        "message": row["message"],
        "metrics": json.loads(row["metrics"]),
        "time_s": row["time_s"],
    }
