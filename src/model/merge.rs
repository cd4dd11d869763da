//! Merging replicas: copies of one model that learned from different parts of a
//! stream (the workers of a group), folded back into one.
//!
//! Every replica starts from a shared state, the *base*, and learns on its own; its
//! change since the base is then folded into the shared model. The rules, per stage:
//!
//! - [`MergeRule::Exact`]: the state is sufficient statistics (counts, sums, means and
//!   variances by Chan's parallel formula), so the fold of every replica's change is
//!   the model one process would have learned from all their records, up to
//!   floating-point rounding: the scaler, Gaussian and multinomial naive Bayes.
//! - [`MergeRule::CountWeighted`]: mini-batch k-means. Each centre is the mean of the
//!   records assigned to it, so it folds as its count-weighted sum (as Spark's
//!   `StreamingKMeans` merges partitions). Approximate: a replica assigns records with
//!   its own centres.
//! - [`MergeRule::Averaged`]: linear models, by parameter mixing: each replica's change
//!   of the weights is added times its `share` (1 / the number of replicas), which with
//!   equal shares of records is the record-weighted average of their weights.
//!   Approximate, as averaged SGD is.
//! - Trees, forests, ensembles and wrappers grow their own structure and cannot be
//!   merged: a group runs one such model per worker.

use super::stage::{Chain, Stage};
use serde::Serialize;
use std::any::Any;
use std::fmt;

/// How a stage's replicas combine (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MergeRule {
    /// Nothing learned that differs between replicas (a hashing encoder).
    Stateless,
    /// Sufficient statistics added: the merged model is the one-process model.
    Exact,
    /// Centres as count-weighted means: approximate.
    CountWeighted,
    /// Weights averaged (parameter mixing): approximate.
    Averaged,
    /// An exact estimator behind a transformer that learns (a scaler): each replica's
    /// estimator learned from features its own transformer made, so the sum is close
    /// to, not equal to, the one-process model.
    Approximate,
}

impl fmt::Display for MergeRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MergeRule::Stateless => "exact (nothing learned)",
            MergeRule::Exact => "exact (sufficient statistics added)",
            MergeRule::CountWeighted => "approximate (centres as count-weighted means)",
            MergeRule::Averaged => "approximate (weights averaged)",
            MergeRule::Approximate => "approximate (the estimator learned from each replica's own transform)",
        })
    }
}

/// What a stage type does to merge: implemented by every stage, empty (the defaults)
/// for the ones that cannot be merged.
pub trait Merge {
    /// The rule, or `None` when replicas of this stage cannot be merged (with the
    /// parameters it has: forgetting makes some mergeable stages not so).
    fn merge_rule(&self) -> Option<MergeRule> {
        None
    }

    /// Add to `self` what `replica` learned since `base`: `replica` started as a copy
    /// of `base` (or, for a stage that had not started, of an untrained one) and
    /// learned more; `self` is the shared model, which may have taken other replicas'
    /// changes since `base`. `share` weighs an averaged stage's change.
    fn fold(&mut self, base: &Self, replica: &Self, share: f64) -> Result<(), String>
    where
        Self: Sized,
    {
        let _ = (base, replica, share);
        Err("this stage cannot be merged".into())
    }
}

/// [`Merge::fold`] between stages known only as trait objects: each must be `T`.
pub(crate) fn fold_as<T: Merge + Any>(
    target: &mut T,
    base: &dyn Stage,
    replica: &dyn Stage,
    share: f64,
) -> Result<(), String> {
    let (Some(base), Some(replica)) = (base.as_any().downcast_ref::<T>(), replica.as_any().downcast_ref::<T>()) else {
        return Err(format!("{}: replicas of different kinds of stage", target_name::<T>()));
    };
    target.fold(base, replica, share)
}

fn target_name<T>() -> &'static str {
    std::any::type_name::<T>().rsplit("::").next().unwrap_or("stage")
}

/// The classes of two replicas merged: the union, sorted (as [`super::Classes`] keeps them).
pub(crate) fn union_classes(a: &[i64], b: &[i64]) -> Vec<i64> {
    let mut all: Vec<i64> = a.iter().chain(b).copied().collect();
    all.sort_unstable();
    all.dedup();
    all
}

impl<H: super::stage::Head + Clone> Chain<H> {
    /// The rule that merges this chain (the least exact of its stages'), or why it
    /// cannot be merged (the first stage that cannot).
    pub fn merge_rule(&self) -> Result<MergeRule, String> {
        let rule_of = |stage: &dyn Stage| {
            stage.merge_rule().ok_or_else(|| {
                format!("{} cannot be merged (it grows its own structure, or forgets)", stage.entry().name)
            })
        };
        let mut worst = MergeRule::Stateless;
        for t in self.transforms() {
            worst = worst.max(rule_of(t.as_ref())?);
        }
        let head = rule_of(self.head().stage())?;
        // An exact estimator behind a learning transform learned from each replica's own features.
        if head == MergeRule::Exact && worst > MergeRule::Stateless {
            return Ok(MergeRule::Approximate);
        }
        Ok(worst.max(head))
    }

