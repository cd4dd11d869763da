//! Drift detectors: small state machines fed one value at a time that say when
//! the stream's distribution has changed.
//!
//! Seven detectors, with River 0.26.1's semantics, parameter names and defaults:
//!
//! | name | input | signals | River |
//! |---|---|---|---|
//! | `adwin` | real | drift | `drift.ADWIN` |
//! | `page-hinkley` | real | drift | `drift.PageHinkley` |
//! | `kswin` | real | drift | `drift.KSWIN` |
//! | `ddm` | 0/1 | warning, drift | `drift.binary.DDM` |
//! | `eddm` | 0/1 | warning, drift | `drift.binary.EDDM` |
//! | `hddm-a` | 0/1 | warning, drift | `drift.binary.HDDMA` |
//! | `hddm-w` | 0/1 | warning, drift | `drift.binary.HDDMW` |
//!
//! Every detector implements [`Detector`]: [`Detector::update`] takes a value and
//! returns the [`Signal`] River's `drift_detected` / `warning_detected` give after
//! the same update (drift wins when River sets both). As in River, a detector that
//! signalled a drift starts afresh at its next update, so the state after a drift
//! can still be inspected ([`Detector::split_means`]). Binary detectors take 0 or 1
//! (1 marks an error); [`Detector::check_value`] says whether a value fits.
//!
//! Detectors are built from the same spec language as models
//! (`adwin(delta=0.01)`, see [`registry`]), and a boxed detector serialises as
//! `{kind, state}` and decodes through the registry, which checks the decoded
//! state ([`Detector::check_state`]) before it is used.
//!
//! [`Monitor`] wraps a detector for `eddy drift`: it turns signals into events
//! (a warning when one starts, every drift) with the means before and after.
//!
//! [`ClusterWatch`] watches a clusterer rather than a column: fed each learned batch
//! with its labels and the centres, it reports clusters that moved, vanished or
//! appeared ([`clusters`]).
//!
//! ```
//! use eddy::drift::{self, Signal};
//!
//! let mut adwin = drift::build_text("adwin(delta=0.002)")?;
//! let mut found = None;
//! for i in 0..4000 {
//!     let x = if i < 2000 { (i % 7) as f64 } else { 10.0 + (i % 7) as f64 };
//!     if adwin.update(x) == Signal::Drift {
//!         found.get_or_insert(i);
//!     }
//! }
//! let at = found.expect("a step of 10 is found");
//! assert!((2000..2100).contains(&at));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod adwin;
pub mod clusters;
mod ddm;
mod eddm;
mod hddm_a;
mod hddm_w;
mod kswin;
mod monitor;
mod page_hinkley;
pub mod registry;

pub use crate::error::{ClusterWatchError, DriftParamsError, DriftValueError};
pub use adwin::{Adwin, AdwinParams};
pub use clusters::{ClusterEvent, ClusterEventCounts, ClusterEventKind, ClusterWatch, ClusterWatchParams};
pub use ddm::{Ddm, DdmParams};
pub use eddm::{Eddm, EddmParams};
pub use hddm_a::{HddmA, HddmAParams};
pub use hddm_w::{HddmW, HddmWParams};
pub use kswin::{ks_2samp_equal, Kswin, KswinParams};
pub use monitor::{Event, EventKind, Monitor};
pub use page_hinkley::{Mode, PageHinkley, PageHinkleyParams};
pub use registry::{build_text, DetectorEntry, ENTRIES};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// What a detector says after one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    /// Nothing has changed.
    None,
    /// The stream may be changing (River's `warning_detected`).
    Warning,
    /// The stream has changed (River's `drift_detected`); the detector starts afresh
    /// at its next update.
    Drift,
}

/// The values a detector takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Any finite number.
    Real,
    /// 0 or 1: an error indicator (1 for an error, a misclassified record say).
    Binary,
}

