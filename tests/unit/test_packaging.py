"""The wheel installs one import package, ``streamwatch``, and every module under it.

Read from pyproject.toml's own package discovery (setuptools' ``find_packages`` with the
``[tool.setuptools.packages.find]`` table), which is what the wheel build runs, so the test
costs milliseconds instead of a build.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]


def _packages() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    find = config["tool"]["setuptools"]["packages"]["find"]
    where = [str(ROOT / w) for w in find["where"]]
    assert len(where) == 1, "one source root"
    return find_packages(where=where[0], include=find.get("include", ("*",)),
                         exclude=find.get("exclude", ()))


def test_one_top_level_package() -> None:
    packages = _packages()
    assert {name.split(".")[0] for name in packages} == {"streamwatch"}


def test_every_folder_with_modules_is_a_package() -> None:
    # a folder without __init__.py is skipped by find_packages: its modules would be
    # importable from the checkout but missing from the wheel
    src = ROOT / "src"
    folders = {".".join(p.parent.relative_to(src).parts)
               for p in src.rglob("*.py") if "__pycache__" not in p.parts}
    assert folders <= set(_packages())


def test_the_dashboard_and_rules_ship_as_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data = config["tool"]["setuptools"]["package-data"]
    assert "static/*.js" in data["streamwatch.exporter"]
    assert "*.yaml" in data["*"]
    assert (ROOT / "src/streamwatch/exporter/static/index.html").is_file()
    assert (ROOT / "src/streamwatch/processor/fraud/rules.yaml").is_file()
