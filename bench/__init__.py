"""Benchmarks, each beside a reference measured in the same run, writing
``docs/benchmarks.md``. Run with ``make bench`` (``python -m bench``)."""
