"""Mailboxes and sign-in: creation, identifiers (INS, idNatPS), passwords, tokens, throttling, inactivity."""
