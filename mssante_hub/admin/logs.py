"""The activity log of a running hub: readable lines on stderr, stdlib logging, level from `log.level`.

What is logged (each front door and worker logs its own events under `mssante_hub.*`):
listeners started and stopped, SMTP sessions opened and refused (with the reason's reply
code), logins and other traced actions (from the audit trail: action, outcome, account id),
deliveries by door and outcome (counts and the message's id, never addresses nor content),
relay attempts and their outcome, jobs.

Two formats (`log.format`, `serve --log-format`): readable lines, or JSON, one object a line
(time, level, logger, pid, trace, message), for a log shipper. `trace` is the id of the SMTP or
IMAP session the event belongs to (observe/trace.py): a delivery's line carries its session's id
and names the stored message id, which the relay's lines name too.

Never logged: message content (bodies, subjects, attachments), passwords, tokens, keys. Two
guards hold that line for every logger, ours and the libraries': an exception passed as an
argument or attached to a record is shown by its type only (its text may quote content, as
a parser's error quotes the line it choked on), and aiosmtpd's own logger, which at DEBUG
echoes the SMTP dialogue (AUTH lines included), is held at WARNING whatever the level.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO


from pythonjsonlogger.json import JsonFormatter

from mssante_hub.config import LOG_FORMATS as FORMATS
from mssante_hub.config import LOG_LEVELS as LEVELS
from mssante_hub.observe import trace

DEFAULT_LEVEL = "info"
DEFAULT_FORMAT = "text"
LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(process)d %(trace)s %(message)s"
JSON_NAMES = {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"}
# aiosmtpd's logger (it logs every command at DEBUG) and other chatty libraries.
QUIETED_LOGGERS = {"mail.log": logging.WARNING, "asyncio": logging.WARNING, "sqlalchemy": logging.WARNING}
ROOT_NAMES = ("mssante_hub", "relays", "storage", "crypto")


class _TypesOnly(logging.Filter):
    """Exceptions appear by their type name only, in the message arguments and in exc_info."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, BaseException) for a in record.args):
            record.args = tuple(type(a).__name__ if isinstance(a, BaseException) else a for a in record.args)
        elif isinstance(record.args, BaseException):
            record.args = (type(record.args).__name__,)
        if record.exc_info and record.exc_info[0] is not None:
            kind = record.exc_info[0]
            record.msg = f"{record.getMessage()} [{kind.__module__}.{kind.__qualname__}]"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


class _Traced(logging.Filter):
    """Each record carries the trace id current where it was logged ("" outside a session)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.trace = trace.current.get()
        return True


def _utc(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


class _UtcFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - stdlib
        return _utc(record)


class _JsonLines(JsonFormatter):
    """python-json-logger's formatter, UTC times; only the fields named (no stray extras)."""

    def process_log_record(self, log_record: dict) -> dict:
        return {key: value for key, value in log_record.items() if key in _JSON_KEYS}

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - stdlib
        return _utc(record)


_JSON_KEYS = frozenset(("time", "level", "logger", "pid", "trace", "message"))


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return _JsonLines(JSON_FIELDS, rename_fields=JSON_NAMES)
    return _UtcFormatter(LINE_FORMAT)


_HANDLER_MARK = "_mssante_hub_handler"


def setup(level: str = DEFAULT_LEVEL, stream: TextIO | None = None, fmt: str = DEFAULT_FORMAT) -> logging.Handler:
    """One handler on the root logger, writing to `stream` (stderr); called once by `serve`."""
    if level not in LEVELS:
        raise ValueError(f"log level {level!r}: choose among {', '.join(LEVELS)}")
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: choose among {', '.join(FORMATS)}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(_TypesOnly())
    handler.addFilter(_Traced())
    root.addHandler(handler)
    root.setLevel(logging.WARNING)  # libraries: warnings and errors only
    for name in ROOT_NAMES:
        logging.getLogger(name).setLevel(level.upper())
    for name, floor in QUIETED_LOGGERS.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLevelName(level.upper())))
    return handler
