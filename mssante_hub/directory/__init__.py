"""Directories of the trust space: the operators' whitelist (liste blanche)."""
