//! Criterion benchmarks of every estimator (filled in below).

fn main() {}
