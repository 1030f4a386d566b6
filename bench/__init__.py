"""Tijori's load benchmark: ``make bench`` or ``python -m bench --help``."""
