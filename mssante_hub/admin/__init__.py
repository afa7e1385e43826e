"""The operator's commands: init, serve, doctor, key rotation, TLS certificates."""
