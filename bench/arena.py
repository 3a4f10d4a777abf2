"""Print the measured TFLite-Micro arena of the official models next to their manifests.

.venv/bin/python bench/arena.py [MODEL.tflite ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mww_trainer.device.arena import ARENA_MARGIN, measure_arena, recommended_arena_size


def official_models() -> list[Path]:
    import pymicro_wakeword

    folder = Path(pymicro_wakeword.__file__).parent / "models"
    return sorted(folder.glob("*.tflite"))


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or official_models()
    print(f"margin: +{ARENA_MARGIN:.1%}, at least 1 KiB, rounded up to 64 bytes")
    header = f"{'model':<14}{'recorded':>10}{'measured':>10}{'manifest':>10}{'ours':>8}"
    print(header + f"{'probes':>8}{'seconds':>9}")
    for path in paths:
        m = measure_arena(path)
        manifest_path = path.with_suffix(".json")
        manifest = "-"
        if manifest_path.is_file():
            manifest = json.loads(manifest_path.read_text())["micro"]["tensor_arena_size"]
        print(
            f"{path.stem:<14}{m.recorded_bytes:>10}{m.bytes:>10}{manifest:>10}"
            f"{recommended_arena_size(m.bytes):>8}{m.probes:>8}{m.seconds:>9.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
