//! `hedge`: an ensemble of classifiers under the weighted-majority (Hedge) vote, with
//! forgetting (Littlestone and Warmuth, 1994; Freund and Schapire, 1997).
//!
//! Every member (any classifier chain) learns every record. Each record is labelled
//! by the members' vote, member `i` weighing `exp(-L_i)`, where `L_i` counts its
//! prequential errors discounted by `decay` per record (`L_i <- decay L_i + error`).
//! Then every member learns the record, and the losses take its errors. Forgetting
//! lets the weight move back and forth: after a change the members that adapt fast
//! (large steps) make fewer errors and take over; in a stable stretch the slow,
//! precise ones win back. A ladder of learning rates thus selects the step size the
//! stream needs at each moment.
//!
//! Only differences of losses matter, so they are kept relative to the smallest
//! (which is 0): the best member weighs 1 and the weights never all underflow.

use super::registry::{self, AnyStage, BuildError, Context, Entry, Param, Role, MAX_MODELS};
use super::stage::ClassifierModel;
use super::{OnlineClassifier, NO_PREDICTION};
use crate::error::ModelError;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

/// The default members: logistic SGD at constant steps 0.002, 0.005 and River's 0.01,
/// and hinge SGD at 0.005, each behind its own running scaler (one scaler learns for
/// all four: see [`Hedge`]). On SEA the slow steps win in stable stretches and 0.01
/// after each change; on the rotating hyperplanes hinge at 0.005 often leads. Over ten
/// seeds of SEA and of both hyperplanes the four beat River's pipeline (logistic SGD at
/// 0.01 alone) on every seed; a fifth member, logistic SGD at 0.03, added 0.03 points
/// on SEA and nothing on the hyperplanes, for a quarter more time per record.
const DEFAULT_MODELS: &[&str] = &[
    "scale | sgd(loss=log_loss, alpha=0, learning_rate=constant, eta0=0.002)",
    "scale | sgd(loss=log_loss, alpha=0, learning_rate=constant, eta0=0.005)",
    "scale | sgd(loss=log_loss, alpha=0, learning_rate=constant)",
    "scale | sgd(alpha=0, learning_rate=constant, eta0=0.005)",
];

/// The default `decay`: a member's errors count for about the last 500 records
/// (`1 / (1 - decay)`). Measured on SEA and both hyperplanes over ten seeds, 0.998 and
/// 0.999 tie for the best mean margin and 0.998 has the better worst seed; 0.995 is
/// behind on every stream, 0.9995 on SEA.
const DEFAULT_DECAY: f64 = 0.998;

/// Parameters of [`Hedge`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HedgeParams {
    /// The members, each a classifier in the model language.
    pub models: Vec<String>,
    /// How much of a member's past errors each record keeps (1: no forgetting).
    pub decay: f64,
}

impl Default for HedgeParams {
    fn default() -> Self {
        Self { models: DEFAULT_MODELS.iter().map(|s| s.to_string()).collect(), decay: DEFAULT_DECAY }
    }
}

/// The weighted-majority vote with discounted losses, apart from any model: what
/// [`Hedge`] does with its members' predictions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WeightedMajority {
    decay: f64,
    /// Each member's discounted errors, minus the smallest.
    losses: Vec<f64>,
    /// `exp(-loss)` of each member, once computed for the current losses (most
    /// records need none: when the members agree there is nothing to weigh).
    #[serde(skip)]
    weights: Vec<f64>,
    #[serde(skip)]
    weights_fresh: bool,
    /// Class totals of one vote, reused.
    #[serde(skip)]
    tally: Vec<(i64, f64)>,
}

impl WeightedMajority {
    /// `members` experts, no errors yet, each record keeping `decay` of the past errors.
    pub fn new(members: usize, decay: f64) -> Self {
        Self { decay, losses: vec![0.0; members], weights: Vec::new(), weights_fresh: false, tally: Vec::new() }
    }

