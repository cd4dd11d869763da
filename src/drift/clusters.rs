//! Cluster-level drift: events naming the cluster whose centre moved, whose records
//! vanished, or which captured a new mass of records.
//!
//! A [`ClusterWatch`] is fed once per learned batch, after the clusterer learned it,
//! with the batch, the centre each row was assigned to and the centres as they now
//! stand. It cuts the stream into windows of [`ClusterWatchParams::window`] records
//! and keeps, per cluster, its share of the window's records, its spread (the RMS
//! distance of its members to its centre) and its centre at the window's start. At
//! the end of each window it compares the window with the one before:
//!
//! - **moved**: the centre moved more than `moved` x the cluster's spread (that of the
//!   window before) since the window started. Only a cluster present in both windows,
//!   with at least [`MIN_MEMBERS`] members in the one before, is judged; a spread of 0
//!   is floored at a billionth of the centre's size, so rounding is not a move;
//! - **vanished**: a present cluster gets less than the `vanished` share;
//! - **appeared**: a cluster that is not present (it vanished, or never reached the
//!   `vanished` share), or one reassigned since (its centre jumped while it had almost
//!   no member), captures at least `appeared` of the records.
//!
//! A cluster is *present* when it held at least the `vanished` share of the first
//! window, or since it appeared. It vanishes once, and must appear (reach `appeared`,
//! above `vanished`) before it can vanish again: a cluster hovering at the line does
//! not flap. The first window only sets who is present: no event comes before the
//! end of the second.
//!
//! **Which record an event names**: the last record of the window at whose end it is
//! found. Windows count the rows with a valid label; the centres are seen once per
//! batch, so a window that ends inside a batch is compared with the centres after
//! that batch.
//!
//! **Reassignment** (mini-batch k-means moves a starved centre to a random row): a
//! centre that moved more than `moved` x spread in a batch in which it had less than
//! the `vanished` share of the rows *jumped*. The jump is put at the batch's end (the
//! labels are assignments from before the update). From then on the cluster counts as
//! new: if it was present its old mass vanished (reported at the window's end), and it
//! appears when the records it captures from the jump on are at least `appeared` of
//! the records since the jump (judged once at least half a window has passed).
//!
//! Cost per batch: O(n d + k d) with `n` rows, `k` centres and `d` features (labels
//! are given: no nearest-centre search). Memory: O(k d).
//!
//! ```
//! use eddy::drift::{ClusterEventKind, ClusterWatch, ClusterWatchParams};
//! use ndarray::{array, Array2};
//!
//! let mut watch = ClusterWatch::new(ClusterWatchParams::from_spec_text("clusters(window=20)")?)?;
//! // 10 records of cluster 0 at x = 0, then 10 of cluster 1 at x = b, 0.1 off the axis.
//! let rows = |b: f64| Array2::from_shape_fn((20, 2), |(i, j)| match j {
//!     0 => if i < 10 { 0.0 } else { b },
//!     _ => if i % 2 == 0 { 0.1 } else { -0.1 },
//! });
//! let labels: Vec<i64> = (0..20).map(|i| i64::from(i >= 10)).collect();
//! let ids: Vec<u64> = (0..20).collect();
//! let centres = array![[0.0, 0.0], [5.0, 0.0]];
//! assert!(watch.observe(&ids, rows(5.0).view(), &labels, centres.view())?.is_empty());
//! // Cluster 1's records, and the clusterer's centre, are now at x = 9: 40 spreads on.
//! let ids: Vec<u64> = (20..40).collect();
//! let centres = array![[0.0, 0.0], [9.0, 0.0]];
//! let events = watch.observe(&ids, rows(9.0).view(), &labels, centres.view())?;
//! assert_eq!(events.len(), 1);
//! assert_eq!((events[0].record, events[0].cluster, events[0].kind), (39, 1, ClusterEventKind::Moved));
//! assert_eq!(events[0].distance, Some(4.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::{ClusterWatchError, DriftParamsError};
use crate::model::registry::check_args;
use crate::model::registry::{did_you_mean, json_as_spec, Param};
use crate::model::sq_dist;
use crate::spec::{SpecError, Value};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

/// The fewest members a cluster needs in a window for its spread to be trusted:
/// a centre followed by fewer records is not judged for `moved` in the next window.
pub const MIN_MEMBERS: u64 = 10;

/// The longest window: 2^53 records, where f64 shares stop being exact.
pub const MAX_WINDOW: u64 = 1 << 53;

/// A spread below this share of the centre's size is rounding, not spread: with a
/// spread of 0 (every member on its centre) a centre that rounds by one ulp would
/// otherwise have "moved".
const SPREAD_FLOOR: f64 = 1e-9;

/// The name of the watch in the spec language.
pub const SPEC_NAME: &str = "clusters";

static PARAMS: [Param; 4] = [
    Param::int("window", 1, "records per window: shares, spreads and centres are compared window to window"),
    Param::float(
        "moved",
        0.0,
        true,
        f64::INFINITY,
        "a centre that moves more than this many spreads (RMS distance of its members) within a window has moved",
    ),
    Param::float("vanished", 0.0, true, 0.5, "a cluster with less than this share of a window's records has vanished"),
    Param::float(
        "appeared",
        0.0,
        true,
        1.0,
        "a vanished or reassigned cluster that captures this share of a window's records has appeared \
         (auto: a quarter of an even share, 0.25/k, and at least twice vanished)",
    ),
];

/// The parameters of a [`ClusterWatch`], written `clusters(window=10000, moved=3,
/// vanished=0.01, appeared=auto)` in the spec language.
///
/// The defaults:
/// - `window = 10000`: at an even share each of 8 clusters has 1,250 records in a
///   window, so shares and spreads are measured to a few percent; yet a change is
///   seen within 10,000 to 20,000 records.
/// - `moved = 3`: on a stationary stream a centre moves by about its spread over the
///   square root of its members per window (a few hundredths); three spreads is
///   beyond almost all of a compact cluster's members, so its old records are no
///   longer near it.
/// - `vanished = 0.01`: below one record in a hundred. An even share is above it up
///   to 50 clusters (with more, lower it: a cluster that never reaches it is never
///   present and cannot vanish).
/// - `appeared = auto`: a quarter of an even share, `0.25 / k`, so it scales with the
///   number of centres, and at least `2 x vanished`, so a cluster hovering at the
///   vanished line cannot flap between vanishing and appearing. Not half an even
///   share: a reassigned k-means centre that lands in a busy cluster takes about half
///   of it, `0.5 / k`, and a threshold there would let noise decide.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterWatchParams {
    /// Records per window (from 1 to [`MAX_WINDOW`]). Shares and spreads are measured
    /// per window, and centres compared between the windows' ends. The centres are
    /// seen once per batch, so keep it at several batches: two windows ending in one
    /// batch see the same centres.
    pub window: u64,
    /// A present cluster whose centre moves more than this many spreads within a
    /// window has moved (> 0).
    pub moved: f64,
    /// A present cluster with less than this share of a window's records has vanished
    /// (> 0 and <= 0.5).
    pub vanished: f64,
    /// The share of a window's records a vanished (or reassigned) cluster must capture
    /// to appear (> `vanished` and <= 1). `None`: [`ClusterWatchParams::appeared_for`]'s
    /// `max(0.25 / k, 2 x vanished)`.
    pub appeared: Option<f64>,
}