/// A drift detector: River's `update` plus what eddy needs to name, save and check it.
pub trait Detector: fmt::Debug + Send + Sync + erased_serde::Serialize + dyn_clone::DynClone {
    /// Take one value and say whether the stream has drifted. Binary detectors read
    /// any value but 1 as "no error" (River's arithmetic); [`Detector::check_value`]
    /// refuses them first where that matters.
    fn update(&mut self, x: f64) -> Signal;

    /// Forget everything seen, keeping the parameters (a freshly built detector).
    fn reset(&mut self);

    /// The registry entry that builds and decodes this kind of detector.
    fn entry(&self) -> &'static DetectorEntry;

    /// The parameters as a JSON object with River's names.
    fn params_json(&self) -> serde_json::Value;

    /// Check that a decoded state fits together (parameters obey their rules, lengths
    /// and counts agree, numbers are finite) before anything indexes into it.
    fn check_state(&self) -> Result<(), String>;

    /// How many of the latest values stand for "after the change" when a signal is
    /// reported with means (see [`Monitor`]): the detector's own test window where it
    /// has one (`kswin`'s `stat_size`), otherwise its warm-up length.
    fn recent_window(&self) -> usize;

    /// The means of the two parts of the window the last update split, when it
    /// drifted and the detector knows them: for ADWIN the part it dropped and the part
    /// it kept. `None` otherwise.
    fn split_means(&self) -> Option<(f64, f64)> {
        None
    }

    /// Bytes it holds beyond its own size (a window's buckets), for models that bound
    /// their memory (a tree with a detector at each node).
    fn heap_bytes(&self) -> usize {
        0
    }

    /// The detector's estimate of the watched level now (ADWIN's window mean), when it
    /// keeps one; `None` otherwise.
    fn estimation(&self) -> Option<f64> {
        None
    }

    /// Whether `x` is a value this detector takes.
    fn check_value(&self, x: f64) -> Result<(), DriftValueError> {
        if !x.is_finite() {
            return Err(DriftValueError::NotFinite { value: x });
        }
        match self.entry().input {
            Input::Binary if x != 0.0 && x != 1.0 => {
                Err(DriftValueError::NotBinary { detector: self.entry().name, value: x })
            }
            _ => Ok(()),
        }
    }
}

dyn_clone::clone_trait_object!(Detector);

impl dyn Detector + '_ {
    /// The detector in the spec language: its name and every parameter that differs
    /// from the default (`adwin(delta=0.01)`); that text builds the same detector.
    pub fn spec(&self) -> String {
        registry::spec_of(self)
    }
}

impl Serialize for Box<dyn Detector> {
    /// `{kind: registry name, state}`, as model stages are saved.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Detector", 2)?;
        st.serialize_field("kind", self.entry().name)?;
        let state: &dyn erased_serde::Serialize = self.as_ref();
        st.serialize_field("state", state)?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for Box<dyn Detector> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct("Detector", &["kind", "state"], DetectorVisitor)
    }
}

struct DetectorVisitor;

impl<'de> Visitor<'de> for DetectorVisitor {
    type Value = Box<dyn Detector>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a drift detector: its registry name, then its state")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let kind: String = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let entry = find_kind(&kind)?;
        seq.next_element_seed(StateSeed(entry))?.ok_or_else(|| de::Error::invalid_length(1, &self))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entry = None;
        while let Some(key) = map.next_key::<String>()? {
            match (key.as_str(), entry) {
                ("kind", None) => entry = Some(find_kind(&map.next_value::<String>()?)?),
                ("state", Some(e)) => return map.next_value_seed(StateSeed(e)),
                (other, _) => return Err(de::Error::custom(format!("unexpected field {other:?} in a detector"))),
            }
        }
        Err(de::Error::missing_field("state"))
    }
}

fn find_kind<E: de::Error>(kind: &str) -> Result<&'static DetectorEntry, E> {
    registry::find(kind).ok_or_else(|| {
        E::custom(format!("no detector is called {kind:?} in this eddy (it knows {})", registry::names().join(", ")))
    })
}