    /// The label the weighted majority gives when the members predict `predictions`
    /// (one per member; [`NO_PREDICTION`] abstains). A tie goes to the smallest label;
    /// [`NO_PREDICTION`] when every member abstains.
    pub fn vote(&mut self, predictions: &[i64]) -> i64 {
        let mut voters = predictions.iter().copied().filter(|&p| p != NO_PREDICTION);
        let Some(first) = voters.next() else { return NO_PREDICTION };
        if voters.all(|p| p == first) {
            return first;
        }
        if !self.weights_fresh {
            self.weights.clear();
            self.weights.extend(self.losses.iter().map(|l| (-l).exp()));
            self.weights_fresh = true;
        }
        self.tally.clear();
        for (&p, &w) in predictions.iter().zip(&self.weights) {
            if p == NO_PREDICTION {
                continue;
            }
            match self.tally.iter_mut().find(|(label, _)| *label == p) {
                Some((_, total)) => *total += w,
                None => self.tally.push((p, w)),
            }
        }
        let mut best = (first, f64::NEG_INFINITY);
        for &(label, total) in &self.tally {
            if total > best.1 || (total == best.1 && label < best.0) {
                best = (label, total);
            }
        }
        best.0
    }

    /// Discount every loss by `decay` and add each member's error on `truth` (an
    /// abstention is an error), then subtract the smallest loss.
    pub fn update(&mut self, predictions: &[i64], truth: i64) {
        let mut least = f64::INFINITY;
        for (l, &p) in self.losses.iter_mut().zip(predictions) {
            *l = self.decay * *l + if p == truth { 0.0 } else { 1.0 };
            least = least.min(*l);
        }
        for l in &mut self.losses {
            *l -= least;
        }
        self.weights_fresh = false;
    }

    /// Each member's discounted errors minus the smallest (the best member's is 0).
    pub fn losses(&self) -> &[f64] {
        &self.losses
    }

    /// Each member's share of the vote: `exp(-loss)`, normalised to sum to 1.
    pub fn weights(&self) -> Vec<f64> {
        let raw: Vec<f64> = self.losses.iter().map(|l| (-l).exp()).collect();
        let total: f64 = raw.iter().sum();
        raw.iter().map(|w| w / total).collect()
    }

    /// The discount per record.
    pub fn decay(&self) -> f64 {
        self.decay
    }

    fn check_state(&self) -> Result<(), String> {
        use super::validate::state::ensure;
        ensure((0.0..=1.0).contains(&self.decay), || format!("decay {} is not in [0, 1]", self.decay))?;
        ensure(self.losses.iter().all(|l| l.is_finite() && *l >= 0.0), || {
            format!("the losses {:?} are not finite numbers >= 0", self.losses)
        })?;
        // Relative to the smallest, so the best member weighs 1 and the vote has weight.
        let least = self.losses.iter().copied().fold(f64::INFINITY, f64::min);
        ensure(self.losses.is_empty() || least == 0.0, || format!("the smallest loss is {least}, not 0"))
    }
}

/// An ensemble of classifiers under the weighted-majority vote with forgetting. See
/// the module documentation.
///
/// Members whose transformers are equal (the default's four scalers) share them: one
/// learns each batch and the others take its result, which is what each would have
/// computed, so the ensemble pays for one scaler.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hedge {
    members: Vec<ClassifierModel>,
    /// For each member, the first member whose transformers are equal to its own (in
    /// parameters and state): those learn every batch alike, so one learns it for all.
    /// Found again after decoding.
    #[serde(skip)]
    fronts: Vec<usize>,
    vote: WeightedMajority,
    /// Features, once known.
    n_features: Option<usize>,
    records: u64,
}

impl Hedge {
    /// An ensemble of `members` (untrained, sharing their classes) under a vote whose
    /// losses keep `decay` of the past per record.
    pub fn new(members: Vec<ClassifierModel>, decay: f64) -> Self {
        let vote = WeightedMajority::new(members.len(), decay);
        let fronts = shared_fronts(&members);
        Self { members, fronts, vote, n_features: None, records: 0 }
    }

    /// The parameters, as the spec writes them.
    pub fn get_params(&self) -> HedgeParams {
        HedgeParams { models: self.members.iter().map(ClassifierModel::spec).collect(), decay: self.vote.decay }
    }

