"""The sample list at scale: paged, searched and filtered on the server; bulk delete with one
confirmation naming the count, and one undo."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import pytest_asyncio

from addon.app import create_app
from addon.keys import LIBRARY, STORE
from addon.settings import Settings
from addon.store import NewSample

pytestmark = pytest.mark.asyncio
LIST = "/api/projects/hey_computer/samples"
QUICK_S = 0.5  # per request, on a shared 2-core machine; about 20 ms when it is idle


@pytest_asyncio.fixture
async def app(tmp_path: Path):
    return create_app(Settings(data_dir=tmp_path / "data"))


@pytest_asyncio.fixture
async def client(aiohttp_client, app):
    client = await aiohttp_client(app)
    response = await client.post("/api/projects", json={"phrase": "hey computer"})
    assert response.status == 201, await response.text()
    return client


async def add_rows(app, count: int, *, with_files: bool = False, **fields) -> None:
    """`count` samples as the library files them (audio optional: listing never reads it)."""
    library = app[LIBRARY]
    project = await library.project("hey_computer")
    label = fields.get("label", "positive")
    folder = library.layout(project).label_dir(label)
    rows = []
    for i in range(count):
        speaker = fields.get("speaker", f"synth voice{i % 900}")
        name = f"{fields.get('source', 'synthetic')}_{time.monotonic_ns():x}{i:05d}.wav"
        path = folder / speaker.replace(" ", "_") / name
        if with_files:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"RIFF")
        rows.append(
            NewSample(
                label=label,
                speaker=speaker,
                source=fields.get("source", "synthetic"),
                duration_s=1.5,
                flags=tuple(fields.get("flags", ())),
                path=path.relative_to(library.layout(project).root).as_posix(),
                sha256=name,
            )
        )
    await app[STORE].add_samples(project.id, rows)


async def get(client, query: str = "") -> tuple[dict, float]:
    started = time.perf_counter()
    response = await client.get(f"{LIST}{query}")
    elapsed = time.perf_counter() - started
    assert response.status == 200, await response.text()
    return await response.json(), elapsed


async def test_20000_samples_are_listed_a_page_at_a_time_quickly(client, app):
    await add_rows(app, 19990)
    await add_rows(app, 7, speaker="Alice", source="browser", flags=["clipped"])
    await add_rows(app, 3, label="negative", speaker="Kitchen", source="room")
    first, elapsed = await get(client)
    assert (first["total"], len(first["samples"]), first["limit"]) == (20000, 50, 50)
    assert first["samples"][0]["speaker"] == "Kitchen"  # newest first
    assert elapsed < QUICK_S
    last, elapsed = await get(client, "?offset=19900&limit=500")
    assert len(last["samples"]) == 100 and elapsed < QUICK_S
    ids = [s["id"] for s in first["samples"] + last["samples"]]
    assert ids == sorted(ids, reverse=True)

    searches = {
        "?q=alice": 7,  # the speaker, any case
        "?q=browser": 7,  # the source
        "?q=WAKE+word": 19997,  # the kind by its name on screen
        "?q=other+speech+kitchen": 3,  # every word must match
        "?q=voice899": 22,  # synth voice899 ... and the file names under its folder
        f"?q={first['samples'][0]['path'].rsplit('/', 1)[1]}": 1,  # the file name
        "?q=100%25": 0,  # % and _ are letters, not wildcards
        "?label=negative": 3,
        "?source=browser&flag=clipped": 7,
        "?flag=any": 7,
        "?flag=silent": 0,
        "?label=positive&q=synthetic&offset=50": 19990,
    }
    for query, expected in searches.items():
        found, elapsed = await get(client, query)
        assert found["total"] == expected, query
        assert elapsed < QUICK_S, f"{query}: {elapsed:.2f} s"
    room, _ = await get(client, "?label=negative&source=room&limit=1")
    assert room["duration_s"] == pytest.approx(4.5)  # the length of all that match


async def test_a_bad_page_or_filter_is_named(client):
    for query, words in {
        "?limit=0": "limit: 0 is not allowed (1 to 500)",
        "?limit=501": "limit: 501",
        "?offset=-1": "offset:",
        "?label=wake": "label: 'wake' is not one of",
        "?source=radio": "source: 'radio' is not one of",
        "?flag=DROP%20TABLE": "flag:",
        f"?q={'x' * 201}": "q: 201 characters",
    }.items():
        response = await client.get(f"{LIST}{query}")
        assert response.status == 400, query
        assert words in (await response.json())["error"], query


async def test_bulk_delete_names_the_count_and_undo_puts_everything_back(client, app):
    await add_rows(app, 5, with_files=True, speaker="Alice", source="browser")
    await add_rows(app, 2, with_files=True, speaker="Bob", source="upload")
    root = app[LIBRARY].layout("hey_computer").root
    before = {s["id"]: s for s in (await get(client))[0]["samples"]}
    alice = [i for i, s in before.items() if s["speaker"] == "Alice"]

    wrong = await client.post(f"{LIST}/delete", json={"ids": alice, "confirm": 4})
    assert wrong.status == 409
    assert "would delete 5 samples, not 4" in (await wrong.json())["error"]
    unconfirmed = await client.post(f"{LIST}/delete", json={"ids": alice})
    assert (
        "confirm: give the number of samples to delete (5)" in (await unconfirmed.json())["error"]
    )
    assert (await get(client))[0]["total"] == 7

    response = await client.post(f"{LIST}/delete", json={"ids": alice, "confirm": 5})
    assert response.status == 200, await response.text()
    done = await response.json()
    assert done["deleted"] == 5
    assert (await get(client))[0]["total"] == 2
    for i in alice:
        assert not (root / before[i]["path"]).exists()
        assert (await client.get(f"{LIST}/{i}/audio")).status == 404
    assert not (root / "dataset" / "positive" / "Alice").exists()  # the empty folder went too

    undone = await client.post(f"{LIST}/undo", json={"undo": done["undo"]})
    assert (await undone.json()) == {"restored": 5}
    after = {s["id"]: s for s in (await get(client))[0]["samples"]}
    assert after == before  # the same ids, speakers, files
    assert all((root / s["path"]).is_file() for s in after.values())
    again = await client.post(f"{LIST}/undo", json={"undo": done["undo"]})
    assert again.status == 409
    assert "only the latest delete" in (await again.json())["error"]


async def test_delete_all_matching_is_refused_when_the_list_changed(client, app):
    await add_rows(app, 40, with_files=True, speaker="Alice", source="browser")
    await add_rows(app, 10, with_files=True, speaker="Bob", source="browser")
    which = {"filter": {"source": "browser", "q": "alice"}}
    assert (await get(client, "?source=browser&q=alice"))[0]["total"] == 40
    await add_rows(app, 1, with_files=True, speaker="Alice", source="browser")  # meanwhile
    stale = await client.post(f"{LIST}/delete", json={**which, "confirm": 40})
    assert stale.status == 409
    assert "41 samples, not 40 (the list changed" in (await stale.json())["error"]
    first = await (await client.post(f"{LIST}/delete", json={**which, "confirm": 41})).json()
    assert first["deleted"] == 41
    left, _ = await get(client)
    assert left["total"] == 10 and {s["speaker"] for s in left["samples"]} == {"Bob"}

    # A second delete: the first can no longer be undone, the second can.
    bob = [s["id"] for s in left["samples"][:3]]
    second = await (await client.post(f"{LIST}/delete", json={"ids": bob, "confirm": 3})).json()
    old = await client.post(f"{LIST}/undo", json={"undo": first["undo"]})
    assert old.status == 409
    assert (await get(client))[0]["total"] == 7
    await client.post(f"{LIST}/undo", json={"undo": second["undo"]})
    assert (await get(client))[0]["total"] == 10


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"confirm": 1}, "send either 'ids'"),
        ({"ids": [1], "filter": {}, "confirm": 1}, "send either 'ids'"),
        ({"ids": ["1"], "confirm": 1}, "ids: expected a list of sample ids"),
        ({"ids": list(range(20001)), "confirm": 1}, "at most 20000, or send a filter"),
        ({"filter": "all", "confirm": 1}, "filter: expected an object"),
        ({"filter": {"label": 3}, "confirm": 1}, "label: expected text"),
    ],
)
async def test_a_bad_bulk_delete_is_named(client, body, words):
    response = await client.post(f"{LIST}/delete", json=body)
    assert response.status == 400, body
    assert words in (await response.json())["error"]


async def test_an_undo_token_is_checked(client):
    response = await client.post(f"{LIST}/undo", json={"undo": "../../etc"})
    assert response.status == 400
    response = await client.post(f"{LIST}/undo", json={"undo": "0123456789abcdef"})
    assert response.status == 409


async def test_a_delete_of_nothing_changes_nothing(client):
    response = await client.post(f"{LIST}/delete", json={"filter": {"q": "nobody"}, "confirm": 0})
    assert (await response.json()) == {"deleted": 0, "undo": None}
