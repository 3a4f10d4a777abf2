"""People's recordings from Debian packages as talk in the negatives (synth/recorded.py).

The packages are laid out under a folder of the test's own (``recordings_root``) with audio
it makes: Asterisk prompts in G.722, game dialogue in Ogg Vorbis (files, or lines in a game's
resource bundle), and the transcripts that tell what each prompt or line says (a game's
script in its bundle).
"""

from __future__ import annotations

import io
import json
import re
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mww_trainer.data.ingest import Role
from mww_trainer.data.ingest.origin import HUMAN, origin_of, read_manifest
from mww_trainer.synth import (
    SynthOptions,
    queen_bundle,
    queen_texts,
    recorded,
    synthesize_dataset,
)
from tests.unit.test_voice_origin import run, synth_dataset

RATE = 16000
G722 = pytest.importorskip("G722", reason="the G722 package reads Asterisk's prompts")


def voice(seconds: float, hz: float, seed: int) -> np.ndarray:
    """A voiced sound: a tone with harmonics, a syllable rhythm and a little noise."""
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    tone = sum(np.sin(2 * np.pi * hz * k * t) / k for k in (1, 2, 3))
    rhythm = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    return (0.3 * tone * rhythm + 0.01 * rng.normal(size=t.size)).astype(np.float32)


