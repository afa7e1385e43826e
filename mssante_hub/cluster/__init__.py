"""Several processes on one machine (`serve --workers N`): supervisor.py (the parent: listening sockets, workers,
restarts, the event relay), events.py (a worker's side of that relay), singleton.py (what runs once)."""
