//! The drift detectors eddy offers, defined once.
//!
//! Each detector has one [`DetectorEntry`]: its name in specs, what it takes, its
//! parameters (River's names, with docs and allowed values), how to build it and how
//! to decode its state. [`ENTRIES`] lists them; the spec language, `eddy drift
//! --list` and `--help`, decoding and the tests read this list.
//!
//! Specs use the model language ([`crate::spec`]) with one stage and no label:
//! `adwin`, `page-hinkley(threshold=20, mode=up)`. Its parameters are checked as a
//! model's are, with the same errors.

use super::{decode, Adwin, Ddm, Detector, Eddm, HddmA, HddmW, Input, Kswin, PageHinkley};
use super::{AdwinParams, DdmParams, EddmParams, HddmAParams, HddmWParams, KswinParams, PageHinkleyParams};
use crate::error::DriftParamsError;
use crate::model::registry::{check_args, did_you_mean, json_as_spec, param_lines, Param};
use crate::spec::SpecError;
use serde_json::{Map, Value as Json};

/// Builds a detector from its checked parameters (a JSON object with every parameter).
pub type BuildFn = fn(Json) -> Result<Box<dyn Detector>, DetectorBuildError>;

/// Decodes a detector's state.
pub type DecodeFn = fn(&mut dyn erased_serde::Deserializer<'_>) -> Result<Box<dyn Detector>, erased_serde::Error>;

/// Why a detector could not be built from checked parameters.
#[derive(Debug, thiserror::Error)]
pub enum DetectorBuildError {
    /// The parameters break one of the detector's rules.
    #[error(transparent)]
    Params(#[from] DriftParamsError),
    /// The parameters do not fit the detector's parameter type.
    #[error("{0}")]
    Decode(#[from] serde_json::Error),
}

/// One detector eddy offers.
pub struct DetectorEntry {
    /// The name in specs (`adwin`, `page-hinkley`, `hddm-a`).
    pub name: &'static str,
    /// One line on what it is.
    pub summary: &'static str,
    /// River's class, whose semantics and defaults it follows.
    pub river: &'static str,
    /// The values it takes.
    pub input: Input,
    /// True when it can warn before it drifts.
    pub warns: bool,
    /// Its parameters.
    pub params: &'static [Param],
    /// Its default parameters, as the JSON object `build` reads.
    pub defaults: fn() -> Json,
    /// Build it.
    pub build: BuildFn,
    /// Decode its state.
    pub decode: DecodeFn,
}

impl std::fmt::Debug for DetectorEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetectorEntry").field("name", &self.name).finish_non_exhaustive()
    }
}

fn defaults<P: Default + serde::Serialize>() -> Json {
    serde_json::to_value(P::default()).unwrap_or(Json::Null)
}

fn params<P: serde::de::DeserializeOwned>(json: Json) -> Result<P, DetectorBuildError> {
    Ok(serde_json::from_value(json)?)
}

/// ADWIN.
pub static ADWIN: DetectorEntry = DetectorEntry {
    name: "adwin",
    summary: "adaptive windowing: drops the old part of its window when the two parts' means differ",
    river: "drift.ADWIN",
    input: Input::Real,
    warns: false,
    params: &[
        Param::float("delta", 0.0, true, 1.0, "significance of the cut test: smaller finds fewer, surer drifts"),
        Param::int("clock", 1, "test for a cut every this many values"),
        Param::int("max_buckets", 1, "buckets of each size kept before two merge (at most 65536)"),
        Param::int("min_window_length", 1, "the fewest values on each side of a cut"),
        Param::int("grace_period", 0, "no test until the window holds more values than this"),
    ],
    defaults: defaults::<AdwinParams>,
    build: |json| Ok(Box::new(params::<AdwinParams>(json)?.build()?)),
    decode: decode::<Adwin>,
};

/// Page-Hinkley.
pub static PAGE_HINKLEY: DetectorEntry = DetectorEntry {
    name: "page-hinkley",
    summary: "Page-Hinkley test: cumulative deviations from the running mean",
    river: "drift.PageHinkley",
    input: Input::Real,
    warns: false,
    params: &[
        Param::int("min_instances", 0, "values seen before the test starts"),
        Param::float("delta", 0.0, false, f64::INFINITY, "change per value the cumulative sums tolerate"),
        Param::float("threshold", 0.0, false, f64::INFINITY, "a cumulative sum this far from its extreme is a drift"),
        Param::float("alpha", 0.0, false, 1.0, "forgetting factor of the cumulative sums"),
        Param::choice("mode", &["both", "up", "down"], "look for increases, decreases or both"),
    ],
    defaults: defaults::<PageHinkleyParams>,
    build: |json| Ok(Box::new(params::<PageHinkleyParams>(json)?.build()?)),
    decode: decode::<PageHinkley>,
};

/// KSWIN.
pub static KSWIN: DetectorEntry = DetectorEntry {
    name: "kswin",
    summary: "Kolmogorov-Smirnov test of a random sample of the window's old values against its newest",
    river: "drift.KSWIN",
    input: Input::Real,
    warns: false,
    params: &[
        Param::float("alpha", 0.0, false, 1.0, "significance of the test"),
        Param::int("window_size", 2, "values kept (at least 2 * stat_size, at most 1048576)"),
        Param::int("stat_size", 1, "values in each tested sample (at most 10000)"),
        Param::int("seed", 0, "seed of the draws (River's default draws a fresh one; eddy's is 0)"),
    ],
    defaults: defaults::<KswinParams>,
    build: |json| Ok(Box::new(params::<KswinParams>(json)?.build()?)),
    decode: decode::<Kswin>,
};

/// DDM.
pub static DDM: DetectorEntry = DetectorEntry {
    name: "ddm",
    summary: "drift detection method: the error rate against its lowest point",
    river: "drift.binary.DDM",
    input: Input::Binary,
    warns: true,
    params: &[
        Param::int("warm_start", 0, "values seen before the test starts"),
        Param::float("warning_threshold", 0.0, false, f64::INFINITY, "standard deviations above the best that warn"),
        Param::float("drift_threshold", 0.0, false, f64::INFINITY, "standard deviations above the best that drift"),
    ],
    defaults: defaults::<DdmParams>,
    build: |json| Ok(Box::new(params::<DdmParams>(json)?.build()?)),
    decode: decode::<Ddm>,
};

/// EDDM.
pub static EDDM: DetectorEntry = DetectorEntry {
    name: "eddm",
    summary: "early drift detection method: the distance between errors against its largest",
    river: "drift.binary.EDDM",
    input: Input::Binary,
    warns: true,
    params: &[
        Param::int("warm_start", 0, "values and errors seen before the test starts"),
        Param::float("alpha", 0.0, false, 1.0, "warning level: a ratio below it warns (>= beta)"),
        Param::float("beta", 0.0, false, 1.0, "drift level: a ratio below it drifts"),
    ],
    defaults: defaults::<EddmParams>,
    build: |json| Ok(Box::new(params::<EddmParams>(json)?.build()?)),
    decode: decode::<Eddm>,
};

/// HDDM_A.
pub static HDDM_A: DetectorEntry = DetectorEntry {
    name: "hddm-a",
    summary: "Hoeffding's bound on the mean since a cut point (moving averages)",
    river: "drift.binary.HDDMA",
    input: Input::Binary,
    warns: true,
    params: &[
        Param::float("drift_confidence", 0.0, true, 1.0, "confidence of the drift test (below 1)"),
        Param::float("warning_confidence", 0.0, true, 1.0, "confidence of the warning test (below 1)"),
        Param::bool("two_sided_test", "also look for a fall of the error rate"),
    ],
    defaults: defaults::<HddmAParams>,
    build: |json| Ok(Box::new(params::<HddmAParams>(json)?.build()?)),
    decode: decode::<HddmA>,
};

/// HDDM_W.
pub static HDDM_W: DetectorEntry = DetectorEntry {
    name: "hddm-w",
    summary: "McDiarmid's bound on exponentially weighted means since a cut point",
    river: "drift.binary.HDDMW",
    input: Input::Binary,
    warns: true,
    params: &[
        Param::float("drift_confidence", 0.0, true, 1.0, "confidence of the drift test (below 1)"),
        Param::float("warning_confidence", 0.0, true, 1.0, "confidence of the warning test (below 1)"),
        Param::float("lambda_val", 0.0, true, 1.0, "weight of the newest value in the moving averages"),
        Param::bool("two_sided_test", "also look for a fall of the error rate"),
    ],
    defaults: defaults::<HddmWParams>,
    build: |json| Ok(Box::new(params::<HddmWParams>(json)?.build()?)),
    decode: decode::<HddmW>,
};

/// Every detector, in the order `eddy drift --list` shows them.
pub static ENTRIES: &[&DetectorEntry] = &[&ADWIN, &PAGE_HINKLEY, &KSWIN, &DDM, &EDDM, &HDDM_A, &HDDM_W];

/// The entry called `name`.
pub fn find(name: &str) -> Option<&'static DetectorEntry> {
    ENTRIES.iter().copied().find(|e| e.name == name)
}

