"""Build test messages with the email package (no hand-written MIME)."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP


def make_message(
    sender: str, to: str, subject: str, body: str, attachment: tuple[str, bytes] | None = None
) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{abs(hash((sender, to, subject, body)))}@test.invalid>"
    message.set_content(body)
    if attachment:
        name, data = attachment
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return message.as_bytes()
