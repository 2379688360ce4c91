"""Benchmarks on a lent GPU machine: what only a GPU shows (throughput, bf16, peak memory) and the
fine-tuning targets that take hours on 2 CPU cores. See ``bench/gpu/README.md``."""
