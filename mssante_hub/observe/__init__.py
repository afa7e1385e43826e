"""What an operator watches: Prometheus metrics (metrics.py, exposition.py) and the trace id of a session (trace.py)."""
