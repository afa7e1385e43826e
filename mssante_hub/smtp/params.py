"""ESMTP parameters of MAIL and RCPT: SIZE, BODY, SMTPUTF8 and DSN (RFC 3461: RET, ENVID, NOTIFY, ORCPT).

aiosmtpd upper-cases parameters and refuses the DSN ones, so the hub parses them itself,
keeping the case of ENVID and ORCPT values and bounding every length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_ENVID = 100  # RFC 3461 §4.4
MAX_ORCPT = 500  # RFC 3461 §4.2
NOTIFY_VALUES = frozenset({"SUCCESS", "FAILURE", "DELAY"})
_KEYWORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_XTEXT = re.compile(r"^(?:[!-*,-<>-~]|\+[0-9A-F]{2})*$")


class ParamError(Exception):
    """A parameter is malformed; `unknown` when it is simply not one we support."""

    def __init__(self, message: str, unknown: bool = False) -> None:
        super().__init__(message)
        self.unknown = unknown


@dataclass
class MailParams:
    size: int | None = None
    body: str = "7BIT"
    smtputf8: bool = False
    ret: str = ""  # FULL or HDRS
    envid: str = ""  # xtext as received


@dataclass
class RcptParams:
    notify: str = ""  # "NEVER" or a comma list of SUCCESS, FAILURE, DELAY
    orcpt: str = ""  # addr-type;xtext as received
    extra: dict[str, str] = field(default_factory=dict)


def split_params(text: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    for token in text.split():
        key, eq, value = token.partition("=")
        if not _KEYWORD.match(key) or (eq and not value):
            raise ParamError(f"bad parameter {token[:40]!r}")
        key = key.upper()
        if key in params:
            raise ParamError(f"{key} given twice")
        params[key] = value if eq else None
    return params


def parse_mail(text: str) -> MailParams:
    result = MailParams()
    for key, value in split_params(text).items():
        if key == "SIZE":
            if value is None or not value.isdigit() or len(value) > 20:
                raise ParamError("SIZE takes a number")
            result.size = int(value)
        elif key == "BODY":
            if value is None or value.upper() not in ("7BIT", "8BITMIME"):
                raise ParamError("BODY is 7BIT or 8BITMIME")
            result.body = value.upper()
        elif key == "SMTPUTF8":
            if value is not None:
                raise ParamError("SMTPUTF8 takes no value")
            result.smtputf8 = True
        elif key == "RET":
            if value is None or value.upper() not in ("FULL", "HDRS"):
                raise ParamError("RET is FULL or HDRS")
            result.ret = value.upper()
        elif key == "ENVID":
            if value is None or len(value) > MAX_ENVID or not _XTEXT.match(value):
                raise ParamError("ENVID must be xtext of at most 100 characters")
            result.envid = value
        else:
            raise ParamError(f"{key} not supported", unknown=True)
    return result


def parse_rcpt(text: str) -> RcptParams:
    result = RcptParams()
    for key, value in split_params(text).items():
        if key == "NOTIFY":
            words = (value or "").upper().split(",")
            if words != ["NEVER"] and not (words and set(words) <= NOTIFY_VALUES and len(set(words)) == len(words)):
                raise ParamError("NOTIFY is NEVER or a list of SUCCESS, FAILURE, DELAY")
            result.notify = ",".join(words)
        elif key == "ORCPT":
            addr_type, semi, addr = (value or "").partition(";")
            if not semi or not _KEYWORD.match(addr_type) or len(value or "") > MAX_ORCPT or not _XTEXT.match(addr):
                raise ParamError("ORCPT is addr-type;xtext")
            result.orcpt = value or ""
        else:
            raise ParamError(f"{key} not supported", unknown=True)
    return result