    /// Fold `replica`'s change since `base` into this chain, stage by stage (see
    /// [`Merge::fold`]). On an error this chain may be part-folded: fold into a copy.
    pub fn fold(&mut self, base: &Self, replica: &Self, share: f64) -> Result<(), String> {
        let (n, nb, nr) = (self.transforms().len(), base.transforms().len(), replica.transforms().len());
        if n != nb || n != nr {
            return Err("replicas of different models (their stages differ)".into());
        }
        let (transforms, head) = self.parts_mut();
        for (i, t) in transforms.iter_mut().enumerate() {
            let (b, r) = (base.transforms()[i].as_ref() as &dyn Stage, replica.transforms()[i].as_ref() as &dyn Stage);
            t.fold_dyn(b, r, share)?;
        }
        head.stage_mut().fold_dyn(base.head().stage(), replica.head().stage(), share)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Model, OnlineClassifier, OnlineClusterer};
    use crate::source::synth::{Blobs, Hyperplane};
    use ndarray::{s, Array1, Array2};
    use proptest::prelude::*;

    /// The model of `spec` after `parts` were learned by one process, and the same
    /// model when a shared start learned `parts[0]` and each later part was learned by
    /// its own replica of that start, then folded back with `share`.
    fn one_and_merged(spec: &str, parts: &[(Array2<f64>, Array1<i64>)], share: f64) -> (Model, Model) {
        let learn = |m: &mut Model, (x, y): &(Array2<f64>, Array1<i64>)| match m {
            Model::Classifier(c) => c.partial_fit(x.view(), y.view()).expect("learns"),
            Model::Clusterer(c) => c.partial_fit(x.view()).expect("learns"),
        };
        let mut one = Model::from_spec(spec).expect("spec");
        for part in parts {
            learn(&mut one, part);
        }
        let mut base = Model::from_spec(spec).expect("spec");
        learn(&mut base, &parts[0]);
        let mut merged = base.clone();
        for part in &parts[1..] {
            let mut replica = base.clone();
            learn(&mut replica, part);
            merged.fold(&base, &replica, share).expect("folds");
        }
        (one, merged)
    }