    /// Take more features (see [`crate::model::Stage::grow`]): every member grows.
    pub(crate) fn grow(&mut self, n_features: usize) -> Result<(), String> {
        for m in &mut self.members {
            m.grow(n_features)?;
        }
        if self.n_features.is_some() {
            self.n_features = Some(n_features);
        }
        Ok(())
    }

    /// The members, in the order of the spec.
    pub fn members(&self) -> &[ClassifierModel] {
        &self.members
    }

    /// The vote: each member's relative loss and weight.
    pub fn vote(&self) -> &WeightedMajority {
        &self.vote
    }

    /// Each member's current share of the vote (sums to 1).
    pub fn weights(&self) -> Vec<f64> {
        self.vote.weights()
    }

    /// Every member's predictions for `x`, member by member.
    fn member_predictions(&self, x: ArrayView2<f64>) -> Result<Vec<Array1<i64>>, ModelError> {
        self.members.iter().map(|m| m.predict(x)).collect()
    }

    pub(crate) fn check_state(&self) -> Result<(), String> {
        use super::validate::state::ensure;
        let m = self.members.len();
        ensure((1..=MAX_MODELS).contains(&m), || format!("{m} members, not 1 to {MAX_MODELS}"))?;
        ensure(self.vote.losses.len() == m, || format!("{} losses for {m} members", self.vote.losses.len()))?;
        self.vote.check_state()?;
        ensure(self.n_features != Some(0), || "zero features".into())?;
        let classes = self.members[0].classes();
        for member in &self.members {
            ensure(member.classes() == classes, || {
                format!("the members know different classes: {classes:?} and {:?}", member.classes())
            })?;
            let width = member.n_features();
            ensure(width.is_none() || width == self.n_features, || {
                format!("a member takes {width:?} features, the ensemble {:?}", self.n_features)
            })?;
        }
        Ok(())
    }

    pub(crate) fn state_is_finite(&self) -> bool {
        self.members.iter().all(ClassifierModel::state_is_finite) && self.vote.losses.iter().all(|l| l.is_finite())
    }
}

impl OnlineClassifier for Hedge {
    fn partial_fit(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
        self.learn_predict(x, y).map(drop)
    }

    fn predict(&self, x: ArrayView2<f64>) -> Result<Array1<i64>, ModelError> {
        let predictions = self.member_predictions(x)?;
        let mut vote = self.vote.clone();
        let mut row = vec![0; predictions.len()];
        Ok((0..x.nrows())
            .map(|r| {
                for (p, member) in row.iter_mut().zip(&predictions) {
                    *p = member[r];
                }
                vote.vote(&row)
            })
            .collect())
    }

    /// The vote's shares: each class's total weight over all the members' weights
    /// (members that abstain count for no class).
    fn predict_proba(&self, x: ArrayView2<f64>) -> Result<Option<Array2<f64>>, ModelError> {
        let predictions = self.member_predictions(x)?;
        let classes = self.classes();
        let weights = self.vote.weights();
        let mut proba = Array2::zeros((x.nrows(), classes.len()));
        for (member, &w) in predictions.iter().zip(&weights) {
            for (r, &label) in member.iter().enumerate() {
                if let Ok(c) = classes.binary_search(&label) {
                    proba[[r, c]] += w;
                }
            }
        }
        Ok(Some(proba))
    }

