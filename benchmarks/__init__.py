"""Performance and search-efficiency benchmarks; results in BENCHMARKS.md."""
