"""The experiments behind the benchmarks and the quickstart, on real data: the end-to-end single-split runs
(`end_to_end`), blocked cross-validation (`folds`, `crossval`) and the OSTIA transfer (`transfer`)."""
