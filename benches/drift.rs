//! Updates per second of every drift detector on 1M values (`cargo bench --bench
//! drift`): each through the registry as a boxed `dyn Detector` (as `eddy drift` runs
//! it), and ADWIN also as its concrete type. The drifts each finds are printed beside
//! the timings, so a speed-up that changes the answers shows.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use eddy::drift::{self, Adwin, Detector, Input, Signal};
use std::hint::black_box;

const N: usize = 1_000_000;

/// Seeded values: noise around a mean that moves every 200,000 values (real), or
/// errors at a rate that moves likewise (0/1).
fn stream(input: Input) -> Vec<f64> {
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..N)
        .map(|i| {
            let phase = (i / 200_000) % 2;
            match input {
                // The sum of four uniforms: a bell of spread about 0.58.
                Input::Real => phase as f64 + (0..4).map(|_| uniform()).sum::<f64>() - 2.0,
                Input::Binary => f64::from(u8::from(uniform() < if phase == 0 { 0.1 } else { 0.3 })),
            }
        })
        .collect()
}

fn drifts(d: &mut dyn Detector, values: &[f64]) -> usize {
    values.iter().filter(|&&x| d.update(x) == Signal::Drift).count()
}

fn detectors(c: &mut Criterion) {
    let real = stream(Input::Real);
    let binary = stream(Input::Binary);
    let mut g = c.benchmark_group("drift");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    for entry in drift::ENTRIES {
        let values = match entry.input {
            Input::Real => &real,
            Input::Binary => &binary,
        };
        let fresh = (entry.build)((entry.defaults)()).expect("defaults build");
        eprintln!("{}: {} drifts in {N} values", entry.name, drifts(fresh.clone().as_mut(), values));
        g.bench_function(BenchmarkId::new("update", entry.name), |b| {
            b.iter(|| {
                let mut d = fresh.clone();
                for &x in values {
                    black_box(d.update(black_box(x)));
                }
            })
        });
    }
    g.bench_function(BenchmarkId::new("update", "adwin-concrete"), |b| {
        b.iter(|| {
            let mut d = Adwin::new();
            for &x in &real {
                black_box(d.update(black_box(x)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, detectors);
criterion_main!(benches);
