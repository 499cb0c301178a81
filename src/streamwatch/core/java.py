"""Find a Java runtime that Spark 4.2 accepts (JDK >= 17).

Order: ``JAVA_HOME`` if set, then the newest JDK under ``/usr/lib/jvm``.
``local-cluster`` and standalone executors of PySpark 4.3 need Java >= 25
(they pass ``--sun-misc-unsafe-memory-access=allow``), so callers can ask for
a higher minimum.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

JVM_DIR = Path("/usr/lib/jvm")


class JavaNotFound(RuntimeError):
    pass


@dataclass(frozen=True)
class Jdk:
    home: Path
    major: int


def _major_from_release(home: Path) -> int | None:
    release = home / "release"
    if release.is_file():
        m = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(errors="replace"), re.M)
        if m:
            return int(m.group(1))
    java = home / "bin" / "java"
    if not os.access(java, os.X_OK):
        return None
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=20
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)', out)
    return int(m.group(1)) if m else None


def candidates(jvm_dir: Path = JVM_DIR) -> list[Jdk]:
    """Every JDK under ``jvm_dir`` with a runnable ``bin/java``, newest first."""
    found: dict[Path, Jdk] = {}
    if jvm_dir.is_dir():
        for entry in sorted(jvm_dir.iterdir()):
            home = entry.resolve()
            if home in found or not os.access(home / "bin" / "java", os.X_OK):
                continue
            major = _major_from_release(home)
            if major is not None:
                found[home] = Jdk(home, major)
    return sorted(found.values(), key=lambda j: j.major, reverse=True)


def find_java_home(minimum: int = 17, jvm_dir: Path = JVM_DIR) -> Jdk:
    """Pick the JDK to run Spark with, or raise :class:`JavaNotFound` with the fix."""
    env_home = os.environ.get("JAVA_HOME")
    if env_home:
        home = Path(env_home)
        major = _major_from_release(home)
        if major is not None and major >= minimum:
            return Jdk(home, major)
        if major is None:
            problem = f"JAVA_HOME={env_home} has no runnable bin/java"
        else:
            problem = f"JAVA_HOME={env_home} is Java {major}"
        # An explicit JAVA_HOME that cannot work is an error, not a hint to look elsewhere.
        raise JavaNotFound(
            f"{problem}; Spark needs Java >= {minimum}. "
            f"Point JAVA_HOME at a JDK >= {minimum} or unset it to search {jvm_dir}."
        )
    for jdk in candidates(jvm_dir):
        if jdk.major >= minimum:
            return jdk
    raise JavaNotFound(
        f"No Java >= {minimum} found (JAVA_HOME unset, nothing suitable under {jvm_dir}). "
        f"Install one, e.g. `apt-get install openjdk-17-jre-headless`, or set JAVA_HOME."
    )


def ensure_java_env(minimum: int = 17) -> Jdk:
    """Set ``JAVA_HOME`` (and PATH) for Spark's launcher; returns the chosen JDK."""
    jdk = find_java_home(minimum)
    os.environ["JAVA_HOME"] = str(jdk.home)
    bin_dir = str(jdk.home / "bin")
    if not os.environ.get("PATH", "").startswith(bin_dir):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return jdk


def main() -> int:
    """``python -m streamwatch.core.java [MIN]`` prints the JDK home or the fix."""
    import sys

    minimum = int(sys.argv[1]) if len(sys.argv) > 1 else 17
    try:
        print(find_java_home(minimum).home)
    except JavaNotFound as exc:
        print(f"streamwatch: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
