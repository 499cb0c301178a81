from pathlib import Path

import pytest

from streamwatch.core import java


def fake_jdk(root: Path, name: str, version: str) -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    exe = home / "bin" / "java"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    (home / "release").write_text(f'JAVA_VERSION="{version}"\n')
    return home


def test_newest_jdk_at_least_minimum_wins(tmp_path, monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    fake_jdk(tmp_path, "java-11", "11.0.2")
    fake_jdk(tmp_path, "java-17", "17.0.15")
    newest = fake_jdk(tmp_path, "temurin-25", "25.0.1")
    assert java.find_java_home(17, tmp_path).home == newest
    assert java.find_java_home(25, tmp_path).major == 25


def test_java_home_too_old_is_a_clear_error(tmp_path, monkeypatch):
    old = fake_jdk(tmp_path, "java-11", "11.0.2")
    monkeypatch.setenv("JAVA_HOME", str(old))
    with pytest.raises(java.JavaNotFound, match=r"JAVA_HOME=.*Java 11.*>= 17"):
        java.find_java_home(17, tmp_path)


def test_nothing_found_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    fake_jdk(tmp_path, "java-11", "11.0.2")
    with pytest.raises(java.JavaNotFound, match="set JAVA_HOME"):
        java.find_java_home(17, tmp_path)
