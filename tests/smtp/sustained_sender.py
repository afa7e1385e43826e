"""Send numbered messages over submission (STARTTLS + AUTH) until killed; print `ok N` after each 250."""

from __future__ import annotations

import smtplib
import ssl
import sys


def main(port: int, ca_file: str, user: str, password: str, *rcpts: str) -> None:
    context = ssl.create_default_context(cafile=ca_file)
    client = smtplib.SMTP("127.0.0.1", port, timeout=30)
    client.starttls(context=context)
    client.login(user, password)
    number = 0
    while True:
        number += 1
        raw = (f"From: {user}\r\nTo: {', '.join(rcpts)}\r\nSubject: n={number}\r\n"
               f"Message-ID: <{number}.crash@test>\r\n\r\nmessage {number}\r\n").encode()
        client.sendmail(user, list(rcpts), raw)  # raises unless every recipient got 250
        print(f"ok {number}", flush=True)


if __name__ == "__main__":
    try:
        main(int(sys.argv[1]), *sys.argv[2:])
    except (smtplib.SMTPException, OSError) as exc:
        print(f"stopped {type(exc).__name__}", flush=True)
