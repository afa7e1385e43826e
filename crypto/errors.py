"""Errors raised by the crypto package."""


class IntegrityError(Exception):
    """A ciphertext failed authentication: altered, truncated, or not of this row/key."""


class MasterKeyError(Exception):
    """The master key is missing, malformed or readable by others."""
