"""polarizability/reference."""
