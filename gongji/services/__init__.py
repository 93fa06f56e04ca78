"""Use cases over the engine and policies."""
