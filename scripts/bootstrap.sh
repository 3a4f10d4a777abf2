#!/usr/bin/env bash
# Sets up everything mww-trainer needs: Debian packages (when run as root) and .venv.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(espeak-ng sox libsndfile1 mosquitto chromium shellcheck alsa-utils)
PYTHON=${PYTHON:-python3.11}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "bootstrap: missing system packages; run as root:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# More speech engines for mww-synth, game music for its backgrounds, and people talking for
# its negatives: Asterisk's voice prompts (with their transcripts) and three games' dialogue
# (each one missing is skipped with a note, so these are optional). MBROLA's voices are in
# Debian's contrib section, SVOX pico in non-free. The German, French, Dutch... MBROLA voices
# speak English with those speakers' sounds (espeak-ng's mb-de1-en and the like).
SPEECH_PACKAGES=(mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 mbrola-af1 mbrola-de1
  mbrola-de2 mbrola-de3 mbrola-fr1 mbrola-fr4 mbrola-gr2 mbrola-hu1 mbrola-nl2 mbrola-pl1
  mbrola-ro1 mbrola-sw1 mbrola-sw2 festival festvox-kallpc16k festvox-kdlpc16k festvox-rablpc16k
  festvox-us-slt-hts festvox-don flite libttspico-utils drascula-music)
# Data only: without their recommendations (the PBX and the games themselves; Flight of the
# Amazon Queen's 4.6 h of English dialogue depends on ScummVM, which comes with it).
RECORDED_PACKAGES=(asterisk-core-sounds-en asterisk-core-sounds-en-g722 asterisk-core-sounds-es
  asterisk-core-sounds-es-g722 asterisk-core-sounds-fr asterisk-core-sounds-fr-g722
  asterisk-core-sounds-it asterisk-core-sounds-it-g722 asterisk-core-sounds-ru
  asterisk-core-sounds-ru-g722 fillets-ng-data-cs fillets-ng-data-nl flight-of-the-amazon-queen
  hedgewars-data klettres-data)
CONTRIB_SOURCES=/etc/apt/sources.list.d/mww-contrib-non-free.sources
missing=()
missing_recorded=()
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in "${SPEECH_PACKAGES[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done
for pkg in "${RECORDED_PACKAGES[@]}"; do
  installed "$pkg" || missing_recorded+=("$pkg")
done
if ((${#missing[@]} + ${#missing_recorded[@]})); then
  codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null)
  codename=${codename:-bookworm}
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    candidate() { apt-cache policy "$1" 2>/dev/null | grep -q "Candidate: [^(]"; }
    if ! { candidate mbrola-us1 && candidate libttspico-utils; } && [ ! -f "$CONTRIB_SOURCES" ]; then
      echo "bootstrap: enabling Debian's contrib and non-free sections ($CONTRIB_SOURCES)"
      printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s %s-updates\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$codename" "$codename" >"$CONTRIB_SOURCES"
      apt-get update -qq
    fi
    if ((${#missing[@]})); then
      echo "bootstrap: installing speech engines ${missing[*]}"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    if ((${#missing_recorded[@]})); then
      echo "bootstrap: installing recordings of people talking ${missing_recorded[*]}"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing_recorded[@]}" >/dev/null
    fi
  else
    echo "bootstrap: mww-synth can speak with more engines; as root, enable Debian's contrib and" >&2
    echo "  non-free sections (this line in /etc/apt/sources.list, then apt-get update):" >&2
    echo "  deb http://deb.debian.org/debian $codename contrib non-free" >&2
    echo "  and run: apt-get install -y ${missing[*]}" >&2
    echo "  and, for people talking in the negatives:" >&2
    echo "  apt-get install -y --no-install-recommends ${missing_recorded[*]}" >&2
  fi
fi

if ! command -v "$PYTHON" >/dev/null; then
  echo "bootstrap: $PYTHON not found; install Python 3.11 (apt-get install -y python3.11 python3.11-venv)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.mww-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing Python packages into .venv (first time: several minutes)"
  .venv/bin/python -m pip install -q --upgrade pip "setuptools>=77" wheel
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi
# Home Assistant Core for the tests marked home_assistant, in .venv-ha (Python 3.13 via pyenv);
# without Python 3.13 those tests are skipped and say why.
bash scripts/install_home_assistant.sh || true
echo "bootstrap: ready"