/// Every detector's name.
pub fn names() -> Vec<&'static str> {
    ENTRIES.iter().map(|e| e.name).collect()
}

/// Read and build a detector spec such as `adwin(delta=0.01)`.
pub fn build_text(text: &str) -> Result<Box<dyn Detector>, SpecError> {
    let spec = crate::spec::parse(text)?;
    if spec.label.is_some() {
        return Err(SpecError::new(text, 0, "a detector takes no label: write it alone, e.g. adwin(delta=0.01)"));
    }
    if let Some(second) = spec.stages.get(1) {
        return Err(SpecError::new(text, second.at, "a detector spec is one detector: `|` joins the stages of models"));
    }
    let Some(stage) = spec.stages.first() else {
        return Err(SpecError::new(text, 0, "an empty detector spec"));
    };
    let entry = find(&stage.name).ok_or_else(|| {
        let why = if crate::model::registry::find(&stage.name).is_some() {
            format!("{} is a model, not a drift detector: use one of {}", stage.name, names().join(", "))
        } else {
            format!("unknown detector {:?}: {}", stage.name, did_you_mean(&stage.name, names(), &names()))
        };
        SpecError::new(text, stage.at, why)
    })?;
    let mut params = match (entry.defaults)() {
        Json::Object(m) => m,
        _ => Map::new(),
    };
    let hint = |name: &str| {
        let all: Vec<&str> = entry.params.iter().map(|p| p.name).collect();
        let owners: Vec<&str> =
            ENTRIES.iter().filter(|e| e.params.iter().any(|p| p.name == name)).map(|e| e.name).collect();
        if owners.is_empty() {
            did_you_mean(name, all.clone(), &all)
        } else {
            format!("it is a parameter of {}", owners.join(", "))
        }
    };
    for (param, json) in check_args(text, entry.name, stage, entry.params, hint, |_, _| None)? {
        params.insert(param.name.into(), json);
    }
    (entry.build)(Json::Object(params)).map_err(|e| SpecError::new(text, stage.at, format!("{}: {e}", entry.name)))
}

