"""`readiness serve`: the proctor PC's live page, /metrics for Prometheus, and the
countdown schedule in one long-running process. Nothing here prints."""
