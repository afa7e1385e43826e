"""Encryption at rest: the master key, account key pairs and per-message envelopes.

This package depends on nothing of ours. Everything it encrypts is bound by
associated data to the row that holds it, so a ciphertext moved elsewhere
fails to open.
"""

from crypto.errors import IntegrityError, MasterKeyError

__all__ = ["IntegrityError", "MasterKeyError"]