struct StateSeed(&'static DetectorEntry);

impl<'de> DeserializeSeed<'de> for StateSeed {
    type Value = Box<dyn Detector>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let mut erased = <dyn erased_serde::Deserializer>::erase(d);
        let detector = (self.0.decode)(&mut erased).map_err(de::Error::custom)?;
        detector
            .check_state()
            .map_err(|why| de::Error::custom(format!("{}: inconsistent state: {why}", self.0.name)))?;
        Ok(detector)
    }
}

/// River's `stats.Mean` with unit weights: the same arithmetic, so the same bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Mean {
    /// Values seen (a float, as River keeps it).
    pub n: f64,
    /// Their mean.
    pub mean: f64,
}

impl Mean {
    #[inline]
    pub(crate) fn update(&mut self, x: f64) {
        self.n += 1.0;
        self.mean += (1.0 / self.n) * (x - self.mean);
    }

    /// A count is a whole number >= 0 and the mean is finite.
    pub(crate) fn check(&self, what: &str) -> Result<(), String> {
        if !(self.n >= 0.0 && self.n.fract() == 0.0 && self.n <= MAX_COUNT && self.mean.is_finite()) {
            return Err(format!("{what}: count {} and mean {} do not make a running mean", self.n, self.mean));
        }
        Ok(())
    }
}

/// The largest count a decoded state may hold: 2^53, where f64 stops counting by one.
pub(crate) const MAX_COUNT: f64 = 9_007_199_254_740_992.0;

/// `Err` naming `what` unless every value is finite.
pub(crate) fn check_finite(what: &str, values: &[f64]) -> Result<(), String> {
    match values.iter().find(|v| !v.is_finite()) {
        Some(v) => Err(format!("{what} is {v}, not a finite number")),
        None => Ok(()),
    }
}

