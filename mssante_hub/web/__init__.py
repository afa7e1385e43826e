"""Patient webmail and its JSON API (Twisted web, on the shared reactor)."""