impl Default for ClusterWatchParams {
    fn default() -> Self {
        Self { window: 10_000, moved: 3.0, vanished: 0.01, appeared: None }
    }
}

impl ClusterWatchParams {
    /// Check every rule.
    pub fn check(&self) -> Result<(), DriftParamsError> {
        let out = |param, rule, value: f64| Err(DriftParamsError::OutOfRange { param, rule, value });
        if !(1..=MAX_WINDOW).contains(&self.window) {
            return out("window", "a whole number >= 1 and <= 2^53", self.window as f64);
        }
        if !(self.moved > 0.0 && self.moved.is_finite()) {
            return out("moved", "a finite number > 0", self.moved);
        }
        if !(self.vanished > 0.0 && self.vanished <= 0.5) {
            return out("vanished", "a number > 0 and <= 0.5", self.vanished);
        }
        match self.appeared {
            Some(a) if !(a > self.vanished && a <= 1.0) => out("appeared", "a number > vanished and <= 1", a),
            _ => Ok(()),
        }
    }

    /// The share a cluster must capture to appear, with `k` centres.
    pub fn appeared_for(&self, k: usize) -> f64 {
        self.appeared.unwrap_or_else(|| (0.25 / k.max(1) as f64).max(2.0 * self.vanished).min(1.0))
    }

    /// Read `clusters(window=10000, moved=3, vanished=0.01, appeared=auto)`: every
    /// parameter is optional, none may repeat; `appeared` takes a number or `auto`.
    pub fn from_spec_text(text: &str) -> Result<Self, SpecError> {
        let spec = crate::spec::parse(text)?;
        if spec.label.is_some() {
            return Err(SpecError::new(text, 0, "a cluster watch takes no label: write clusters(...)"));
        }
        let Some(stage) = spec.stages.first() else {
            return Err(SpecError::new(text, 0, "an empty cluster watch spec"));
        };
        if let Some(second) = spec.stages.get(1) {
            return Err(SpecError::new(
                text,
                second.at,
                "a cluster watch is one clusters(...): `|` joins model stages",
            ));
        }
        if stage.name != SPEC_NAME {
            return Err(SpecError::new(text, stage.at, format!("expected {SPEC_NAME}(...), found {:?}", stage.name)));
        }
        let mut p = Self::default();
        let hint = |name: &str| {
            let all: Vec<&str> = PARAMS.iter().map(|p| p.name).collect();
            did_you_mean(name, all.clone(), &all)
        };
        // `appeared` also takes `auto` (the default, spelled out), read as JSON null.
        let auto = |param: &Param, value: &Value| {
            (param.name == "appeared").then(|| match value {
                Value::Name(n) | Value::Str(n) if n == "auto" => Ok(serde_json::Value::Null),
                _ => param.check(SPEC_NAME, value).map_err(|m| format!("{m} (or auto)")),
            })
        };
        let args = check_args(text, SPEC_NAME, stage, &PARAMS, hint, auto)?;
        for (param, json) in args {
            let number = json.as_f64().unwrap_or(f64::NAN);
            match param.name {
                "window" => p.window = json.as_u64().unwrap_or(0),
                "moved" => p.moved = number,
                "vanished" => p.vanished = number,
                _ => p.appeared = json.as_f64(),
            }
        }
        p.check().map_err(|e| {
            let at = match &e {
                DriftParamsError::OutOfRange { param, .. } => {
                    stage.args.iter().find(|a| a.name == *param).map_or(stage.at, |a| a.at)
                }
                _ => stage.at,
            };
            SpecError::new(text, at, format!("{SPEC_NAME}: {e}"))
        })?;
        Ok(p)
    }

    /// The canonical text: `clusters` and every parameter that differs from its
    /// default, in the order window, moved, vanished, appeared. It reads back as the
    /// same parameters.
    pub fn to_spec(&self) -> String {
        let d = Self::default();
        let mut args = Vec::new();
        if self.window != d.window {
            args.push(format!("window={}", self.window));
        }
        for (name, v, default) in [("moved", self.moved, d.moved), ("vanished", self.vanished, d.vanished)] {
            if v.to_bits() != default.to_bits() {
                args.push(format!("{name}={}", json_as_spec(&serde_json::json!(v))));
            }
        }
        if let Some(a) = self.appeared {
            args.push(format!("appeared={}", json_as_spec(&serde_json::json!(a))));
        }
        if args.is_empty() {
            SPEC_NAME.into()
        } else {
            format!("{SPEC_NAME}({})", args.join(", "))
        }
    }

    /// Every parameter with its default, what it does and the values it takes: for help texts.
    pub fn describe() -> String {
        let d = Self::default();
        let defaults =
            [d.window.to_string(), json_as_spec(&serde_json::json!(d.moved)), d.vanished.to_string(), "auto".into()];
        let mut out = format!("{SPEC_NAME}: cluster-level drift (moved, vanished, appeared), per window of records\n");
        for (p, default) in PARAMS.iter().zip(defaults) {
            let allowed = if p.name == "appeared" { format!("{} (or auto)", p.allowed()) } else { p.allowed() };
            out.push_str(&format!("  {:<10} = {:<6} {}; {allowed}\n", p.name, default, p.doc));
        }
        out
    }
}

/// What a [`ClusterEvent`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterEventKind {
    /// The cluster's centre moved more than `moved` spreads within a window.
    Moved,
    /// The cluster's share of the records fell below `vanished`.
    Vanished,
    /// A vanished or reassigned cluster captured at least `appeared` of the records.
    Appeared,
}

