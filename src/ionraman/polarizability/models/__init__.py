"""polarizability/models."""