    /// Each member learns the batch through its own `learn_predict` (predict each row,
    /// then learn it: the members do not depend on the vote); the vote then walks the
    /// rows, labelling each with the weights of the rows before it and updating them.
    /// The members learn into copies, kept only when every member accepts the batch.
    fn learn_predict(&mut self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<Array1<i64>, ModelError> {
        if self.fronts.len() != self.members.len() {
            self.fronts = shared_fronts(&self.members);
        }
        // Every member checks the batch as it learns it.
        let mut learned: Vec<Option<super::stage::Learned>> = (0..self.members.len()).map(|_| None).collect();
        let mut predictions = Vec::with_capacity(self.members.len());
        let mut members = self.members.clone();
        for (member, &j) in members.iter_mut().zip(&self.fronts) {
            let (front, z) = match &mut learned[j] {
                Some(done) => &*done,
                empty @ None => &*empty.insert(self.members[j].learn_front(x)?),
            };
            predictions.push(member.learn_predict_behind(front.clone(), z.as_ref(), x, y)?);
        }
        let mut labels = Array1::from_elem(x.nrows(), NO_PREDICTION);
        let mut row = vec![0; predictions.len()];
        for (r, (label, &truth)) in labels.iter_mut().zip(y.iter()).enumerate() {
            for (p, member) in row.iter_mut().zip(&predictions) {
                *p = member[r];
            }
            *label = self.vote.vote(&row);
            self.vote.update(&row, truth);
        }
        self.members = members;
        if x.nrows() > 0 {
            self.n_features = Some(x.ncols());
        }
        self.records = self.records.saturating_add(x.nrows() as u64);
        Ok(labels)
    }

    fn classes(&self) -> &[i64] {
        // Members share the class set (checked when decoded); there is always one.
        self.members.first().map_or(&[], |m| m.classes())
    }

    fn n_features(&self) -> Option<usize> {
        self.n_features
    }

    fn records_seen(&self) -> u64 {
        self.records
    }

    fn validate(&self, x: ArrayView2<f64>, y: ArrayView1<i64>) -> Result<(), ModelError> {
        super::validate::features(x, self.n_features)?;
        self.members.iter().try_for_each(|m| m.validate(x, y))
    }
}

/// For each member, the first member (itself, or one before it) whose transformers equal
/// its own: same kinds, parameters and state, compared as serialised.
fn shared_fronts(members: &[ClassifierModel]) -> Vec<usize> {
    let fronts: Vec<Option<serde_json::Value>> =
        members.iter().map(|m| serde_json::to_value(m.transforms()).ok()).collect();
    (0..members.len())
        .map(|i| match &fronts[i] {
            Some(front) => (0..i).find(|&j| fronts[j].as_ref() == Some(front)).unwrap_or(i),
            None => i,
        })
        .collect()
}

const PARAMS: &[Param] = &[
    Param::models(
        "models",
        Role::Classifier,
        "the members, each any classifier chain; all learn every record (default: logistic SGD at constant \
         steps 0.002, 0.005, 0.01 and hinge SGD at 0.005, each behind a scaler)",
    ),
    Param::float(
        "decay",
        0.0,
        false,
        1.0,
        "each record keeps this share of a member's past errors (0.998: about the last 500 records; 1: no forgetting)",
    ),
];

fn build(json: serde_json::Value, ctx: &Context) -> Result<AnyStage, BuildError> {
    let p: HedgeParams = registry::params_from(json)?;
    let mut members = Vec::with_capacity(p.models.len());
    for (i, spec) in p.models.iter().enumerate() {
        let invalid = |e: crate::spec::SpecError| BuildError::Nested(format!("models[{i}]: {}", e.message));
        match registry::build_text(spec, ctx).map_err(invalid)?.1 {
            super::Model::Classifier(m) => members.push(m),
            super::Model::Clusterer(_) => {
                return Err(BuildError::Nested(format!("models[{i}]: a clusterer: it must be a classifier")))
            }
        }
    }
    if members.is_empty() || members.len() > MAX_MODELS {
        return Err(BuildError::Nested(format!("models: {} members, not 1 to {MAX_MODELS}", members.len())));
    }
    if !(0.0..=1.0).contains(&p.decay) {
        return Err(BuildError::Nested(format!("decay {} is not in [0, 1]", p.decay)));
    }
    Ok(AnyStage::Classifier(Box::new(Hedge::new(members, p.decay))))
}

/// The registry's entry for `hedge`.
pub static HEDGE: Entry = Entry {
    name: "hedge",
    role: Role::Classifier,
    summary:
        "weighted-majority vote of classifiers that all learn every record, weights exp(-discounted errors) (Hedge)",
    params: PARAMS,
    takes_counts: false,
    outputs_negative: false,
    defaults: registry::defaults_of::<HedgeParams>,
    build,
    decode: registry::decode_classifier::<Hedge>,
};
super::stage::impl_stage!(Hedge, HEDGE);
/// Not mergeable: its weights follow each replica's own mistakes.
impl super::merge::Merge for Hedge {}
