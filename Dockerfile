# The add-on image. The Supervisor builds it with BUILD_FROM/BUILD_ARCH/BUILD_VERSION from
# build.yaml; the defaults below make a plain `docker build .` work too (see docs/home_assistant.md).
ARG BUILD_FROM=ghcr.io/home-assistant/amd64-base-debian:bookworm
FROM ${BUILD_FROM}

ARG BUILD_ARCH=amd64
ARG BUILD_VERSION=0.1.0
# cpu: TensorFlow's CPU build, runs everywhere. cuda: adds NVIDIA's CUDA libraries from PyPI
# (tensorflow[and-cuda]) and CuPy, for hosts that give the container a GPU; amd64 only.
ARG TF_VARIANT=cpu

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV VIRTUAL_ENV=/opt/mww/venv \
    PATH="/opt/mww/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2

# Debian bookworm's python3 is 3.11, the version the project supports. The speech engines
# mww-synth mixes in equal shares: espeak-ng, MBROLA voices (contrib; the German, French...
# ones read English with their speakers' sounds), festival, flite and SVOX pico (non-free);
# piper comes from PyPI below. Game music for background files. People
# talking for the negatives: Asterisk's voice prompts (G.722, with their transcripts) and the
# dialogue of Flight of the Amazon Queen (English; it brings ScummVM), Fish Fillets NG (Czech,
# Dutch) and Hedgewars.
RUN printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        > /etc/apt/sources.list.d/contrib-non-free.sources \
    && apt-get update \
    && apt-get install -y --no-install-recommends \
        python3 \
        python3-venv \
        espeak-ng \
        libsndfile1 \
        sox \
        mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 \
        mbrola-af1 mbrola-de1 mbrola-de2 mbrola-de3 mbrola-fr1 mbrola-fr4 mbrola-gr2 \
        mbrola-hu1 mbrola-nl2 mbrola-pl1 mbrola-ro1 mbrola-sw1 mbrola-sw2 \
        festival festvox-kallpc16k festvox-kdlpc16k festvox-rablpc16k festvox-us-slt-hts festvox-don \
        flite \
        libttspico-utils \
        drascula-music \
        asterisk-core-sounds-en asterisk-core-sounds-en-g722 \
        asterisk-core-sounds-es asterisk-core-sounds-es-g722 \
        asterisk-core-sounds-fr asterisk-core-sounds-fr-g722 \
        asterisk-core-sounds-it asterisk-core-sounds-it-g722 \
        asterisk-core-sounds-ru asterisk-core-sounds-ru-g722 \
        fillets-ng-data-cs fillets-ng-data-nl flight-of-the-amazon-queen \
        hedgewars-data klettres-data \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv "${VIRTUAL_ENV}" \
    && pip install --upgrade pip setuptools wheel

WORKDIR /usr/src/mww-trainer

# Dependencies first, read from pyproject.toml, so this large layer (TensorFlow) is rebuilt only
# when the dependencies change. For cuda, tensorflow becomes tensorflow[and-cuda] and the "gpu"
# extra is added; the "piper" extra (piper-tts and its joe voice) and the "cluster" extra (torch,
# resemblyzer, scikit-learn: the panel's Group by speaker and the leakage audit) always are.
COPY pyproject.toml ./
RUN case "${TF_VARIANT}/${BUILD_ARCH}" in \
        cpu/*|cuda/amd64) ;; \
        *) echo "TF_VARIANT=${TF_VARIANT} is not available on ${BUILD_ARCH} (cpu everywhere, cuda on amd64)" >&2; exit 1 ;; \
    esac \
    && python3 -c 'import sys, tomllib; \
project = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
cuda = sys.argv[1] == "cuda"; \
deps = [d.replace("tensorflow==", "tensorflow[and-cuda]==") if cuda else d for d in project["dependencies"]]; \
deps += project["optional-dependencies"]["gpu"] if cuda else []; \
deps += project["optional-dependencies"]["piper"] + project["optional-dependencies"]["cluster"]; \
print("\n".join(deps))' "${TF_VARIANT}" > /tmp/requirements.txt \
    && cat /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The project itself (mww_trainer and the add-on service), without touching the layer above.
COPY mww_trainer ./mww_trainer
COPY addon ./addon
RUN pip install --no-deps . \
    && python3 -c "import addon.check_options, addon.mqtt, addon.supervisor, mww_trainer" \
    && rm -rf /usr/src/mww-trainer

WORKDIR /
COPY rootfs /

LABEL \
    io.hass.name="Wake word trainer" \
    io.hass.description="Train custom wake words for ESPHome voice satellites" \
    io.hass.type="addon" \
    io.hass.arch="${BUILD_ARCH}" \
    io.hass.version="${BUILD_VERSION}" \
    org.opencontainers.image.title="Wake word trainer" \
    org.opencontainers.image.licenses="Apache-2.0"
