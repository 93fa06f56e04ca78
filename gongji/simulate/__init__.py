"""Population simulation: synthetic populations, what-if runs, tuning, reports."""