/// One cluster-level change.
///
/// `record` is the id of the last record of the window at whose end the change was
/// found. Shares are of a window's records with a valid label:
///
/// | kind | `share_before` | `share_after` | `distance` | `spread` |
/// |---|---|---|---|---|
/// | moved | previous window | this window | how far the centre moved in this window | previous window's, which it was compared with |
/// | vanished | previous window | this window (after a reassignment: of the batch it jumped in) | `None` | of the mass that vanished (previous window's), `None` with no member |
/// | appeared | previous window (after a reassignment: of the batch it jumped in) | this window (after a reassignment: of the records since the jump) | `None` | of the new mass (this window's) |
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClusterEvent {
    /// The id of the record that ended the window.
    pub record: u64,
    /// The cluster (the label the clusterer gives its records).
    pub cluster: i64,
    /// Moved, vanished or appeared.
    pub kind: ClusterEventKind,
    /// The cluster's share of the records before the change.
    pub share_before: f64,
    /// Its share after.
    pub share_after: f64,
    /// For `moved`: the distance the centre moved within the window.
    pub distance: Option<f64>,
    /// The RMS distance of the cluster's members to its centre (see the table).
    pub spread: Option<f64>,
}

/// Events found so far, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterEventCounts {
    /// `moved` events.
    pub moved: u64,
    /// `vanished` events.
    pub vanished: u64,
    /// `appeared` events.
    pub appeared: u64,
}

/// A vanish found when a present cluster jumped, reported at the window's end.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PendingVanish {
    share_before: f64,
    share_after: f64,
    spread: Option<f64>,
}

/// What the watch keeps of one cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cluster {
    /// Members in the current window (since the jump, after one).
    members: u64,
    /// Their summed squared distances to the centre.
    sum_sq: f64,
    /// Records of the current window that came before the centre's jump (0 without one).
    before_jump: u64,
    /// Share, spread and members of the previous window.
    prev_share: f64,
    prev_spread: f64,
    prev_members: u64,
    /// Above the vanished line, and not vanished since.
    present: bool,
    /// A vanish found at a jump, for the window's end.
    pending: Option<PendingVanish>,
}

/// Cluster-level drift events for any clusterer (see the [module](self)).
///
/// It is saved in checkpoints; a decoded one is checked before it is used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "WatchParts")]
pub struct ClusterWatch {
    params: ClusterWatchParams,
    /// Centres and features, fixed by the first batch.
    shape: Option<(usize, usize)>,
    clusters: Vec<Cluster>,
    /// Centres at the current window's start (after a jump: where the centre landed), k x d.
    start: Vec<f64>,
    /// Centres after the previous batch, k x d: a jump is measured from them.
    last: Vec<f64>,
    /// Rows counted in the current window.
    in_window: u64,
    /// Windows closed.
    windows: u64,
    /// RMS distance of every member to its centre over the previous window (0 before one).
    pooled_spread: f64,
    counts: ClusterEventCounts,
}

/// A watch as decoded, before it is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchParts {
    params: ClusterWatchParams,
    shape: Option<(usize, usize)>,
    clusters: Vec<Cluster>,
    start: Vec<f64>,
    last: Vec<f64>,
    in_window: u64,
    windows: u64,
    pooled_spread: f64,
    counts: ClusterEventCounts,
}

impl TryFrom<WatchParts> for ClusterWatch {
    type Error = String;
    fn try_from(p: WatchParts) -> Result<Self, String> {
        p.params.check().map_err(|e| format!("a cluster watch's parameters: {e}"))?;
        let a_share = |s: f64| (0.0..=1.0).contains(&s);
        let finite_spread = |s: f64| s.is_finite() && s >= 0.0;
        let cells = match p.shape {
            None => 0,
            Some((k, d)) => {
                if !(1..=crate::model::MAX_CLUSTERS).contains(&k) || d == 0 {
                    return Err(format!("a cluster watch of {k} centres of {d} features"));
                }
                k.checked_mul(d).ok_or("a cluster watch too large to hold")?
            }
        };
        let k = p.shape.map_or(0, |(k, _)| k);
        if p.clusters.len() != k || p.start.len() != cells || p.last.len() != cells {
            return Err(format!(
                "a cluster watch of {k} centres holding {} clusters and {} and {} centre values",
                p.clusters.len(),
                p.start.len(),
                p.last.len()
            ));
        }
        if p.in_window >= p.params.window || (p.shape.is_none() && (p.in_window > 0 || p.windows > 0)) {
            return Err(format!("a cluster watch {} records into a window of {}", p.in_window, p.params.window));
        }
        if p.start.iter().chain(&p.last).any(|v| !v.is_finite()) || !finite_spread(p.pooled_spread) {
            return Err("a cluster watch holding a number that is not finite".into());
        }
        let mut members = 0u64;
        for (c, s) in p.clusters.iter().enumerate() {
            let pending_ok = s.pending.is_none_or(|v| {
                a_share(v.share_before) && a_share(v.share_after) && v.spread.is_none_or(finite_spread)
            });
            let fits = s.before_jump <= p.in_window
                && s.members <= p.in_window - s.before_jump
                && finite_spread(s.sum_sq)
                && a_share(s.prev_share)
                && finite_spread(s.prev_spread)
                && s.prev_members <= p.params.window
                && pending_ok;
            if !fits {
                return Err(format!("cluster {c} of a cluster watch: counts, shares or spreads that do not fit"));
            }
            members = members.saturating_add(s.members);
        }
        if members > p.in_window {
            return Err(format!("a cluster watch with {members} members in a window of {} records", p.in_window));
        }
        Ok(Self {
            params: p.params,
            shape: p.shape,
            clusters: p.clusters,
            start: p.start,
            last: p.last,
            in_window: p.in_window,
            windows: p.windows,
            pooled_spread: p.pooled_spread,
            counts: p.counts,
        })
    }
}

/// The cluster of a label, if it names one of `k`.
fn cluster_of(label: i64, k: usize) -> Option<usize> {
    usize::try_from(label).ok().filter(|&c| c < k)
}

/// `spread`, but never below rounding at the scale of `centre`.
fn floored(spread: f64, centre: &[f64]) -> f64 {
    let size = centre.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    spread.max(SPREAD_FLOOR * (1.0 + size))
}

impl ClusterWatch {
    /// A watch with checked parameters; it learns the number of centres and features
    /// from its first batch.
    pub fn new(params: ClusterWatchParams) -> Result<Self, DriftParamsError> {
        params.check()?;
        Ok(Self {
            params,
            shape: None,
            clusters: Vec::new(),
            start: Vec::new(),
            last: Vec::new(),
            in_window: 0,
            windows: 0,
            pooled_spread: 0.0,
            counts: ClusterEventCounts::default(),
        })
    }

