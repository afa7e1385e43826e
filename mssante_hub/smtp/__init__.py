"""SMTP front doors on aiosmtpd: `mx` for the trust space, `submission` for clients and systems."""
