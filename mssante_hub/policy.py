"""Who may send what to whom.

The seam every message passes through in :func:`mssante_hub.delivery.accept`.
The trust space (issue: SMTP) and the patient rules (issue: patient spaces) plug in
here; for now only the recipient count is checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

from mssante_hub import refusals
from mssante_hub.refusals import Refusal


@dataclass(frozen=True)
class Decision:
    """What policy found out about the recipients, for the store step."""

    local: list[str]
    remote: list[str]


def check(message: EmailMessage, sender: str, local: list[str], remote: list[str], max_recipients: int) -> Decision:
    """Raise Refusal if the message may not go; otherwise the recipients it goes to."""
    if len(local) + len(remote) > max_recipients:
        raise Refusal(refusals.TOO_MANY_RECIPIENTS)
    if not local and not remote:
        raise Refusal(refusals.NO_RECIPIENTS)
    return Decision(local=local, remote=remote)
