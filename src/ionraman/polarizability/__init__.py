"""polarizability."""
