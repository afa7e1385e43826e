"""neomutt in tmux, `sort = threads`, over a folder served by the hub. This neomutt (2022-04-29)
threads on its side from the References and In-Reply-To it fetches (its binary holds no THREAD
or SORT command); the server's THREAD is covered with imaplib in test_rfc5256_thread.py."""

from __future__ import annotations

import os
import subprocess

from tests.imap.support import imaps
from tests.imap.test_clients import capture, need, wait_for_screen


def _raw(msgid: str, refs: str, subject: str, day: int) -> bytes:
    extra = f"References: {refs}\r\nIn-Reply-To: {refs.split()[-1]}\r\n" if refs else ""
    return (f"From: Dr Martin <martin@hub.test>\r\nSubject: {subject}\r\nDate: 0{day} Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: {msgid}\r\n{extra}\r\ncorps\r\n").encode()


def test_neomutt_threads_a_folder(hub, tmp_path):
    need("neomutt")
    need("tmux")
    user = hub.fresh_user()
    client = imaps(hub.port(), user, hub.password)
    client.append("INBOX", None, None, _raw("<r@x>", "", "Avis cardiologie", 1))
    client.append("INBOX", None, None, _raw("<o@x>", "", "Autre sujet", 2))
    client.append("INBOX", None, None, _raw("<s@x>", "<r@x>", "Re: Avis cardiologie", 3))
    client.logout()
    muttrc = tmp_path / "muttrc"
    muttrc.write_text(f"""
set folder = "imaps://{user}@127.0.0.1:{hub.port()}/"
set spoolfile = "+INBOX"
set imap_pass = "{hub.password}"
set certificate_file = "{tmp_path}/certs"
set ssl_verify_host = no
set ssl_verify_dates = no
set header_cache = ""
set message_cachedir = ""
set mail_check_stats = no
set sort = threads
set sort_aux = date
set ascii_chars = yes
set index_format = "%4C %s"
set charset = "utf-8"
""")
    (tmp_path / "certs").write_bytes(b"")
    session = f"muttthreads{os.getpid()}"
    env = {**os.environ, "TERM": "xterm", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "40",
                    f"neomutt -n -F {muttrc}"], check=True, env=env)
    try:
        assert wait_for_screen(session, "Autre sujet"), capture(session)
        screen = capture(session).splitlines()
        root = next(i for i, line in enumerate(screen) if "Avis cardiologie" in line and "->" not in line)
        # The reply hangs under its parent (neomutt hides a reply's subject when it repeats the parent's).
        assert "`->" in screen[root + 1] and "Autre sujet" in screen[root + 2], screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
