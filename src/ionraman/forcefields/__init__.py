"""forcefields."""
