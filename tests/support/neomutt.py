"""neomutt in tmux against a served hub: the screen a user would see, read with `tmux capture-pane`."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.programs import need

SCREEN_TIMEOUT_S = 30.0  # a hang guard, not a timing assertion
SCREEN_COLUMNS, SCREEN_LINES = 160, 40
CERTIFICATE_PROMPTS = ("(r)eject", "accept (o)nce")


class Screen:
    """One neomutt running in a detached tmux session."""

    def __init__(self, session: str) -> None:
        self.session = session

    def capture(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.session], capture_output=True,
                              text=True).stdout

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.session, *keys], check=True)

    def shows(self, text: str) -> bool:
        """Whether `text` appears within the guard; a certificate question is answered (a)lways on the way."""
        deadline = time.monotonic() + SCREEN_TIMEOUT_S
        while time.monotonic() < deadline:
            screen = self.capture()
            if text in screen:
                return True
            if any(prompt in screen for prompt in CERTIFICATE_PROMPTS):
                self.keys("a")
            time.sleep(0.2)
        return False


@contextmanager
def neomutt(tmp_path: Path, *, user: str, password: str, port: int, spool: str, certificate: bytes,
            settings: str = "", name: str = "mutt") -> Iterator[Screen]:
    """neomutt signed in over IMAPS to 127.0.0.1:`port` as `user`, opened on `spool`; `settings` are more muttrc lines."""
    need("neomutt")
    need("tmux")
    muttrc = tmp_path / "muttrc"
    muttrc.write_text(f"""
set folder = "imaps://{user}@127.0.0.1:{port}/"
set spoolfile = "+{spool}"
set imap_pass = "{password}"
set certificate_file = "{tmp_path}/certs"
set ssl_verify_host = no
set ssl_verify_dates = no
set header_cache = ""
set message_cachedir = ""
set mail_check_stats = no
set charset = "utf-8"
{settings}
""")
    (tmp_path / "certs").write_bytes(certificate)
    session = f"{name}{os.getpid()}"
    env = {**os.environ, "TERM": "xterm", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", str(SCREEN_COLUMNS), "-y", str(SCREEN_LINES),
                    f"neomutt -n -F {muttrc}"], check=True, env=env)
    try:
        yield Screen(session)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