    /// The parameters.
    pub fn params(&self) -> &ClusterWatchParams {
        &self.params
    }

    /// Events found so far, by kind.
    pub fn counts(&self) -> ClusterEventCounts {
        self.counts
    }

    /// Windows closed so far.
    pub fn windows(&self) -> u64 {
        self.windows
    }

    /// Centres and features followed, once the first batch fixed them.
    pub fn shape(&self) -> Option<(usize, usize)> {
        self.shape
    }

    /// Take one learned batch: the record ids of its rows, the rows, the centre each
    /// row was assigned to (as the clusterer labelled it) and the centres after the
    /// clusterer learned the batch, in the same units as the rows. Returns the events
    /// of every window that ended in the batch, in order.
    ///
    /// A label that names no centre (negative, or `k` and above) is skipped: the row
    /// counts for no cluster and not towards the window. The number of centres and
    /// features is fixed by the first batch; another later, rows and centres of
    /// different widths, lengths that differ or values that are not finite are refused
    /// with a [`ClusterWatchError`], and the watch is unchanged.
    pub fn observe(
        &mut self,
        ids: &[u64],
        x: ArrayView2<f64>,
        labels: &[i64],
        centers: ArrayView2<f64>,
    ) -> Result<Vec<ClusterEvent>, ClusterWatchError> {
        let (n, d) = x.dim();
        let (k, cd) = centers.dim();
        if ids.len() != n || labels.len() != n {
            return Err(ClusterWatchError::Lengths { rows: n, ids: ids.len(), labels: labels.len() });
        }
        if k == 0 || cd == 0 {
            return Err(ClusterWatchError::NoCentres { k, d: cd });
        }
        if let Some((wk, wd)) = self.shape.filter(|&shape| shape != (k, cd)) {
            return Err(ClusterWatchError::Shape { k: wk, d: wd, got_k: k, got_d: cd });
        }
        if d != cd {
            return Err(ClusterWatchError::Width { x: d, centres: cd });
        }
        first_not_finite(centers, "the centres'")?;
        first_not_finite(x, "the batch's")?;
        if n == 0 {
            return Ok(Vec::new());
        }
        if self.shape.is_none() {
            self.shape = Some((k, d));
            self.clusters = vec![Cluster::default(); k];
            self.start = centers.iter().copied().collect();
            self.last = self.start.clone();
        }
        let now: Vec<f64> = centers.iter().copied().collect();

        // A centre that jumped while starved was reassigned: measure that before the rows.
        let mut batch_members = vec![0u64; k];
        let mut labelled = 0u64;
        for c in labels.iter().filter_map(|&l| cluster_of(l, k)) {
            batch_members[c] += 1;
            labelled += 1;
        }
        let batch_share = |c: usize| batch_members[c] as f64 / labelled.max(1) as f64;
        let jumped: Vec<bool> = (0..k)
            .map(|c| {
                let (before, after) = (&self.last[c * d..(c + 1) * d], &now[c * d..(c + 1) * d]);
                batch_share(c) < self.params.vanished
                    && sq_dist(before, after).sqrt() > self.params.moved * self.jump_basis(c, before)
            })
            .collect();

        // The rows, closing windows on the way. A jumped centre still stands where it
        // was for this batch's rows: its jump is at the batch's end.
        let mut events = Vec::new();
        for ((&id, &label), row) in ids.iter().zip(labels).zip(x.outer_iter()) {
            let Some(c) = cluster_of(label, k) else { continue };
            let centre = if jumped[c] { &self.last[c * d..(c + 1) * d] } else { &now[c * d..(c + 1) * d] };
            let dist = sq_dist(row.iter(), centre);
            let s = &mut self.clusters[c];
            s.members += 1;
            s.sum_sq += dist;
            self.in_window += 1;
            if self.in_window == self.params.window {
                self.close_window(id, &now, &jumped, &mut events);
            }
        }

        for c in (0..k).filter(|&c| jumped[c]) {
            let share = batch_share(c);
            let s = &mut self.clusters[c];
            if s.present && s.pending.is_none() {
                let spread = (s.prev_members > 0).then_some(s.prev_spread);
                s.pending = Some(PendingVanish { share_before: s.prev_share, share_after: share, spread });
            }
            // From here on a new cluster in the same slot, starved so far.
            *s = Cluster { before_jump: self.in_window, prev_share: share, pending: s.pending, ..Cluster::default() };
            self.start[c * d..(c + 1) * d].copy_from_slice(&now[c * d..(c + 1) * d]);
        }
        self.last = now;
        Ok(events)
    }

    /// What a jump of cluster `c` is measured against: its own spread when it had
    /// members enough, otherwise the typical spread of all clusters.
    fn jump_basis(&self, c: usize, centre: &[f64]) -> f64 {
        let s = &self.clusters[c];
        let spread = if s.prev_members >= MIN_MEMBERS && s.prev_spread > 0.0 {
            s.prev_spread
        } else if self.pooled_spread > 0.0 {
            self.pooled_spread
        } else {
            // Before the first window closed: the members seen so far.
            let (sum, n) = self.clusters.iter().fold((0.0, 0u64), |(sum, n), s| (sum + s.sum_sq, n + s.members));
            if n > 0 {
                (sum / n as f64).sqrt()
            } else {
                0.0
            }
        };
        floored(spread, centre)
    }

