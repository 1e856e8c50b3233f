"""Rich rendering for people (the only place besides cli/ that prints)."""
