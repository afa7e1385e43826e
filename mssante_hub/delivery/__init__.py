"""The one path every incoming message takes (docs/architecture.md "The path of a message").

accept.py orchestrates; prepare.py parses, applies the rules and encrypts (read-only);
storage/deliveries.py writes, in the group committer's transaction; prepare_pool.py
optionally runs prepare() in child processes. Front doors use the names below.
"""

from mssante_hub.delivery.accept import PREPARE_IN_WRITER_MAX_BYTES, accept, accept_all
from mssante_hub.delivery.prepare import Prepared, prepare
from mssante_hub.envelope import Channel, Delivered, Envelope, Identity

__all__ = ["Channel", "Delivered", "Envelope", "Identity", "PREPARE_IN_WRITER_MAX_BYTES", "Prepared", "accept",
           "accept_all", "prepare"]
