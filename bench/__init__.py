"""Benchmarks: `python -m bench` measures each performance figure side by side with its baseline.

Every figure is a ratio of two measurements taken in the same run (medians of repeated runs), so
a noisy machine moves both sides together. Nothing here is imported by the application or the tests
except the smoke test, and the optional extras (`pip install -e ".[bench]"`) are imported lazily.
"""