/// The [`DetectorEntry::decode`] of a detector type.
pub(crate) fn decode<D>(d: &mut dyn erased_serde::Deserializer<'_>) -> Result<Box<dyn Detector>, erased_serde::Error>
where
    D: Detector + serde::de::DeserializeOwned + 'static,
{
    Ok(Box::new(erased_serde::deserialize::<D>(d)?))
}

/// Implements the registry half of [`Detector`] (`entry`, `params_json`) for a
/// detector with a `params` field.
macro_rules! registry_methods {
    ($entry:expr) => {
        fn entry(&self) -> &'static $crate::drift::DetectorEntry {
            &$entry
        }
        fn params_json(&self) -> serde_json::Value {
            // Parameters are plain numbers and names: they always serialise.
            serde_json::to_value(&self.params).unwrap_or(serde_json::Value::Null)
        }
    };
}
pub(crate) use registry_methods;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{json_at_mut, json_paths};

    fn has_autotraits<T: Send + Sync + Sized + Unpin>() {}

    #[test]
    fn detectors_cross_threads() {
        has_autotraits::<Box<dyn Detector>>();
        has_autotraits::<Monitor>();
    }

    /// A stream every detector can take: 0/1 with a rate that steps up at 1500.
    fn stream(n: usize) -> Vec<f64> {
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        (0..n)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                let rate = if i < 1500 { 0.1 } else { 0.5 };
                f64::from(u8::from(u < rate))
            })
            .collect()
    }

    fn signals(d: &mut dyn Detector, values: &[f64]) -> Vec<Signal> {
        values.iter().map(|&x| d.update(x)).collect()
    }

    #[test]
    fn every_detector_round_trips_through_json_and_postcard_mid_stream() {
        let values = stream(3000);
        for entry in ENTRIES {
            let mut d = (entry.build)((entry.defaults)()).expect("defaults build");
            signals(d.as_mut(), &values[..1700]);
            let json = serde_json::to_string(&d).expect("encodes");
            let mut from_json: Box<dyn Detector> = serde_json::from_str(&json).expect("decodes");
            let bytes = postcard::to_allocvec(&d).expect("encodes");
            let mut from_postcard: Box<dyn Detector> = postcard::from_bytes(&bytes).expect("decodes");
            let rest = &values[1700..];
            let expected = signals(d.as_mut(), rest);
            assert_eq!(signals(from_json.as_mut(), rest), expected, "{} (json)", entry.name);
            assert_eq!(signals(from_postcard.as_mut(), rest), expected, "{} (postcard)", entry.name);
        }
    }

    #[test]
    fn reset_gives_a_fresh_detector() {
        let values = stream(2500);
        for entry in ENTRIES {
            let fresh = (entry.build)((entry.defaults)()).expect("defaults build");
            let mut used = fresh.clone();
            signals(used.as_mut(), &values);
            used.reset();
            assert_eq!(
                serde_json::to_value(&used).expect("encodes"),
                serde_json::to_value(&fresh).expect("encodes"),
                "{}",
                entry.name
            );
        }
    }

    /// Every way of spoiling one leaf of a JSON state.
    fn mutations(v: &serde_json::Value) -> Vec<serde_json::Value> {
        use serde_json::{json, Value};
        let mut out = vec![Value::Null, json!(-1), json!(0), json!(1e308), json!(-1e308), json!(u64::MAX), json!("x")];
        match v {
            Value::Bool(b) => out.push(json!(!b)),
            Value::Number(n) => {
                if let Some(f) = n.as_f64() {
                    out.extend([json!(f + 1.0), json!(-f), json!(f * 1e6), json!(f / 3.0)]);
                }
            }
            Value::Array(items) => {
                out.push(json!([]));
                if let Some((first, rest)) = items.split_first() {
                    out.push(Value::Array(rest.to_vec()));
                    let mut longer = items.clone();
                    longer.push(first.clone());
                    out.push(Value::Array(longer));
                }
            }
            _ => {}
        }
        out
    }

    #[test]
    fn a_spoiled_state_is_refused_or_works_never_panics() {
        let values = stream(3000);
        for entry in ENTRIES {
            let mut d = (entry.build)((entry.defaults)()).expect("defaults build");
            signals(d.as_mut(), &values[..1600]);
            let good = serde_json::to_value(&d).expect("encodes");
            let leaves = json_paths(&good);
            let mut tried = 0;
            for path in &leaves {
                for bad in mutations(json_at_mut(&mut good.clone(), path)) {
                    let mut spoiled = good.clone();
                    *json_at_mut(&mut spoiled, path) = bad;
                    tried += 1;
                    if let Ok(mut decoded) = serde_json::from_value::<Box<dyn Detector>>(spoiled) {
                        // It decoded and passed its checks: it must run without panicking.
                        signals(decoded.as_mut(), &values[1600..]);
                        let _ = decoded.split_means();
                    }
                }
            }
            assert!(tried > 20, "{}: only {tried} mutations", entry.name);
        }
    }

    #[test]
    fn an_unknown_kind_is_refused_with_the_known_ones() {
        let e = serde_json::from_str::<Box<dyn Detector>>(r#"{"kind": "adwinn", "state": {}}"#).expect_err("unknown");
        assert!(e.to_string().contains("it knows adwin, page-hinkley"), "{e}");
    }

    #[test]
    fn binary_detectors_take_zero_and_one_only() {
        for entry in ENTRIES {
            let d = (entry.build)((entry.defaults)()).expect("defaults build");
            assert!(d.check_value(1.0).is_ok() && d.check_value(0.0).is_ok());
            assert!(d.check_value(f64::NAN).is_err());
            let half = d.check_value(0.5);
            match entry.input {
                Input::Binary => assert_eq!(
                    half.expect_err("binary").to_string(),
                    format!("{} takes 0 or 1 (1 marks an error), got 0.5", entry.name)
                ),
                Input::Real => assert!(half.is_ok()),
            }
        }
    }
}
