"""The SQLite store: migrations from an old schema, projects, samples, jobs and events."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from addon import migrations
from addon.errors import UserError
from addon.store import NewSample, Store, quick_check

pytestmark = pytest.mark.asyncio

PROJECT = {
    "slug": "hey_computer",
    "phrase": "hey computer",
    "language": "en",
    "author": "me",
    "website": None,
    "created_by": "Alice",
}


def _version_1_database(path: Path) -> None:
    """A database as the first release left it, with a project, a sample and a running job."""
    db = sqlite3.connect(path, isolation_level=None)
    migrations.migrate(db, target=1)
    db.execute(
        "INSERT INTO projects (slug, phrase, language, author, created_at) VALUES (?,?,?,?,?)",
        ("old_word", "old word", "en", "bob", 1.0),
    )
    db.execute(
        "INSERT INTO samples (project_id, label, speaker, source, duration_s, flags, created_at,"
        " path) VALUES (1, 'positive', 'bob', 'upload', 1.2, '[\"clipped\"]', 2.0, 'dataset/x.wav')"
    )
    db.execute(
        "INSERT INTO jobs (project_id, kind, state, spec, created_at) "
        "VALUES (1, 'train', 'running', '{}', 3.0)"
    )
    db.close()


async def test_an_old_database_is_migrated_keeping_its_rows(tmp_path: Path):
    path = tmp_path / "db.sqlite3"
    _version_1_database(path)
    store = await Store.open(path)
    try:
        project = await store.get_project("old_word")
        assert project is not None and project.author == "bob"
        [sample] = await store.list_samples(project.id)
        assert sample.flags == ("clipped",) and sample.sha256 is None
        [job] = await store.jobs_in_state("running")
        assert (job.attempts, job.progress_offset, job.pid) == (0, 0, None)
    finally:
        await store.close()
    db = sqlite3.connect(path)
    versions = [row[0] for row in db.execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == list(range(1, migrations.LATEST + 1))


async def test_a_newer_database_is_refused(tmp_path: Path):
    path = tmp_path / "db.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    migrations.migrate(db)
    db.execute("INSERT INTO schema_version VALUES (99, 0)")
    db.close()
    with pytest.raises(RuntimeError, match="newer than this add-on"):
        await Store.open(path)


async def test_projects_samples_jobs_and_events(tmp_path: Path):
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        project = await store.create_project(dict(PROJECT))
        with pytest.raises(UserError, match="already exists"):
            await store.create_project(dict(PROJECT))
        sample = NewSample(
            "positive", "Alice", "browser", 1.25, ("silent",), "dataset/a.wav", "f00"
        )
        [row] = await store.add_samples(project.id, [sample])
        assert (await store.find_sha(project.id, "f00")).id == row.id
        counts = await store.sample_counts(project.id)
        assert counts["positive"] == {"count": 1, "duration_s": 1.25, "speakers": 1}
        assert counts["negative"]["count"] == 0

        job = await store.create_job(project.id, "train", {"preset": "fast_test"}, "Alice")
        assert (job.state, job.project_slug, job.created_by) == ("queued", "hey_computer", "Alice")
        ids = await store.append_events(job.id, [{"stage": "train", "done": 5, "total": 10}], 120)
        job = await store.update_job(job.id, state="running", result={"ok": True})
        assert job.progress_offset == 120 and job.result == {"ok": True}
        events = await store.job_events(job.id)
        assert [e["id"] for e in events] == ids and events[0]["done"] == 5
        assert await store.job_events(job.id, after_id=ids[-1]) == []

        await store.delete_project(project.id)
        assert await store.get_job(job.id) is None
        assert await store.list_samples(project.id) == []
    finally:
        await store.close()


def test_quick_check_reads_a_database_named_by_a_relative_path(tmp_path, monkeypatch):
    # The README starts the panel with --data-dir ./data: health checks that database.
    monkeypatch.chdir(tmp_path)
    with sqlite3.connect("mww.db") as db:
        db.execute("CREATE TABLE t (x)")
    assert quick_check(Path("mww.db")) == []
    Path("broken.db").write_bytes(b"not a database at all" * 100)
    assert quick_check(Path("broken.db"))
