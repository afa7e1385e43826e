"""The framework internals the doors rely on are still there, on the versions setup.cfg pins.

smtp/aiosmtpd_internals.py and imap/twisted_internals.py are the only modules that reach inside
aiosmtpd and Twisted; a new release that renames one of those names fails here, loudly, not in a
customer's mail flow.
"""

from __future__ import annotations

import asyncio
import configparser
import inspect
import socket
from pathlib import Path

import aiosmtpd
import twisted
from aiosmtpd.smtp import SMTP
from packaging.specifiers import SpecifierSet
from twisted.internet import tcp

from mssante_hub.imap import twisted_internals
from mssante_hub.smtp import aiosmtpd_internals

SETUP_CFG = Path(__file__).resolve().parents[1] / "setup.cfg"


def _pinned(name: str) -> SpecifierSet:
    config = configparser.ConfigParser()
    config.read(SETUP_CFG)
    for line in config["options"]["install_requires"].splitlines():
        requirement = line.split("#")[0].strip()
        if requirement.lower().startswith(name.lower()):
            return SpecifierSet(requirement[len(name):].lstrip("[tls]").strip())
    raise AssertionError(f"{name} is not in setup.cfg's install_requires")


def test_pins_match_what_the_internals_modules_were_checked_on():
    assert _pinned("aiosmtpd") == SpecifierSet(aiosmtpd_internals.CHECKED_ON)
    assert _pinned("Twisted") == SpecifierSet(twisted_internals.CHECKED_ON)
    assert aiosmtpd.__version__ in SpecifierSet(aiosmtpd_internals.CHECKED_ON)
    assert twisted.__version__ in SpecifierSet(twisted_internals.CHECKED_ON)


def test_aiosmtpd_names_used_are_there():
    class Handler:
        pass

    loop = asyncio.new_event_loop()
    try:
        session = SMTP(Handler(), loop=loop)
        missing = [a for a in aiosmtpd_internals.INSTANCE_ATTRIBUTES if not hasattr(session, a)]
        missing += [m for m in aiosmtpd_internals.METHODS if not callable(getattr(SMTP, m, None))]
        assert not missing, f"aiosmtpd {aiosmtpd.__version__} lacks {missing}: see smtp/aiosmtpd_internals.py"
        # Assigned when a client connects: the connection handler must still set them.
        connected = inspect.getsource(SMTP._cb_client_connected)
        unset = [a for a in aiosmtpd_internals.CONNECTED_ATTRIBUTES if f"self.{a} =" not in connected]
        assert not unset, f"aiosmtpd {aiosmtpd.__version__} no longer sets {unset} on connection"
        assert hasattr(asyncio.StreamReader(loop=loop), "_buffer"), "asyncio.StreamReader has no _buffer (push_back)"
        clone = aiosmtpd_internals.clone_session(session, 64 * 1024)
        assert clone._smtp_methods.keys() == session._smtp_methods.keys()
        assert all(getattr(m, "__self__", None) is clone for m in clone._smtp_methods.values())
    finally:
        loop.close()


def test_twisted_names_used_are_there():
    for cls, name in twisted_internals.CLASS_ATTRIBUTES:
        assert callable(getattr(cls, name, None)), f"Twisted {twisted.__version__}: {cls.__name__}.{name} is gone"
    left, right = socket.socketpair()
    try:
        connection = tcp.Connection(left, None)
        missing = [a for a in twisted_internals.INSTANCE_ATTRIBUTES if not hasattr(connection, a)]
        assert not missing, f"Twisted {twisted.__version__}: tcp.Connection lacks {missing}: see imap/twisted_internals.py"
    finally:
        left.close()
        right.close()
