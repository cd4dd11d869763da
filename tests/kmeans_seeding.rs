//! `n_init`: mini-batch k-means keeps the best of several k-means++ seedings of its
//! first batch, so well-separated blobs are found whatever the seed.

use eddy::metrics::adjusted_rand_index;
use eddy::model::{MiniBatchKMeans, Model};
use eddy::source::synth::{Blobs, LabelledBatch};
use std::time::Instant;

/// 8 blobs in 16 dimensions (std 1, centres uniform in [-10, 10]): 50 batches of 1024
/// rows to learn (51 200), then 4096 held-out rows to score.
fn stream() -> (Vec<LabelledBatch>, LabelledBatch) {
    let mut blobs = Blobs::new(8, 16, 3);
    let batches = (0..50).map(|_| blobs.next_batch(1024)).collect();
    (batches, blobs.next_batch(4096))
}

/// ARI against the true blobs of the held-out rows, after learning the stream.
fn ari(mut km: MiniBatchKMeans, (batches, (x, truth)): &(Vec<LabelledBatch>, LabelledBatch)) -> f64 {
    for (b, _) in batches {
        km.partial_fit(b.view()).expect("valid");
    }
    let labels = km.predict(x.view()).expect("fitted");
    adjusted_rand_index(truth.as_slice().expect("contiguous"), labels.as_slice().expect("contiguous"))
}

#[test]
fn three_seedings_find_every_blob_for_every_seed_where_one_seeding_can_merge_two() {
    let start = Instant::now();
    let data = stream();
    assert_eq!(MiniBatchKMeans::params().n_init, 3, "the default");
    // Seeds 0..=19, shared out between two threads (each run is a whole stream).
    let aris: Vec<(u64, f64)> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..2u64)
            .map(|t| {
                let data = &data;
                s.spawn(move || {
                    (0..=19u64)
                        .filter(|seed| seed % 2 == t)
                        .map(|seed| (seed, ari(MiniBatchKMeans::params().seed(seed).build().expect("valid"), data)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        runs.into_iter().flat_map(|r| r.join().expect("no panic")).collect()
    });
    assert_eq!(aris.len(), 20);
    for (seed, a) in aris {
        assert_eq!(a, 1.0, "seed {seed}: n_init=3 separates all 8 blobs, but ARI is {a}");
    }
    // One seeding (scikit-learn's partial_fit) goes wrong for seed 15: two centres split
    // one blob and two other blobs share a centre for good (ARI 0.84). On 6 such streams
    // (stream seeds 0..=5, 64 batches, model seeds 0..=19), one seeding failed in 1 of
    // 120 runs (this one), three seedings in none.
    let a = ari(MiniBatchKMeans::params().n_init(1).seed(15).build().expect("valid"), &data);
    assert!(a < 0.9, "seed 15 with n_init=1 merged two blobs before n_init existed: ARI {a}");
    println!("21 runs in {:.1?}; seed 15 with n_init=1: ARI {a:.3}", start.elapsed());
}

#[test]
fn n_init_is_a_parameter_of_the_model_language() {
    assert_eq!(Model::from_spec("minibatch-kmeans(n_init=3)").expect("valid").spec(), "minibatch-kmeans");
    assert_eq!(Model::from_spec("minibatch-kmeans(n_init=1)").expect("valid").spec(), "minibatch-kmeans(n_init=1)");
    let zero = Model::from_spec("minibatch-kmeans(n_init=0)").expect_err("refused");
    assert!(zero.message.contains("n_init must be a whole number >= 1"), "{zero}");
    let listed = eddy::model::registry::describe(Some("minibatch-kmeans")).expect("listed");
    assert!(listed.contains("n_init") && listed.contains("lowest inertia"), "{listed}");
}
