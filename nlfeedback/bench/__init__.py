"""Benchmarks behind ``nlf bench``: each returns a JSON-able dict of measured figures."""
