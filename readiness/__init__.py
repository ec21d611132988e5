"""readiness: prove an exam site is ready, from the network itself."""

__version__ = "0.1.0"
