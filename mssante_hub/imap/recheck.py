"""A logged-in IMAP session keeps checking that the credentials it logged in with still stand.

`account passwd`, `account suspend` and `account delete` run in another process (the operator's
command line) and end webmail sessions in their own transaction; an IMAP session cannot be reached
from there. So each session re-reads its account's status and stored password hash, at most once
every `imap.recheck_seconds` (before a command once that time has passed, and at IDLE's polls):
a new hash, a status other than active or a row gone ends the session with BYE. The read is one
primary-key look-up of two columns per session and interval, never one per command (the IMAP
benchmark's sessions send hundreds of commands a second).
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

from mssante_hub.imap import responses
from storage import accounts as account_repo
from storage.models import AccountStatus

if TYPE_CHECKING:  # the session imports this module; only its type is needed here
    from mssante_hub.imap.server import Session

log = logging.getLogger("mssante_hub.imap")

NOT_LOGGED_IN = math.inf  # the due time of a session with no account: never


def arm(s: Session) -> None:
    """The session has just logged in: its first re-check is one interval from now."""
    s.credentials_due = time.monotonic() + s.hub.config.get("imap.recheck_seconds")


def due(s: Session) -> bool:
    """Cheap enough for every command: one clock read and a comparison."""
    return time.monotonic() >= s.credentials_due


async def still_valid(s: Session) -> bool:
    """Whether the account still has the password hash and the active status it logged in with.

    A read that fails raises (the command gets BAD) and the next command checks again: no command
    runs on credentials that were due for a check and not checked."""
    account = s.account
    if account is None or not due(s):
        return True
    found = await s.hub.read(lambda conn: account_repo.credentials(conn, account.id), small=True)
    if s.account is not account:  # logged out meanwhile
        return True
    if found == (AccountStatus.ACTIVE.value, account.password_hash):
        arm(s)
        return True
    return False


def end_session(s: Session) -> None:
    """BYE and close: the password changed, or the mailbox was suspended or deleted."""
    from mssante_hub.imap.server import LOGOUT  # at call time: server imports this module

    log.info("imap session ended: credentials changed (account %d)", s.account.id if s.account else 0)
    s.untagged(responses.BYE_CREDENTIALS_CHANGED)
    s.unselect()
    s.state = LOGOUT  # the queue stops: nothing more is answered
    s.flush()
    s.close()  # unregisters the output gate first, else TLS would never shut down (Session.close)
