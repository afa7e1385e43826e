"""Who may send what to whom, and every reason to refuse a message."""
