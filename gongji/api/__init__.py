"""The HTTP doors: the national-platform transaction interface, the admin API, health."""

DEFAULT_THREADS = 8
"""Requests a `gongji serve` worker process works on at once, each on a database connection of its own. More
threads only contend for the GIL: 4, 10 and 40 threads gave 60, 58 and 53 settlements/s (bench_interface.py,
one run each; runs differ by about 10 %)."""