    /// End the current window at record `record`, with the centres `now` (a jumped
    /// centre at its place before the jump).
    fn close_window(&mut self, record: u64, now: &[f64], jumped: &[bool], events: &mut Vec<ClusterEvent>) {
        let Some((k, d)) = self.shape else { return };
        let p = self.params;
        let window = self.in_window;
        let appeared = p.appeared_for(k);
        let first = self.windows == 0;
        let (mut pooled_sum, mut pooled_n) = (0.0, 0u64);
        for c in 0..k {
            let centre = if jumped[c] { &self.last[c * d..(c + 1) * d] } else { &now[c * d..(c + 1) * d] };
            let start = &self.start[c * d..(c + 1) * d];
            let s = &mut self.clusters[c];
            let since = window - s.before_jump;
            let share = if since > 0 { s.members as f64 / since as f64 } else { 0.0 };
            let spread = if s.members > 0 { (s.sum_sq / s.members as f64).sqrt() } else { 0.0 };
            pooled_sum += s.sum_sq;
            pooled_n += s.members;
            let event = |kind, share_before, distance, spread| ClusterEvent {
                record,
                cluster: c as i64,
                kind,
                share_before,
                share_after: share,
                distance,
                spread,
            };
            let mut found = Vec::new();
            if let Some(v) = s.pending.take() {
                found.push(ClusterEvent {
                    share_after: v.share_after,
                    ..event(ClusterEventKind::Vanished, v.share_before, None, v.spread)
                });
            }
            if first {
                s.present = share >= p.vanished;
            } else if s.present {
                if share < p.vanished {
                    let before = (s.prev_members > 0).then_some(s.prev_spread);
                    found.push(event(ClusterEventKind::Vanished, s.prev_share, None, before));
                    s.present = false;
                } else if s.prev_members >= MIN_MEMBERS {
                    let distance = sq_dist(centre, start).sqrt();
                    if distance > p.moved * floored(s.prev_spread, start) {
                        found.push(event(ClusterEventKind::Moved, s.prev_share, Some(distance), Some(s.prev_spread)));
                    }
                }
            }
            // A centre that jumped late in the window is judged on the next one, and keeps
            // the share it had when it jumped as its share before.
            let judged = 2 * since >= p.window;
            if !first && !s.present && judged && share >= appeared {
                found.push(event(ClusterEventKind::Appeared, s.prev_share, None, Some(spread)));
                s.present = true;
            }
            for e in &found {
                let count = match e.kind {
                    ClusterEventKind::Moved => &mut self.counts.moved,
                    ClusterEventKind::Vanished => &mut self.counts.vanished,
                    ClusterEventKind::Appeared => &mut self.counts.appeared,
                };
                *count = count.saturating_add(1);
            }
            events.extend(found);
            *s = Cluster {
                prev_share: if judged || first { share } else { s.prev_share },
                prev_spread: spread,
                prev_members: s.members,
                present: s.present,
                ..Cluster::default()
            };
            self.start[c * d..(c + 1) * d].copy_from_slice(centre);
        }
        self.pooled_spread = if pooled_n > 0 { (pooled_sum / pooled_n as f64).sqrt() } else { 0.0 };
        self.in_window = 0;
        self.windows = self.windows.saturating_add(1);
    }
}