def write_g722(path: Path, audio: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (audio * 32767).astype(np.int16)
    path.write_bytes(bytes(G722.G722(RATE, 64000).encode(pcm)))


def write_ogg(path: Path, audio: np.ndarray, rate: int = 22050) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t_out = np.arange(int(audio.size * rate / RATE)) / rate
    resampled = np.interp(t_out, np.arange(audio.size) / RATE, audio)
    sf.write(path, np.stack([resampled, resampled], axis=1), rate, format="OGG", subtype="VORBIS")


def install(root: Path) -> Path:
    """Asterisk's Allison in English and Spanish (one person), June in French; two fish and
    a crab in Czech; two Hedgewars voices and the robot, which is not a person; KLettres'
    British English and Brazilian Portuguese readers."""
    sounds = root / "usr/share/asterisk/sounds"
    for i in range(6):
        write_g722(sounds / "en_US_f_Allison" / f"prompt-{i}.g722", voice(2.0, 180, i))
    write_g722(sounds / "en_US_f_Allison" / "digits" / "1.g722", voice(1.0, 180, 50))
    write_g722(sounds / "es_MX_f_Allison" / "adios.g722", voice(1.5, 180, 51))
    write_g722(sounds / "fr_CA_f_June" / "bonjour.g722", voice(2.5, 210, 52))
    (sounds / "en_US").symlink_to(sounds / "en_US_f_Allison")  # as the -en package links it
    doc = root / "usr/share/doc/asterisk-core-sounds-en"
    doc.mkdir(parents=True)
    said = [f"prompt-{i}: Please hold the line." for i in range(6)]
    said[3] = "prompt-3: Say hey computer to start."
    (doc / "core-sounds-en.txt").write_text("; Core sounds\n\n" + "\n".join(said) + "\n")
    fillets = root / "usr/share/games/fillets-ng/sound"
    for i in range(4):
        write_ogg(fillets / "reef" / "cs" / f"reef-v-line{i}.ogg", voice(3.0, 110, 60 + i))
        write_ogg(fillets / "reef" / "cs" / f"reef-m-line{i}.ogg", voice(3.0, 260, 70 + i))
    write_ogg(fillets / "reef" / "cs" / "reef-krab-hello.ogg", voice(2.0, 150, 80))
    voices = root / "usr/share/games/hedgewars/Data/Sounds/voices"
    for name, hz in (("Pirate", 140), ("Default_uk", 200), ("Robot", 300)):
        write_ogg(voices / name / "Takecover.ogg", voice(1.0, hz, 90), rate=44100)
        write_ogg(voices / name / "Heycomputer.ogg", voice(1.0, hz, 91), rate=44100)
    letters = root / "usr/share/klettres"
    write_ogg(letters / "en_GB" / "alpha" / "A.ogg", voice(1.2, 190, 92), rate=44100)
    write_ogg(letters / "en_GB" / "syllab" / "ba.ogg", voice(1.0, 190, 93), rate=44100)
    write_ogg(letters / "pt_BR" / "syllab" / "co.ogg", voice(1.0, 230, 94), rate=44100)
    return root


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install(tmp_path_factory.mktemp("debian"))


def test_each_person_is_found_once_and_what_says_the_wake_word_is_left_out(root: Path) -> None:
    found = recorded.find_recordings("hey computer", root)
    speakers = {r.speaker for r in found.recordings}
    assert speakers == {
        "asterisk-allison",  # her English and Spanish prompts: one person
        "asterisk-june",
        "fillets-cs-v",
        "fillets-cs-m",
        "fillets-cs-others",
        "hedgewars-pirate",
        "hedgewars-default-uk",
        "klettres-en-gb",  # one reader a language
        "klettres-pt-br",
    }  # not the robot
    names = [r.path.name for r in found.recordings]
    assert "prompt-3.g722" not in names  # its transcript says "hey computer"
    assert "Heycomputer.ogg" not in names and names.count("Takecover.ogg") == 2
    assert len(names) == len(set(r.path for r in found.recordings))  # not again via en_US
    allison = [r for r in found.recordings if r.speaker == "asterisk-allison"]
    assert len(allison) == 5 + 1 + 1 and sum(r.seconds for r in allison) == pytest.approx(12.5)
    assert "asterisk-core-sounds-ru-g722" in found.missing
    assert "fillets-ng-data-nl" in found.missing and "fillets-ng-data-cs" not in found.missing
    assert found.note() is not None and "fillets-ng-data-nl" in found.note()
    # Another phrase: the same prompt is talk like any other.
    assert len(recorded.find_recordings("stop", root).recordings) == len(found.recordings) + 3
    # A syllable that is the wake word is left out by its file name.
    syllable = [r.path.name for r in recorded.find_recordings("ba", root).recordings]
    assert "ba.ogg" not in syllable and "A.ogg" in syllable


@pytest.mark.parametrize("kind", ["g722", "ogg"])
def test_a_long_prompt_is_used_in_pieces_that_together_are_the_whole(
    tmp_path: Path, kind: str
) -> None:
    whole = voice(45.0, 170, 7)  # some real Asterisk prompts run about a minute
    if kind == "g722":
        write_g722(tmp_path / "usr/share/asterisk/sounds/ru_RU_f_Ekaterina/long.g722", whole)
    else:
        write_ogg(tmp_path / "usr/share/games/fillets-ng/sound/reef/cs/reef-v-long.ogg", whole)
    found = recorded.find_recordings("stop", tmp_path)
    pieces = sorted(found.recordings, key=lambda r: r.start_s)
    assert len(pieces) == 3 and all(r.seconds <= 20.0 and r.partial for r in pieces)
    assert sum(r.seconds for r in pieces) == pytest.approx(45.0)
    audio = [recorded.read_recording(r) for r in pieces]
    assert [a.size for a in audio] == pytest.approx([15.0 * RATE] * 3, abs=2)
    joined = np.concatenate(audio)
    decoded = recorded.read_recording(replace(pieces[0], seconds=45.0, start_s=0.0))
    assert abs(joined.size - decoded.size) <= 3
    n = min(joined.size, decoded.size)
    if kind == "g722":  # decoded from the file's start: exactly the whole file's samples
        assert np.array_equal(joined[:n], decoded[:n])  # nothing lost, nothing said twice
    else:  # a resampled piece differs from the whole only next to its edges
        inner = np.r_[100 : 15 * RATE - 100, 15 * RATE + 100 : 30 * RATE - 100]
        assert np.max(np.abs(joined[inner] - decoded[inner])) < 0.05
    plan = recorded.plan_talk(found, 0.2, (10.0, 12.0), (0.2, 0.4), np.random.default_rng(0))
    assert max(sum(r.seconds for r in parts) for parts in plan) <= 20.0 + 1e-6
    _, meta = recorded.render_talk(pieces[1:2], (0.2, 0.4), np.random.default_rng(0))
    assert meta["recordings"] == [f"{pieces[1].path}#t=15.00,30.00"]  # the manifest's span


def test_nothing_installed_is_one_line_naming_the_packages(tmp_path: Path) -> None:
    found = recorded.find_recordings("hey computer", tmp_path)
    assert not found.recordings
    note = found.note()
    assert note.startswith("recorded people: skipped (none installed)")
    assert "asterisk-core-sounds-en-g722" in note and "hedgewars-data" in note


def test_packages_then_their_speakers_take_turns_and_the_minutes_hold(root: Path) -> None:
    found = recorded.find_recordings("hey computer", root)
    packages = sorted({r.package for r in found.recordings})
    assert len(packages) == 6  # Asterisk in three languages, Fish Fillets, Hedgewars, KLettres
    plan = recorded.plan_talk(found, 0.5, (3.0, 6.0), (0.2, 0.4), np.random.default_rng(3))
    assert all(len({r.speaker for r in parts}) == 1 for parts in plan)  # one voice a file
    spoken = sum(sum(r.seconds for r in parts) + 0.3 * (len(parts) - 1) for parts in plan)
    assert 30.0 <= spoken <= 30.0 + 6.0 + 3.0  # half a minute, over by at most one file
    # Every package speaks before any speaks twice, however many speakers it has.
    assert sorted(parts[0].package for parts in plan[:6]) == packages
    again = recorded.plan_talk(found, 0.5, (3.0, 6.0), (0.2, 0.4), np.random.default_rng(3))
    assert again == plan
    everything = recorded.plan_talk(found, 60, (3.0, 6.0), (0.2, 0.4), np.random.default_rng(3))
    used = [r for parts in everything for r in parts]
    # In a package each of its speakers speaks before any of them twice.
    fish = [parts[0].speaker for parts in everything if parts[0].package == "fillets-ng-data-cs"]
    assert sorted(fish[:3]) == ["fillets-cs-m", "fillets-cs-others", "fillets-cs-v"]
    assert sorted(r.path for r in used) == sorted(r.path for r in found.recordings)  # once each


def options(out_dir: Path, root: Path, **changes) -> SynthOptions:
    base = SynthOptions(
        phrase="hey computer",
        out_dir=out_dir,
        positives=0,
        hard_negatives=0,
        ambient_minutes=0.3,
        ambient_file_s=(4.0, 8.0),
        background=0,
        rirs=0,
        seed=4,
        recordings_root=root,
    )
    return replace(base, **changes)


def test_synth_writes_people_talking_as_people_by_default(tmp_path: Path, root: Path) -> None:
    notes: list[str] = []
    result = synthesize_dataset(options(tmp_path / "d", root), on_note=notes.append)
    manifest = json.loads(result.manifest_path.read_text())
    people = [e for e in manifest["files"] if e.get("engine") == HUMAN]
    assert people and all(e["path"].startswith("negative/people-") for e in people)
    assert all(e["path"].split("/")[1] == f"people-{e['voice']}" for e in people)
    minutes = sum(e["duration_s"] for e in people) / 60
    # twice as many minutes as the synthetic talk (0.3), give or take the last file
    assert 2 * 0.3 <= minutes <= 2 * 0.3 + 8.0 / 60
    assert manifest["people"]["minutes"] == pytest.approx(minutes, abs=0.01)
    assert result.people["speakers"] == len({e["voice"] for e in people})
    # packages take turns by minutes of talk: each of the six the fixture installs gets some
    assert len({e["package"] for e in people}) == 6
    assert any("not installed" in n and "asterisk-core-sounds-ru-g722" in n for n in notes)
    for entry in people:
        audio, rate = sf.read(tmp_path / "d" / entry["path"], dtype="float32")
        assert rate == RATE and audio.ndim == 1
        assert 0.05 < np.max(np.abs(audio)) < 0.75  # a level drawn for the file
        assert not any("prompt-3" in path for path in entry["recordings"])
    origins = read_manifest(tmp_path / "d")
    assert {origin_of(e["path"], origins).family for e in people} == {HUMAN}
    assert origin_of(people[0]["path"]).human  # the folder alone tells it too

    again = synthesize_dataset(options(tmp_path / "e", root))
    assert [e["path"] for e in json.loads(again.manifest_path.read_text())["files"]] == [
        e["path"] for e in manifest["files"]
    ]
    none = synthesize_dataset(options(tmp_path / "f", root, recorded_minutes=0))
    assert none.people["minutes"] == 0 and not list((tmp_path / "f" / "negative").glob("people-*"))
    more = synthesize_dataset(options(tmp_path / "g", root, recorded_minutes=0.6))
    assert more.people["minutes"] >= 0.6


def test_training_counts_them_as_people_talking(tmp_path: Path, root: Path) -> None:
    data = tmp_path / "dataset"
    synth_dataset(data, ("espeak", "festival", "flite"), voices=1)
    talk = synthesize_dataset(options(tmp_path / "talk", root, ambient_minutes=0))
    assert talk.people["minutes"] == 0  # follows the synthetic talk's minutes: none
    talk = synthesize_dataset(
        options(tmp_path / "talk2", root, ambient_minutes=0, recorded_minutes=0.5)
    )
    manifest = json.loads(talk.manifest_path.read_text())
    for entry in manifest["files"]:  # beside the dataset's own files, as one synth run
        target = data / entry["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(tmp_path / "talk2" / entry["path"])
    ours = json.loads((data / "synth_manifest.json").read_text())
    ours["files"] += manifest["files"]
    (data / "synth_manifest.json").write_text(json.dumps(ours))
    dataset = run(data)
    people = [c for c in dataset.select(Role.NEGATIVE) if "/people-" in c.relpath]
    assert people and all(c.human for c in people)
    assert not any("no real people talking" in w for w in dataset.voice_warnings())


def test_mww_synth_says_how_much_people_talk(tmp_path: Path, root: Path, capsys) -> None:
    from mww_trainer.cli.synth import main

    argv = ["--phrase", "hey computer", "--out", str(tmp_path / "d"), "--positives", "0"]
    argv += ["--hard-negatives", "0", "--ambient-minutes", "0", "--background", "0"]
    argv += ["--rirs", "0", "--recorded-minutes", "0.2", "--recordings-root", str(root)]
    assert main(argv) == 0
    out = capsys.readouterr()
    line = next(x for x in out.out.splitlines() if x.startswith("people talking (recorded)"))
    assert re.fullmatch(r"people talking \(recorded\): 0\.\d min by 1 speaker \(\S+\)", line)
    assert "not installed: " in out.err and "hedgewars-data" not in out.err
    assert list((tmp_path / "d" / "negative").glob("people-*/talk_*.wav"))


def write_bundle(
    path: Path,
    lines: dict[str, np.ndarray],
    compression: int = 2,
    extra: dict[str, bytes] | None = None,
) -> None:
    """A rebuilt Queen resource bundle as ScummVM reads it: the QTBL table, then the
    entries; speech lines compressed one by one, and a few other resources beside them
    (``extra``: the game's text, or stand-ins for lines that are never decoded)."""
    blobs = {"ROOM01.PCX": b"\x00" * 64, **(extra or {})}
    for name, audio in lines.items():
        buffer = io.BytesIO()
        sf.write(buffer, audio, 11025, format="OGG", subtype="VORBIS")
        blobs[name] = buffer.getvalue()
    header = b"QTBL" + b"CEM10\x00" + b"\x00\x00" + bytes([compression])
    header += struct.pack(">H", len(blobs))
    offset = len(header) + 21 * len(blobs)
    table, data = b"", b""
    for name, blob in blobs.items():
        table += name.encode().ljust(12, b"\0") + b"\x01" + struct.pack(">II", offset, len(blob))
        offset += len(blob)
        data += blob
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + table + data)


def speak(seconds: float, hz: float, seed: int) -> np.ndarray:
    t_out = np.arange(int(seconds * 11025)) / 11025
    audio = voice(seconds, hz, seed)
    return np.interp(t_out, np.arange(audio.size) / RATE, audio).astype(np.float32)


def test_a_games_bundle_gives_its_lines_by_who_says_them(tmp_path: Path) -> None:
    bundle = tmp_path / "usr/share/scummvm/flight-of-the-amazon-queen/queen.1c"
    lines = {"020006J1.SB": speak(1.5, 120, 1), "020006P1.SB": speak(2.0, 220, 2)}
    lines |= {"0200A4J2.SB": speak(1.0, 120, 3), "031SSSS1.SB": speak(25.0, 180, 4)}
    lines["0200A5P1.SB"] = speak(0.1, 220, 5)  # too short to be talk
    lines["1001SSSS.SB"] = speak(2.0, 440, 6)  # a sound effect, not a person
    write_bundle(bundle, lines)
    found = recorded.find_recordings("hey computer", tmp_path)
    queen = [r for r in found.recordings if r.package == "flight-of-the-amazon-queen"]
    assert "flight-of-the-amazon-queen" not in found.missing
    by_line = {}
    for rec in queen:
        by_line.setdefault(rec.line.name, []).append(rec)
    assert sorted(by_line) == ["020006J1.SB", "020006P1.SB", "0200A4J2.SB", "031SSSS1.SB"]
    assert {r.speaker for r in by_line["020006J1.SB"] + by_line["0200A4J2.SB"]} == {"fotaq-joe"}
    assert {r.speaker for r in by_line["020006P1.SB"] + by_line["031SSSS1.SB"]} == {"fotaq-others"}
    assert [r.seconds for r in by_line["020006P1.SB"]] == pytest.approx([2.0], abs=0.01)
    joe = by_line["020006J1.SB"][0]
    assert joe.where() == f"{bundle}#020006J1.SB"
    audio = recorded.read_recording(joe)
    assert audio.dtype == np.float32 and audio.size == pytest.approx(1.5 * RATE, abs=2)
    expected = voice(1.5, 120, 1)[: audio.size]
    assert np.corrcoef(audio[1000:-1000], expected[1000 : audio.size - 1000])[0, 1] > 0.9
    # A long line is used in pieces, each read from the line's own audio.
    long = sorted(by_line["031SSSS1.SB"], key=lambda r: r.start_s)
    assert len(long) == 2 and all(r.partial for r in long)
    assert long[1].where() == f"{bundle}#031SSSS1.SB&t=12.50,25.00"
    whole = np.concatenate([recorded.read_recording(r) for r in long])
    assert whole.size == pytest.approx(25.0 * RATE, abs=4)
    _, meta = recorded.render_talk(by_line["020006P1.SB"], (0.2, 0.4), np.random.default_rng(0))
    assert meta["voice"] == "fotaq-others" and meta["recordings"] == [f"{bundle}#020006P1.SB"]


@pytest.mark.parametrize(
    "damage",
    ["not a bundle", "uncompressed speech", "cut short"],
)
def test_a_bundle_it_cannot_read_is_named_missing(tmp_path: Path, damage: str) -> None:
    bundle = tmp_path / "usr/share/scummvm/flight-of-the-amazon-queen/queen.1c"
    write_bundle(bundle, {"020006J1.SB": speak(1.0, 120, 1)}, 0 if "uncompressed" in damage else 2)
    data = bundle.read_bytes()
    if damage == "not a bundle":
        bundle.write_bytes(b"RIFF" + data[4:])
    elif damage == "cut short":
        bundle.write_bytes(data[:30])
    found = recorded.find_recordings("hey computer", tmp_path)
    assert not found.recordings
    assert "flight-of-the-amazon-queen" in found.missing


def test_a_line_whose_entry_runs_past_the_file_is_left_out(tmp_path: Path) -> None:
    bundle = tmp_path / "queen.1c"
    write_bundle(bundle, {"020006J1.SB": speak(1.0, 120, 1), "020006P1.SB": speak(1.0, 220, 2)})
    bundle.write_bytes(bundle.read_bytes()[:-10])  # the last entry no longer fits
    assert [line.name for line in queen_bundle.read_lines(bundle)] == ["020006J1.SB"]


# The game's text as its bundle holds it (queen_texts): each entry after a 20-byte bank
# header, big-endian numbers, strings as a length byte and the characters, padded.
BANK_HEADER = b"AmBk" + b"\x00" * 16


def text(said: str, align: int) -> bytes:
    raw = bytes([len(said)]) + said.encode("latin-1")
    return raw + b"\x00" * (-len(raw) % align)  # tables start aligned, so this pads right


def dog(key: int, hero: dict[int, str], other: dict[int, str]) -> bytes:
    """A conversation of one menu level: the hero's and the other person's strings by
    number, and the greetings for a second meeting ("0": none)."""

    def table(strings: dict[int, str]) -> bytes:
        return b"".join(b"\x00\x00" + struct.pack(">h", n) + text(s, 4) for n, s in strings.items())

    heros, others = table(hero), table(other)
    hero_at = 32 + 96  # after the header and the menu's one level
    other_at = hero_at + len(heros)
    greeting_at = other_at + len(others)
    head = struct.pack(">5h", 1, 7, key, len(hero), len(other)) + b"\x00" * 12
    head += struct.pack(">3H", other_at, 0, greeting_at)
    data = head.ljust(32, b"\x00") + b"\x00" * 96 + heros + others + text("0", 2) * 2
    return BANK_HEADER + data


def cut(steps: list[str]) -> bytes:
    """A cutscene whose steps say ``steps`` (the objects they move are left out: the
    sentences are read on their own)."""
    head = struct.pack(">6H", 0, len(steps), 0, 0, 12, 0)
    return BANK_HEADER + head + text("*FL", 2) + b"".join(text(s, 2) for s in steps)


def jas(descriptions: list[str], replies: list[str]) -> dict[str, bytes]:
    """QUEEN.JAS's counts (one room and one name) and QUEEN2.JAS's strings a line each."""
    counts = BANK_HEADER + struct.pack(">4H", 1, 1, 0, len(descriptions))
    strings = [*descriptions, "hatch", "ROOM01", *(f"verb {i}" for i in range(12)), *replies]
    return {"QUEEN.JAS": counts, "QUEEN2.JAS": "".join(f"{s}\r\n" for s in strings).encode()}


def test_the_game_text_names_the_lines_that_say_it(tmp_path: Path) -> None:
    bundle = tmp_path / "queen.1c"
    conversation = dog(2, {0: "Howdy.", 0x1E: "Stop*FLright there!"}, {0x1E: "Who, me?"})
    cutscene = cut(["*", "Joe!*XY00(237,112)Over here.", "#CRED.CRD"])
    replies = [f"reply {n}" for n in range(1, 41)]
    extra = {"AND1.DOG": conversation, "C41B.CUT": cutscene, **jas(["A trout.", "Odd."], replies)}
    names = ["02SSSSJ1", "02001EJ1", "02001EJ2", "02001EP1", "C41B_021", "C41B_022"]
    names += ["C41B_031", "JOE00011", "JOE00401", "JOE00421", "02XXXXP1"]
    extra |= {f"{name}.SB": b"not decoded" for name in names}
    write_bundle(bundle, {}, extra=extra)
    assert queen_texts.read_texts(bundle) == {
        "02SSSSJ1.SB": "Howdy.",  # the hero's opening line
        "02001EJ1.SB": "Stop",  # a stage direction cuts a sentence into two files
        "02001EJ2.SB": "right there!",
        "02001EP1.SB": "Who, me?",
        "C41B_021.SB": "Joe!",  # step 2; a walk's direction is thirteen characters long
        "C41B_022.SB": "Over here.",
        "JOE00011.SB": "reply 1",
        "JOE00401.SB": "reply 40",
        "JOE00421.SB": "Odd.",  # description 2, after the forty replies
    }  # step 3 starts the credits and the greetings are "0": they say nothing


def test_a_bundle_line_that_says_the_wake_word_is_left_out(tmp_path: Path) -> None:
    bundle = tmp_path / "usr/share/scummvm/flight-of-the-amazon-queen/queen.1c"
    conversation = dog(2, {6: "Stop right there, Anderson!"}, {6: "You're asking for trouble."})
    lines = {"020006J1.SB": speak(1.0, 120, 1), "020006P1.SB": speak(1.0, 220, 2)}
    write_bundle(bundle, lines, extra={"AND1.DOG": conversation})
    for phrase, kept in [("stop", ["020006P1.SB"]), ("hey computer", sorted(lines))]:
        found = recorded.find_recordings(phrase, tmp_path)
        assert sorted(r.line.name for r in found.recordings if r.line) == kept


@pytest.mark.parametrize("damage", ["cut short", "a string runs past its end", "no header"])
def test_a_damaged_text_entry_names_nothing_and_its_lines_stay(tmp_path: Path, damage: str) -> None:
    bundle = tmp_path / "usr/share/scummvm/flight-of-the-amazon-queen/queen.1c"
    conversation = dog(2, {6: "Stop right there, Anderson!"}, {6: "Stop it."})
    if damage == "cut short":
        conversation = conversation[:60]
    elif damage == "a string runs past its end":
        conversation = conversation[:-8]  # the greetings and the end of "Stop it."
    else:
        conversation = conversation[:12]
    fine = cut(["Stop the plane!"])
    lines = {"020006J1.SB": speak(1.0, 120, 1), "020006P1.SB": speak(1.0, 220, 2)}
    lines["C1A__011.SB"] = speak(1.0, 180, 3)
    write_bundle(bundle, lines, extra={"AND1.DOG": conversation, "C1A.CUT": fine})
    assert queen_texts.read_texts(bundle) == {"C1A__011.SB": "Stop the plane!"}
    found = recorded.find_recordings("stop", tmp_path)
    assert sorted(r.line.name for r in found.recordings if r.line) == [
        "020006J1.SB",
        "020006P1.SB",
    ]
