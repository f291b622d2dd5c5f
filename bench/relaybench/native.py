"""Compile the C load generator and OCS stub (bench/*.c) with gcc at bench time."""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SOURCE_DIR = Path(__file__).resolve().parent.parent
CFLAGS = ("-O2", "-Wall", "-Wextra", "-Werror", "-std=gnu11")


class BuildError(RuntimeError):
    """gcc is missing or the sources do not compile."""


@dataclass(frozen=True)
class Binaries:
    generator: Path
    stub: Path


def compiler_version(compiler: str = "gcc") -> str:
    path = shutil.which(compiler)
    if path is None:
        return f"{compiler}: not found"
    result = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    return result.stdout.splitlines()[0] if result.stdout else compiler


def _compile(compiler: str, source: Path, output: Path) -> None:
    command = [compiler, *CFLAGS, "-o", str(output), str(source)]
    log.debug("compiling: %s", " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"{' '.join(command)} failed:\n{result.stderr}")


def build(output_dir: Path, compiler: str = "gcc") -> Binaries:
    if shutil.which(compiler) is None:
        raise BuildError(f"{compiler} not found on PATH: it builds the generator and stub")
    output_dir.mkdir(parents=True, exist_ok=True)
    binaries = Binaries(generator=output_dir / "diam_gen", stub=output_dir / "diam_stub")
    _compile(compiler, SOURCE_DIR / "diam_gen.c", binaries.generator)
    _compile(compiler, SOURCE_DIR / "diam_stub.c", binaries.stub)
    return binaries