/// `Err` naming the first value of `a` that is not finite.
fn first_not_finite(a: ArrayView2<f64>, what: &'static str) -> Result<(), ClusterWatchError> {
    for (row, values) in a.outer_iter().enumerate() {
        if let Some(column) = values.iter().position(|v| !v.is_finite()) {
            return Err(ClusterWatchError::NotFinite { what, row, column, value: values[column] });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{json_at_mut, json_paths};
    use ndarray::Array2;
    use ClusterEventKind::{Appeared, Moved, Vanished};

    /// A watch fed hand-made batches: `counts[c]` rows of cluster `c`, alternately
    /// `+spread` and `-spread` from `centres[c]` on the first axis (so its spread is
    /// exactly `spread`), and the centres as given.
    struct Feed {
        watch: ClusterWatch,
        next: u64,
    }

    impl Feed {
        fn new(params: &str) -> Self {
            let params = ClusterWatchParams::from_spec_text(params).expect("valid");
            Self { watch: ClusterWatch::new(params).expect("valid"), next: 0 }
        }

        fn rows(centres: &[[f64; 2]], counts: &[usize], spread: f64) -> (Array2<f64>, Vec<i64>) {
            let mut rows = Vec::new();
            let mut labels = Vec::new();
            for (c, (centre, &n)) in centres.iter().zip(counts).enumerate() {
                for i in 0..n {
                    let offset = if i % 2 == 0 { spread } else { -spread };
                    rows.extend([centre[0] + offset, centre[1]]);
                    labels.push(c as i64);
                }
            }
            (Array2::from_shape_vec((labels.len(), 2), rows).expect("rectangular"), labels)
        }

        /// Rows around `rows_at`, with the clusterer's centres `centres`.
        fn batch_with(&mut self, rows_at: &[[f64; 2]], centres: &[[f64; 2]], counts: &[usize]) -> Vec<ClusterEvent> {
            let (x, labels) = Self::rows(rows_at, counts, 1.0);
            let ids: Vec<u64> = (self.next..self.next + labels.len() as u64).collect();
            self.next += labels.len() as u64;
            let c = Array2::from_shape_vec((centres.len(), 2), centres.concat()).expect("rectangular");
            self.watch.observe(&ids, x.view(), &labels, c.view()).expect("a consistent batch")
        }

        fn batch(&mut self, centres: &[[f64; 2]], counts: &[usize]) -> Vec<ClusterEvent> {
            self.batch_with(centres, centres, counts)
        }
    }

    fn kinds(events: &[ClusterEvent]) -> Vec<(u64, i64, ClusterEventKind)> {
        events.iter().map(|e| (e.record, e.cluster, e.kind)).collect()
    }

    const TWO: [[f64; 2]; 2] = [[0.0, 0.0], [10.0, 0.0]];
    const THREE: [[f64; 2]; 3] = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]];

    #[test]
    fn stationary_input_gives_no_event_even_with_no_noise_and_rounding() {
        let mut f = Feed::new("clusters(window=100)");
        for i in 0..50 {
            // Every row on its centre (spread 0), centres wobbling by an ulp as a running mean would.
            let wobble = if i % 2 == 0 { 0.0 } else { f64::EPSILON * 16.0 };
            let centres = [[0.1 + 0.2 + wobble, 3.0], [1e6 * (1.0 + wobble), -7.0]];
            let (x, labels) = Feed::rows(&centres, &[30, 20], 0.0);
            let ids: Vec<u64> = (f.next..f.next + 50).collect();
            f.next += 50;
            let c = Array2::from_shape_vec((2, 2), centres.concat()).expect("rectangular");
            assert_eq!(f.watch.observe(&ids, x.view(), &labels, c.view()).expect("consistent"), vec![]);
        }
        assert_eq!(f.watch.windows(), 25);
        let mut f = Feed::new("clusters(window=100)");
        for _ in 0..40 {
            assert_eq!(f.batch(&THREE, &[20, 20, 10]), vec![]);
        }
        assert_eq!(f.watch.counts(), ClusterEventCounts::default());
    }

    #[test]
    fn a_centre_that_moves_more_than_three_spreads_in_a_window_has_moved() {
        let mut f = Feed::new("clusters(window=100)");
        for _ in 0..2 {
            assert_eq!(f.batch(&TWO, &[50, 50]), vec![]);
        }
        // Window 2 (one batch each): cluster 1 (spread 1) is 5 further on.
        let events = f.batch(&[[0.0, 0.0], [15.0, 0.0]], &[50, 50]);
        assert_eq!(
            events,
            vec![ClusterEvent {
                record: 299,
                cluster: 1,
                kind: Moved,
                share_before: 0.5,
                share_after: 0.5,
                distance: Some(5.0),
                spread: Some(1.0),
            }]
        );
        assert_eq!(f.batch(&[[0.0, 0.0], [15.0, 0.0]], &[50, 50]), vec![], "it stays: nothing more");
        assert_eq!(f.batch(&[[0.0, 0.0], [17.0, 0.0]], &[50, 50]), vec![], "2 spreads is not a move");
        assert_eq!(f.batch(&[[0.0, 0.0], [20.0, 0.0]], &[50, 50]), vec![], "3 spreads exactly is not either");
        assert_eq!(f.watch.counts().moved, 1);
    }

    #[test]
    fn a_cluster_vanishes_once_and_must_appear_before_it_vanishes_again() {
        let mut f = Feed::new("clusters(window=100)");
        f.batch(&THREE, &[40, 40, 20]);
        f.batch(&THREE, &[40, 40, 20]);
        let events = f.batch(&THREE, &[50, 50, 0]);
        assert_eq!(kinds(&events), [(299, 2, Vanished)]);
        assert_eq!((events[0].share_before, events[0].share_after, events[0].spread), (0.2, 0.0, Some(1.0)));
        assert_eq!(f.batch(&THREE, &[50, 50, 0]), vec![], "still gone: once");
        // 5% is above vanished (1%) but below the share it needs to appear (auto: 0.25/3).
        assert_eq!(f.batch(&THREE, &[48, 47, 5]), vec![]);
        assert_eq!(f.batch(&THREE, &[50, 50, 0]), vec![], "not back, so it cannot vanish again");
        let events = f.batch(&THREE, &[45, 45, 10]);
        assert_eq!(kinds(&events), [(699, 2, Appeared)]);
        assert_eq!((events[0].share_before, events[0].share_after, events[0].spread), (0.0, 0.1, Some(1.0)));
        assert_eq!(kinds(&f.batch(&THREE, &[50, 50, 0])), [(799, 2, Vanished)], "back, so it can vanish again");
        let c = f.watch.counts();
        assert_eq!((c.moved, c.vanished, c.appeared), (0, 2, 1));
    }

    #[test]
    fn a_cluster_starved_from_the_start_appears_when_it_captures_records() {
        let mut f = Feed::new("clusters(window=100, appeared=0.3)");
        f.batch(&TWO, &[100, 0]);
        assert_eq!(f.batch(&TWO, &[80, 20]), vec![], "20% is below the 30% asked");
        let events = f.batch(&TWO, &[60, 40]);
        assert_eq!(kinds(&events), [(299, 1, Appeared)]);
        assert_eq!((events[0].share_before, events[0].share_after), (0.2, 0.4));
    }

    /// A present cluster's records stop mid-window and its centre jumps while it has
    /// none (k-means' reassignment): its old mass vanished and the records it captures
    /// after the jump are a new mass, not a move of 36.
    #[test]
    fn a_centre_reassigned_mid_window_vanishes_then_appears() {
        let mut f = Feed::new("clusters(window=100)");
        for _ in 0..10 {
            f.batch(&THREE, &[8, 8, 4]);
        }
        let jumped = [[0.0, 0.0], [10.0, 0.0], [30.0, 30.0]];
        assert_eq!(f.batch(&THREE, &[8, 8, 4]), vec![]);
        assert_eq!(f.batch_with(&THREE, &jumped, &[10, 10, 0]), vec![], "the jump, after record 239");
        assert_eq!(f.batch(&jumped, &[7, 7, 6]), vec![]);
        assert_eq!(f.batch(&jumped, &[7, 7, 6]), vec![]);
        let events = f.batch(&jumped, &[7, 7, 6]);
        assert_eq!(kinds(&events), [(299, 2, Vanished), (299, 2, Appeared)]);
        assert_eq!((events[0].share_before, events[0].share_after, events[0].spread), (0.2, 0.0, Some(1.0)));
        // 18 of the 60 records since the jump.
        assert_eq!((events[1].share_before, events[1].share_after, events[1].spread), (0.0, 0.3, Some(1.0)));
        assert_eq!(f.batch(&jumped, &[40, 40, 20]), vec![]);
    }

    /// A jump late in a window is judged on the next full window, and keeps the share
    /// it had when it jumped as its share before.
    #[test]
    fn a_late_jump_is_judged_on_the_next_window() {
        let mut f = Feed::new("clusters(window=100)");
        f.batch(&THREE, &[50, 50, 0]);
        f.batch(&THREE, &[50, 50, 0]);
        let jumped = [[0.0, 0.0], [10.0, 0.0], [30.0, 30.0]];
        f.batch(&THREE, &[40, 40, 0]);
        assert_eq!(f.batch_with(&THREE, &jumped, &[5, 5, 0]), vec![], "jump at record 289");
        assert_eq!(f.batch(&jumped, &[3, 3, 4]), vec![], "4 of 10 records since the jump: too few to judge");
        let events = f.batch(&jumped, &[40, 40, 20]);
        assert_eq!(kinds(&events), [(399, 2, Appeared)]);
        assert_eq!((events[0].share_before, events[0].share_after), (0.0, 0.2));
    }

    /// Windows count valid rows; one that ends inside a batch is judged with the
    /// centres after that batch, and its events name the id of its last record.
    #[test]
    fn a_window_that_ends_inside_a_batch_names_its_last_record() {
        let mut watch = ClusterWatch::new(ClusterWatchParams { window: 100, ..Default::default() }).expect("valid");
        let mut events = Vec::new();
        for b in 0..10u64 {
            let at = if b < 6 { TWO } else { [[0.0, 0.0], [20.0, 0.0]] };
            let (x, mut labels) = Feed::rows(&at, &[15, 15], 1.0);
            // Rows 180..209 are batch 6, which moves cluster 1; window 2 ends at row 199.
            labels[0] = if b == 3 { -1 } else { labels[0] };
            let ids: Vec<u64> = (0..30).map(|i| 1000 + 10 * (30 * b + i)).collect();
            let c = Array2::from_shape_vec((2, 2), at.concat()).expect("rectangular");
            events.extend(watch.observe(&ids, x.view(), &labels, c.view()).expect("consistent"));
        }
        // Row 90's label is -1 (skipped): window 2 ends at row 200, id 1000 + 10 * 200.
        assert_eq!(kinds(&events), [(3000, 1, Moved)]);
        assert_eq!(events[0].distance, Some(10.0));
        assert_eq!(watch.windows(), 2);
    }

    #[test]
    fn labels_that_name_no_centre_are_skipped() {
        let mut watch = ClusterWatch::new(ClusterWatchParams { window: 4, ..Default::default() }).expect("valid");
        let x = Array2::zeros((6, 2));
        let centres = Array2::zeros((2, 2));
        let labels = [-1, 2, i64::MAX, i64::MIN, 0, 1];
        assert_eq!(watch.observe(&[0, 1, 2, 3, 4, 5], x.view(), &labels, centres.view()), Ok(vec![]));
        assert_eq!(watch.windows(), 0);
        assert_eq!(watch.observe(&[6, 7], x.slice(ndarray::s![..2, ..]), &[0, 1], centres.view()), Ok(vec![]));
        assert_eq!(watch.windows(), 1);
    }

    #[test]
    fn a_batch_that_does_not_fit_is_refused_and_the_watch_is_unchanged() {
        let mut f = Feed::new("clusters(window=100)");
        f.batch(&THREE, &[20, 20, 10]);
        let before = serde_json::to_value(&f.watch).expect("encodes");
        let x = Array2::zeros((3, 2));
        let c3 = Array2::zeros((3, 2));
        let w = &mut f.watch;
        assert_eq!(
            w.observe(&[1, 2, 3], x.view(), &[0, 0, 0], Array2::zeros((4, 2)).view()),
            Err(ClusterWatchError::Shape { k: 3, d: 2, got_k: 4, got_d: 2 })
        );
        assert_eq!(
            w.observe(&[1, 2, 3], Array2::zeros((3, 3)).view(), &[0, 0, 0], Array2::zeros((3, 3)).view()),
            Err(ClusterWatchError::Shape { k: 3, d: 2, got_k: 3, got_d: 3 })
        );
        assert_eq!(
            w.observe(&[1, 2, 3], Array2::zeros((3, 3)).view(), &[0, 0, 0], c3.view()),
            Err(ClusterWatchError::Width { x: 3, centres: 2 })
        );
        assert_eq!(
            w.observe(&[1, 2], x.view(), &[0, 0, 0], c3.view()),
            Err(ClusterWatchError::Lengths { rows: 3, ids: 2, labels: 3 })
        );
        assert_eq!(
            w.observe(&[1, 2, 3], x.view(), &[0, 0], c3.view()),
            Err(ClusterWatchError::Lengths { rows: 3, ids: 3, labels: 2 })
        );
        assert_eq!(
            w.observe(&[1, 2, 3], x.view(), &[0, 0, 0], Array2::zeros((0, 2)).view()),
            Err(ClusterWatchError::NoCentres { k: 0, d: 2 })
        );
        let mut bad = x.clone();
        bad[[2, 1]] = f64::NAN;
        let e = w.observe(&[1, 2, 3], bad.view(), &[0, 0, 0], c3.view()).expect_err("NaN");
        assert_eq!(e.to_string(), "the batch's row 2, column 1: NaN is not a finite number");
        let mut bad = c3.clone();
        bad[[1, 0]] = f64::INFINITY;
        let e = w.observe(&[1, 2, 3], x.view(), &[0, 0, 0], bad.view()).expect_err("inf");
        assert_eq!(e.to_string(), "the centres' row 1, column 0: inf is not a finite number");
        assert_eq!(serde_json::to_value(&f.watch).expect("encodes"), before);
        // An empty batch changes nothing either.
        assert_eq!(f.watch.observe(&[], Array2::zeros((0, 2)).view(), &[], c3.view()), Ok(vec![]));
        assert_eq!(serde_json::to_value(&f.watch).expect("encodes"), before);
    }

    fn stream(f: &mut Feed, from: usize, to: usize) -> Vec<ClusterEvent> {
        let jumped = [[0.0, 0.0], [10.0, 0.0], [30.0, 30.0]];
        (from..to)
            .flat_map(|i| match i {
                0..11 => f.batch(&THREE, &[8, 8, 4]),
                11 => f.batch_with(&THREE, &jumped, &[10, 10, 0]),
                12..20 => f.batch(&jumped, &[7, 7, 6]),
                _ => f.batch(&[[0.0, 0.0], [25.0, 0.0], [30.0, 30.0]], &[8, 8, 4]),
            })
            .collect()
    }

    #[test]
    fn a_saved_watch_goes_on_as_the_original() {
        let mut f = Feed::new("clusters(window=100)");
        stream(&mut f, 0, 12);
        let json = serde_json::to_string(&f.watch).expect("encodes");
        let bytes = postcard::to_allocvec(&f.watch).expect("encodes");
        let mut from_json = Feed { watch: serde_json::from_str(&json).expect("decodes"), next: f.next };
        let mut from_postcard = Feed { watch: postcard::from_bytes(&bytes).expect("decodes"), next: f.next };
        assert_eq!(from_json.watch, f.watch);
        let expected = stream(&mut f, 12, 30);
        assert_eq!(kinds(&expected), [(299, 2, Vanished), (299, 2, Appeared), (499, 1, Moved)]);
        assert_eq!(stream(&mut from_json, 12, 30), expected);
        assert_eq!(stream(&mut from_postcard, 12, 30), expected);
        assert_eq!(from_postcard.watch, f.watch);
    }

    #[test]
    fn a_hostile_state_is_refused() {
        let mut f = Feed::new("clusters(window=100)");
        stream(&mut f, 0, 12);
        let good = serde_json::to_value(&f.watch).expect("encodes");
        let refuse = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            edit(&mut v);
            serde_json::from_value::<ClusterWatch>(v).expect_err("refused").to_string()
        };
        use serde_json::json;
        assert!(refuse(&|v| v["params"]["window"] = json!(0)).contains("window must be"));
        assert!(refuse(&|v| v["params"]["appeared"] = json!(0.001)).contains("appeared must be"));
        assert!(refuse(&|v| v["in_window"] = json!(100)).contains("records into a window of 100"));
        assert!(refuse(&|v| v["shape"] = json!([4, 2])).contains("4 centres holding 3 clusters"));
        assert!(refuse(&|v| v["shape"] = json!([3, 3])).contains("centre values"));
        assert!(refuse(&|v| v["shape"] = json!([0, 2])).contains("0 centres"));
        assert!(refuse(&|v| v["shape"] = json!([usize::MAX, 2])).contains("centres"));
        assert!(refuse(&|v| v["shape"] = json!(null)).contains("centres"));
        assert!(refuse(&|v| v["start"][0] = json!(null)).contains("invalid type"));
        assert!(refuse(&|v| v["pooled_spread"] = json!(-1.0)).contains("not finite"));
        assert!(refuse(&|v| v["clusters"][0]["members"] = json!(1_000_000)).contains("cluster 0"));
        assert!(refuse(&|v| v["clusters"][1]["prev_share"] = json!(1.5)).contains("cluster 1"));
        assert!(refuse(&|v| v["clusters"][2]["sum_sq"] = json!(-3.0)).contains("cluster 2"));
        assert!(refuse(&|v| v["clusters"][2]["before_jump"] = json!(99)).contains("cluster 2"));
        assert!(refuse(&|v| v["extra"] = json!(1)).contains("unknown field"));
        let all_members = |v: &mut serde_json::Value| {
            let n = v["in_window"].clone();
            // Each fits the window alone (cluster 2 jumped: it holds none); together they do not.
            for c in 0..2 {
                v["clusters"][c]["members"] = n.clone();
            }
        };
        assert!(refuse(&all_members).contains("members in a window"));
    }

    /// Every leaf of a saved state spoiled in turn: refused, or a watch that runs on.
    #[test]
    fn a_spoiled_state_is_refused_or_runs_never_panics() {
        use serde_json::json;
        let mut f = Feed::new("clusters(window=100)");
        stream(&mut f, 0, 14);
        let good = serde_json::to_value(&f.watch).expect("encodes");
        let mut tried = 0;
        for path in &json_paths(&good) {
            for bad in
                [json!(null), json!(-1), json!(0), json!(1), json!(1e308), json!(u64::MAX), json!([]), json!(0.5)]
            {
                let mut spoiled = good.clone();
                *json_at_mut(&mut spoiled, path) = bad;
                tried += 1;
                if let Ok(watch) = serde_json::from_value::<ClusterWatch>(spoiled) {
                    let mut g = Feed { watch, next: f.next };
                    stream(&mut g, 14, 30);
                }
            }
        }
        assert!(tried > 200, "only {tried} spoiled states");
    }

    #[test]
    fn params_round_trip_through_the_spec_language() {
        let d = ClusterWatchParams::default();
        assert_eq!((d.window, d.moved, d.vanished, d.appeared), (10_000, 3.0, 0.01, None));
        assert_eq!(d.to_spec(), "clusters");
        for text in
            ["clusters", "clusters()", "clusters(appeared=auto)", "clusters(window=10000, moved=3, vanished=0.01)"]
        {
            assert_eq!(ClusterWatchParams::from_spec_text(text), Ok(d), "{text}");
        }
        for text in [
            "clusters(window=5000)",
            "clusters(moved=2.5, vanished=0.02)",
            "clusters(window=20000, moved=4, vanished=0.05, appeared=0.1)",
            "clusters(appeared=1)",
        ] {
            let p = ClusterWatchParams::from_spec_text(text).expect("valid");
            assert_eq!(p.to_spec(), text);
            assert_eq!(ClusterWatchParams::from_spec_text(&p.to_spec()), Ok(p));
        }
        let p = ClusterWatchParams::from_spec_text(" clusters( appeared = 0.1 , window = 2**10 ) ").expect("valid");
        assert_eq!(p.to_spec(), "clusters(window=1024, appeared=0.1)");
        assert_eq!(d.appeared_for(3), 0.25 / 3.0);
        assert_eq!(d.appeared_for(100), 0.02);
        assert_eq!(ClusterWatchParams { appeared: Some(0.4), ..d }.appeared_for(3), 0.4);
        let text = ClusterWatchParams::describe();
        for name in ["window", "moved", "vanished", "appeared", "auto"] {
            assert!(text.contains(name), "{text}");
        }
    }

    #[test]
    fn bad_params_get_one_clear_error_at_the_parameter() {
        let err = |text: &str| ClusterWatchParams::from_spec_text(text).expect_err(text);
        let e = err("clusters(windw=10)");
        assert_eq!(e.message, "clusters: unknown parameter \"windw\": did you mean window?");
        assert_eq!(e.at, 9);
        assert_eq!(
            err("clusters(delta=1)").message,
            "clusters: unknown parameter \"delta\": one of window, moved, vanished, appeared"
        );
        assert_eq!(err("clusters(window=10, window=20)").message, "clusters: window is given twice");
        assert_eq!(err("clusters(window=0)").message, "clusters: window must be a whole number >= 1, got 0");
        assert_eq!(err("clusters(window=1.5)").message, "clusters: window must be a whole number >= 1, got 1.5");
        assert_eq!(
            err("clusters(window=2**60)").message,
            "clusters: window must be a whole number >= 1 and <= 2^53, got 1152921504606847000"
        );
        assert_eq!(err("clusters(moved=-1)").message, "clusters: moved must be a number > 0, got -1");
        assert_eq!(err("clusters(moved=0)").message, "clusters: moved must be a number > 0, got 0");
        assert_eq!(
            err("clusters(vanished=0.6)").message,
            "clusters: vanished must be a number > 0 and <= 0.5, got 0.6"
        );
        assert_eq!(
            err("clusters(appeared=maybe)").message,
            "clusters: appeared must be a number > 0 and <= 1, got maybe (or auto)"
        );
        let e = err("clusters(window=100, appeared=0.005)");
        assert_eq!(e.message, "clusters: appeared must be a number > vanished and <= 1, got 0.005");
        assert_eq!(e.at, 21, "the caret is under appeared");
        assert_eq!(err("adwin").message, "expected clusters(...), found \"adwin\"");
        assert!(err("c=clusters").message.contains("no label"));
        assert!(err("clusters | clusters").message.contains("one clusters(...)"));
        assert!(err("clusters(window=").message.contains("expected a value"));
        let e = ClusterWatch::new(ClusterWatchParams { moved: f64::NAN, ..Default::default() }).expect_err("NaN");
        assert!(matches!(e, DriftParamsError::OutOfRange { param: "moved", value, .. } if value.is_nan()), "{e}");
    }
}
