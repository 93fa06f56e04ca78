"""The HTTP doors: the national-platform transaction interface, the admin API, health."""
