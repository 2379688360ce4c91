"""Benchmarks: each module writes ``bench/results/<name>.json``; ``bench.report`` renders the README table."""
