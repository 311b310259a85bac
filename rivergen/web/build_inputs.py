"""The digest of the web client's build inputs, recorded with the built assets so a test can
tell a build that no longer matches its source (standard library only: the build script runs
it before the platform is installed).

Run as ``python -m rivergen.web.build_inputs <web dir> <output file>`` to record it.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

DIGEST_FILE = "BUILD_INPUTS.sha256"
# What decides the build's output: the sources, the page, the build's configuration and the
# exact dependency versions.
TOP_LEVEL = ("index.html", "package.json", "package-lock.json", "tsconfig.json", "vite.config.ts")


def input_files(web_dir: Path) -> list[Path]:
    files = [web_dir / name for name in TOP_LEVEL if (web_dir / name).is_file()]
    files += [p for p in (web_dir / "src").rglob("*") if p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(web_dir).as_posix())


def source_digest(web_dir: Path) -> str:
    """SHA-256 over every input's relative path and bytes (line endings as committed)."""
    digest = hashlib.sha256()
    for path in input_files(web_dir):
        name = path.relative_to(web_dir).as_posix().encode()
        data = path.read_bytes()
        digest.update(len(name).to_bytes(4, "big") + name + len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def main(argv: list[str]) -> int:
    web_dir, out = Path(argv[1]), Path(argv[2])
    out.write_text(source_digest(web_dir) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
