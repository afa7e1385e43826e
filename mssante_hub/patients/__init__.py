"""Patient spaces: provisioning (opt-out), life cycle, export."""
