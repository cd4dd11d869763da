//! Where records come from. For now: seeded generators for demos, tests and benches.

pub mod synth;
