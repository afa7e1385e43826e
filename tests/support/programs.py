"""Programs a test drives (mail clients, tmux, swaks): found on PATH, or the test says loudly it did not run."""

from __future__ import annotations

import os
import shutil

from tests.support.missing import missing

DEBIAN_PACKAGES = ".ci/debian-packages.txt"


def need(program: str) -> str:
    """The path of `program`; if it is not installed, the calling test is marked missing (failed under CI)."""
    path = shutil.which(program)
    if path is None:
        nodeid = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
        missing(nodeid, f"{program} is not installed", f"apt-get install the packages of {DEBIAN_PACKAGES}")
    return path
