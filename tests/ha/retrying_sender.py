"""Send numbered messages over submission; a 4xx or a lost connection is retried as a real MTA would.

Prints `ok N` after each 250 and `retry N REASON` for each temporary failure; exits once COUNT are acknowledged.
"""

from __future__ import annotations

import smtplib
import ssl
import sys
import time

RETRY_PAUSE_S = 0.5
GIVE_UP_AFTER_S = 150  # a guard against a hub that never comes back, not a timing assertion


def connect(port: int, context: ssl.SSLContext, user: str, password: str) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        client.starttls(context=context)
        client.login(user, password)
    except BaseException:
        client.close()
        raise
    return client


def main(port: int, ca_file: str, user: str, password: str, count: int, *rcpts: str) -> None:
    context = ssl.create_default_context(cafile=ca_file)
    client: smtplib.SMTP | None = None
    deadline = time.monotonic() + GIVE_UP_AFTER_S
    number = 1
    while number <= count and time.monotonic() < deadline:
        raw = (f"From: {user}\r\nTo: {', '.join(rcpts)}\r\nSubject: n={number}\r\n"
               f"Message-ID: <{number}.failover@test>\r\n\r\nmessage {number}\r\n").encode()
        try:
            if client is None:
                client = connect(port, context, user, password)
            client.sendmail(user, list(rcpts), raw)
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500:
                raise
            print(f"retry {number} {exc.smtp_code} {exc.smtp_error[:80]!r}", flush=True)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _text in exc.recipients.values()}
            if any(code >= 500 for code in codes):
                raise
            print(f"retry {number} {sorted(codes)}", flush=True)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            print(f"retry {number} {type(exc).__name__}", flush=True)
        else:
            print(f"ok {number}", flush=True)
            number += 1
            continue
        # As an MTA does: the next try is a new session, after a pause.
        if client is not None:
            client.close()
            client = None
        time.sleep(RETRY_PAUSE_S)
    print("done" if number > count else "gave up", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), *sys.argv[6:])
