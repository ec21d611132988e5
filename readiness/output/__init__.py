"""Writers of a finished run: terminal summary, JSON, JUnit XML."""
