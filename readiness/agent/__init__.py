"""The seat agent: a small signed HTTP/JSON service on candidate PCs and the exam server.

It runs only registered probes, only against targets in the site's configuration,
only for a caller holding the site token (see auth.py, allow.py, server.py).
"""
