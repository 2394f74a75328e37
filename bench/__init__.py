"""Benchmarks: speed at scale and retrieval quality (figures in BENCHMARKS.md)."""
