"""Site and certificate-profile models, loading and validation."""
