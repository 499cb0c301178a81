"""Container tests run only from ``make test-containers`` (which builds the images offline
and sets STREAMWATCH_CONTAINER_TESTS=1); there, a missing tool is a failure, not a skip."""

from __future__ import annotations

import os
import shutil

import pytest


@pytest.fixture(scope="session")
def container_tools() -> None:
    if os.environ.get("STREAMWATCH_CONTAINER_TESTS") != "1":
        pytest.skip("container tests run with `make test-containers` (builds the images, "
                    "needs root for podman)")
    missing = [t for t in ("podman", "docker-compose") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run scripts/containers-setup.sh")
    if not os.environ.get("CONTAINERS_CONF"):
        pytest.fail("CONTAINERS_CONF unset: run through `make test-containers`, which exports "
                    "the runtime settings of scripts/containers-setup.sh")
