"""Small inputs built to hurt a server: shared by the tests that show they no longer do."""

from __future__ import annotations


def alias_bomb(levels: int = 8) -> str:
    """~0.5 KB that a YAML loader expands to 9**levels strings (0.5 GB in an error message)."""
    lines = ["a0: &a0 [" + ", ".join(["xxxxxxxxxx"] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join([*lines, f"training: {{batch_size: *a{levels}}}"]) + "\n"
