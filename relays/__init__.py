"""Outbound delivery: the durable queue's worker, SMTP client with mutual TLS, DSN and MDN.

Never imports mssante_hub: bounces and receipts go back in through a delivery
function handed to it at start-up.
"""