/// A detector in the spec language: its name and every parameter that differs
/// from its default.
pub fn spec_of(detector: &dyn Detector) -> String {
    let entry = detector.entry();
    let defaults = (entry.defaults)();
    let params = detector.params_json();
    let args: Vec<String> = entry
        .params
        .iter()
        .filter_map(|p| {
            let v = params.get(p.name)?;
            (defaults.get(p.name) != Some(v)).then(|| format!("{}={}", p.name, json_as_spec(v)))
        })
        .collect();
    if args.is_empty() {
        entry.name.into()
    } else {
        format!("{}({})", entry.name, args.join(", "))
    }
}

/// Every detector (or the one named) with its parameters, defaults, allowed values
/// and what each does: `eddy drift --list` and the end of `eddy drift --help`.
pub fn describe(only: Option<&str>) -> Result<String, String> {
    let entries: Vec<&DetectorEntry> = match only {
        Some(name) => vec![find(name)
            .ok_or_else(|| format!("unknown detector {name:?}: {}", did_you_mean(name, names(), &names())))?],
        None => ENTRIES.to_vec(),
    };
    let mut out = String::new();
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let input = match e.input {
            Input::Real => "numbers",
            Input::Binary => "0/1",
        };
        let signals = if e.warns { "warnings, drifts" } else { "drifts" };
        out.push_str(&format!("{} ({input}; {signals}; River's {}): {}\n", e.name, e.river, e.summary));
        let defaults = (e.defaults)();
        param_lines(&mut out, e.params, |p| defaults.get(p.name).map_or_else(|| "-".into(), json_as_spec));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(spec: &str) -> String {
        build_text(spec).expect_err("refused").message
    }

    #[test]
    fn names_are_unique_and_params_match_their_defaults() {
        let mut seen = std::collections::HashSet::new();
        for e in ENTRIES {
            assert!(seen.insert(e.name), "{} twice", e.name);
            assert!(crate::model::registry::find(e.name).is_none(), "{} is also a model", e.name);
            let defaults = (e.defaults)();
            let object = defaults.as_object().expect("an object");
            assert_eq!(object.len(), e.params.len(), "{}: params and their type differ", e.name);
            for p in e.params {
                assert!(object.contains_key(p.name), "{}: {} has no default", e.name, p.name);
            }
            let built = (e.build)(defaults).expect("defaults build");
            assert_eq!(built.entry().name, e.name);
            assert_eq!(built.spec(), e.name);
        }
    }

    #[test]
    fn a_built_detector_prints_its_spec() {
        for text in [
            "adwin(delta=0.01, clock=1)",
            "page-hinkley(threshold=20, mode=up)",
            "kswin(window_size=60, seed=7)",
            "ddm(warm_start=50)",
            "eddm(alpha=0.9, beta=0.8)",
            "hddm-a(two_sided_test=true)",
            "hddm-w(lambda_val=0.1)",
        ] {
            let d = build_text(text).expect("valid");
            assert_eq!(d.spec(), text);
        }
        assert_eq!(build_text("adwin(delta=0.002)").expect("valid").spec(), "adwin");
    }

    #[test]
    fn bad_specs_get_one_clear_error() {
        assert_eq!(err("adwin(delta=0)"), "adwin: delta must be a number > 0 and <= 1, got 0");
        assert_eq!(err("adwn"), "unknown detector \"adwn\": did you mean adwin?");
        assert_eq!(err("adwin(delt=0.1)"), "adwin: unknown parameter \"delt\": did you mean delta?");
        assert_eq!(
            err("adwin(threshold=3)"),
            "adwin: unknown parameter \"threshold\": it is a parameter of page-hinkley"
        );
        assert_eq!(err("adwin(delta=0.1, delta=0.2)"), "adwin: delta is given twice");
        assert!(err("sgd").starts_with("sgd is a model, not a drift detector"), "{}", err("sgd"));
        assert!(err("adwin | ddm").contains("one detector"));
        assert!(err("a=adwin").contains("no label"));
        assert_eq!(err("page-hinkley(mode=sideways)"), "page-hinkley: mode must be both | up | down, got sideways");
        assert_eq!(err("eddm(alpha=0.5)"), "eddm: alpha must be >= beta, got alpha=0.5 and beta=0.9");
        assert_eq!(
            err("kswin(stat_size=60)"),
            "kswin: window_size must be at least 2 * stat_size, got window_size=100 and stat_size=60"
        );
        assert_eq!(err("adwin(max_buckets=100000)"), "adwin: max_buckets must be >= 1 and <= 65536, got 100000");
        assert_eq!(err("hddm-a(drift_confidence=1)"), "hddm-a: drift_confidence must be > 0 and < 1, got 1");
        let e = build_text("ddm(warm_start=-1)").expect_err("negative");
        assert_eq!(e.at, 4);
    }

    #[test]
    fn the_list_shows_every_detector_and_parameter() {
        let text = describe(None).expect("all");
        for e in ENTRIES {
            assert!(text.contains(&format!("{} (", e.name)), "{}", e.name);
            for p in e.params {
                assert!(text.contains(p.name));
            }
        }
        assert!(describe(Some("adwn")).expect_err("unknown").contains("did you mean adwin"));
    }
}
