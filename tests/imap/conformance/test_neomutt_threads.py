"""neomutt in tmux, `sort = threads`, over a folder served by the hub. This neomutt (2022-04-29)
threads on its side from the References and In-Reply-To it fetches (its binary holds no THREAD
or SORT command); the server's THREAD is covered with imaplib in test_rfc5256_thread.py."""

from __future__ import annotations

from tests.imap.support import imaps
from tests.support.neomutt import neomutt


def _raw(msgid: str, refs: str, subject: str, day: int) -> bytes:
    extra = f"References: {refs}\r\nIn-Reply-To: {refs.split()[-1]}\r\n" if refs else ""
    return (f"From: Dr Martin <martin@hub.test>\r\nSubject: {subject}\r\nDate: 0{day} Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: {msgid}\r\n{extra}\r\ncorps\r\n").encode()


def test_neomutt_threads_a_folder(hub, tmp_path):
    user = hub.fresh_user()
    client = imaps(hub.port(), user, hub.password)
    client.append("INBOX", None, None, _raw("<r@x>", "", "Avis cardiologie", 1))
    client.append("INBOX", None, None, _raw("<o@x>", "", "Autre sujet", 2))
    client.append("INBOX", None, None, _raw("<s@x>", "<r@x>", "Re: Avis cardiologie", 3))
    client.logout()
    settings = 'set sort = threads\nset sort_aux = date\nset ascii_chars = yes\nset index_format = "%4C %s"'
    with neomutt(tmp_path, user=user, password=hub.password, port=hub.port(), spool="INBOX", certificate=b"",
                 settings=settings, name="muttthreads") as screen:
        assert screen.shows("Autre sujet"), screen.capture()
        lines = screen.capture().splitlines()
        root = next(i for i, line in enumerate(lines) if "Avis cardiologie" in line and "->" not in line)
        # The reply hangs under its parent (neomutt hides a reply's subject when it repeats the parent's).
        assert "`->" in lines[root + 1] and "Autre sujet" in lines[root + 2], lines