    fn close(a: ndarray::ArrayView2<f64>, b: ndarray::ArrayView2<f64>, tol: f64) -> bool {
        a.dim() == b.dim() && a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() <= tol * (1.0 + x.abs().max(y.abs())))
    }

    /// Parts of a labelled stream; the last brings a class the others never had.
    fn parts(sizes: &[usize], seed: u64) -> Vec<(Array2<f64>, Array1<i64>)> {
        let mut stream = Blobs::new(3, 4, seed);
        let last = sizes.len() - 1;
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let (x, y) = stream.next_batch(n);
                let y = if i == last { y.mapv(|c| c + 7) } else { y };
                (x, y)
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Naive Bayes merges exactly: any split of the stream over replicas, new
        /// classes in a replica included, folds into the one-process model.
        #[test]
        fn naive_bayes_folds_into_the_one_process_model(
            sizes in proptest::collection::vec(1usize..60, 2..5),
            seed in 0u64..1000,
        ) {
            let parts = parts(&sizes, seed);
            let (one, merged) = one_and_merged("gaussian-nb", &parts, 1.0);
            let (one, merged) = (one.as_classifier().expect("valid"), merged.as_classifier().expect("valid"));
            prop_assert_eq!(one.classes(), merged.classes());
            let probe = &parts[parts.len() - 1].0;
            let (p1, p2) = (one.predict_proba(probe.view()).expect("valid").expect("valid"), merged.predict_proba(probe.view()).expect("valid").expect("valid"));
            prop_assert!(close(p1.view(), p2.view(), 1e-9), "{p1} vs {p2}");
            prop_assert_eq!(one.records_seen(), merged.records_seen());

            // Counts as features: multinomial naive Bayes adds them.
            let counts: Vec<_> = parts.iter().map(|(x, y)| (x.mapv(f64::abs), y.clone())).collect();
            let (one, merged) = one_and_merged("multinomial-nb", &counts, 1.0);
            let (one, merged) = (one.as_classifier().expect("valid"), merged.as_classifier().expect("valid"));
            let probe = counts[0].0.view();
            let (p1, p2) = (one.predict_proba(probe).expect("valid").expect("valid"), merged.predict_proba(probe).expect("valid").expect("valid"));
            prop_assert!(close(p1.view(), p2.view(), 1e-9), "{p1} vs {p2}");
        }

        /// The scaler merges exactly: its mean and variance are the one-process ones.
        #[test]
        fn the_scaler_folds_into_the_one_process_scaler(
            sizes in proptest::collection::vec(1usize..60, 2..5),
            seed in 0u64..1000,
        ) {
            let parts = parts(&sizes, seed);
            let (one, merged) = one_and_merged("scale | perceptron", &parts, 1.0);
            let (one, merged) = (one.as_classifier().expect("valid"), merged.as_classifier().expect("valid"));
            let probe = parts[0].0.view();
            let (z1, z2) = (one.transforms()[0].transform(probe).expect("valid"), merged.transforms()[0].transform(probe).expect("valid"));
            prop_assert!(close(z1.view(), z2.view(), 1e-9), "{z1} vs {z2}");
        }
    }

    /// k-means with one centre: the centre is the mean of every record learned, so
    /// the count-weighted merge gives it exactly.
    #[test]
    fn one_centre_merges_to_the_mean_of_all_records() {
        let mut stream = Blobs::new(2, 3, 5);
        let parts: Vec<_> = [200, 150, 90, 300].iter().map(|&n| stream.next_batch(n)).collect();
        let (one, merged) = one_and_merged("minibatch-kmeans(n_clusters=1, reassignment_ratio=0)", &parts, 1.0);
        let all: Vec<_> = parts.iter().map(|(x, _)| x.view()).collect();
        let mean =
            ndarray::concatenate(ndarray::Axis(0), &all).expect("valid").mean_axis(ndarray::Axis(0)).expect("valid");
        let centre = |m: &Model| m.as_clusterer().expect("valid").cluster_centers().expect("valid").row(0).to_owned();
        for c in [centre(&one), centre(&merged)] {
            assert!(close(c.view().insert_axis(ndarray::Axis(0)), mean.view().insert_axis(ndarray::Axis(0)), 1e-9));
        }
        assert_eq!(merged.as_clusterer().expect("valid").counts()[0], 740.0);
    }

    /// Parameter mixing, by hand: replicas that learned the same rows average to
    /// that one replica (shares 1/3 each); a replica that learned nothing changes
    /// nothing; a replica's new class reaches the shared model.
    #[test]
    fn linear_models_average_what_replicas_learned() {
        let mut stream = Hyperplane::new(4, 3);
        let (x0, y0) = stream.next_batch(100);
        let (x1, y1) = stream.next_batch(100);
        let mut base = Model::from_spec("sgd(loss=log)").expect("valid");
        let Model::Classifier(c) = &mut base else { unreachable!() };
        c.partial_fit(x0.view(), y0.view()).expect("valid");
        let mut replica = base.clone();
        let Model::Classifier(r) = &mut replica else { unreachable!() };
        r.partial_fit(x1.view(), y1.view()).expect("valid");
        let mut merged = base.clone();
        for _ in 0..3 {
            merged.fold(&base, &replica, 1.0 / 3.0).expect("valid");
        }
        let probe = x1.slice(s![..20, ..]);
        let scores = |m: &Model| m.as_classifier().expect("valid").predict_proba(probe).expect("valid").expect("valid");
        assert!(close(scores(&merged).view(), scores(&replica).view(), 1e-12));
        let mut unchanged = base.clone();
        unchanged.fold(&base, &base, 0.5).expect("valid");
        assert!(close(scores(&unchanged).view(), scores(&base).view(), 0.0));
        // A third class, met by one replica only.
        let mut grown = base.clone();
        let Model::Classifier(g) = &mut grown else { unreachable!() };
        g.partial_fit(x1.slice(s![..5, ..]), Array1::from_elem(5, 9).view()).expect("valid");
        let mut merged = base.clone();
        merged.fold(&base, &grown, 0.5).expect("valid");
        assert_eq!(merged.as_classifier().expect("valid").classes(), &[0, 1, 9]);
    }

    #[test]
    fn rules_name_what_cannot_be_merged() {
        let rule = |spec: &str| Model::from_spec(spec).expect("valid").merge_rule();
        assert_eq!(rule("gaussian-nb"), Ok(MergeRule::Exact));
        assert_eq!(rule("scale | gaussian-nb"), Ok(MergeRule::Approximate));
        assert_eq!(rule("scale | sgd"), Ok(MergeRule::Averaged));
        assert_eq!(rule("minibatch-kmeans"), Ok(MergeRule::CountWeighted));
        assert!(rule("minibatch-kmeans(decay_factor=0.5)").is_err());
        assert!(rule("gaussian-nb(halflife=100)").is_err());
        let arf = rule("scale | arf").expect_err("refused");
        assert!(arf.contains("arf cannot be merged"), "{arf}");
        let mixed = Model::from_spec("gaussian-nb").expect("valid").fold(
            &Model::from_spec("minibatch-kmeans").expect("valid"),
            &Model::from_spec("minibatch-kmeans").expect("valid"),
            1.0,
        );
        assert!(mixed.is_err());
    }
}
