//! The registry: every stage eddy offers, defined once.
//!
//! Each stage's module declares one [`Entry`] (name, role, parameters with their
//! docs and allowed values, how to build it from checked parameters and how to
//! decode its state); [`ENTRIES`] lists them. The spec language, `eddy model
//! list`, the CLI's help, model files, checkpoints, the service and the contract
//! tests all read this list, so a new stage is covered by them without edits.

pub use super::stage::AnyStage;
use super::stage::{Chain, Model, Stage};
use crate::error::ParamsError;
use crate::spec::{Arg, Spec, SpecError, StageSpec, Value};
use serde_json::{Map, Value as Json};

/// What a stage does in a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Changes the features on their way to the estimator (e.g. `scale`).
    Transformer,
    /// Predicts a class from labelled records.
    Classifier,
    /// Assigns records to clusters without labels.
    Clusterer,
}

impl Role {
    /// The word used in help and errors.
    pub fn word(self) -> &'static str {
        match self {
            Self::Transformer => "transformer",
            Self::Classifier => "classifier",
            Self::Clusterer => "clusterer",
        }
    }
}

/// The values a parameter takes.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A real number in `[min, max]` (`min_open`: strictly above `min`; `max_open`:
    /// strictly below `max`).
    Float {
        /// Lower bound.
        min: f64,
        /// True when the lower bound itself is excluded.
        min_open: bool,
        /// Upper bound.
        max: f64,
        /// True when the upper bound itself is excluded.
        max_open: bool,
    },
    /// A whole number of at least `min`.
    Int {
        /// Lower bound.
        min: i64,
    },
    /// `true` or `false`.
    Bool,
    /// One of these names; `canonical|alias|...` lists accepted spellings.
    Choice(&'static [&'static str]),
    /// A model in the model language ending with an estimator of this role: the
    /// model a wrapper wraps (`model=scale | sgd(loss=log_loss)`).
    Model(Role),
    /// A list of models of this role, each in the model language: the members of an
    /// ensemble (`models=[scale | sgd(eta0=0.01), gaussian-nb]`).
    Models(Role),
    /// A drift detector in the spec language (`detector=adwin(delta=0.002)`).
    Detector,
    /// A list of column names (`columns=[city, device]`); empty: every one that fits.
    Columns,
    /// A number or a text (`fill_value=0`, `fill_value="unknown"`).
    Scalar,
    /// A count (a whole number >= 1), a share in (0, 1], or one of these names
    /// (`max_features=sqrt`, `max_features=5`, `max_features=0.3`).
    CountOrShare(&'static [&'static str]),
}

/// The most models a list-of-models parameter takes (an ensemble's members): each
/// learns every record, so the list bounds the work per record.
pub const MAX_MODELS: usize = 64;

/// One parameter of a stage.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Its name (scikit-learn's).
    pub name: &'static str,
    /// The values it takes.
    pub kind: Kind,
    /// One line on what it does.
    pub doc: &'static str,
}

impl Param {
    /// A real parameter `>= min` (or `> min` when `open`), `<= max`.
    pub const fn float(name: &'static str, min: f64, min_open: bool, max: f64, doc: &'static str) -> Self {
        Self { name, kind: Kind::Float { min, min_open, max, max_open: false }, doc }
    }
    /// A real parameter `>= min` and `< max`.
    pub const fn float_below(name: &'static str, min: f64, max: f64, doc: &'static str) -> Self {
        Self { name, kind: Kind::Float { min, min_open: false, max, max_open: true }, doc }
    }
    /// A whole-number parameter `>= min`.
    pub const fn int(name: &'static str, min: i64, doc: &'static str) -> Self {
        Self { name, kind: Kind::Int { min }, doc }
    }
    /// A `true`/`false` parameter.
    pub const fn bool(name: &'static str, doc: &'static str) -> Self {
        Self { name, kind: Kind::Bool, doc }
    }
    /// A parameter that takes a model of `role`.
    pub const fn model(name: &'static str, role: Role, doc: &'static str) -> Self {
        Self { name, kind: Kind::Model(role), doc }
    }
    /// A parameter that takes a list of models of `role`.
    pub const fn models(name: &'static str, role: Role, doc: &'static str) -> Self {
        Self { name, kind: Kind::Models(role), doc }
    }
    /// A parameter that takes a drift detector.
    pub const fn detector(name: &'static str, doc: &'static str) -> Self {
        Self { name, kind: Kind::Detector, doc }
    }
    /// A parameter that takes a list of column names.
    pub const fn columns(name: &'static str, doc: &'static str) -> Self {
        Self { name, kind: Kind::Columns, doc }
    }
    /// A parameter that takes a number or a text.
    pub const fn scalar(name: &'static str, doc: &'static str) -> Self {
        Self { name, kind: Kind::Scalar, doc }
    }
    /// A parameter that takes a count, a share, or one of `names`.
    pub const fn count_or_share(name: &'static str, names: &'static [&'static str], doc: &'static str) -> Self {
        Self { name, kind: Kind::CountOrShare(names), doc }
    }
    /// A parameter that takes one of `choices`.
    pub const fn choice(name: &'static str, choices: &'static [&'static str], doc: &'static str) -> Self {
        Self { name, kind: Kind::Choice(choices), doc }
    }

    /// The allowed values, for help.
    pub fn allowed(&self) -> String {
        match self.kind {
            Kind::Float { min, min_open, max, max_open } => {
                let low = if min == f64::NEG_INFINITY {
                    String::new()
                } else {
                    format!("{} {min}", if min_open { ">" } else { ">=" })
                };
                let high = if max == f64::INFINITY {
                    String::new()
                } else {
                    format!("{} {max}", if max_open { "<" } else { "<=" })
                };
                let parts: Vec<String> = [low, high].into_iter().filter(|s| !s.is_empty()).collect();
                if parts.is_empty() {
                    "a number".into()
                } else {
                    format!("a number {}", parts.join(" and "))
                }
            }
            Kind::Int { min } => format!("a whole number >= {min}"),
            Kind::Bool => "true | false".into(),
            Kind::Choice(choices) => choices
                .iter()
                .map(|c| c.replace('|', " (or ") + if c.contains('|') { ")" } else { "" })
                .collect::<Vec<_>>()
                .join(" | "),
            Kind::Model(role) => format!("a {} in the model language", role.word()),
            Kind::Models(role) => {
                format!("a list of 1 to {MAX_MODELS} {}s in the model language, [MODEL, MODEL, ...]", role.word())
            }
            Kind::Detector => format!("a drift detector: {}", crate::drift::registry::names().join(" | ")),
            Kind::Columns => "a list of column names, [a, b, ...] ([]: every categorical column)".into(),
            Kind::Scalar => "a number or a \"text\"".into(),
            Kind::CountOrShare(names) => format!("a count >= 1, a share in (0, 1], or {}", names.join(" | ")),
        }
    }

    /// Check a written value and turn it into the JSON the stage's params read.
    pub fn check(&self, stage: &str, value: &Value) -> Result<Json, String> {
        let wrong = || format!("{stage}: {} must be {}, got {value}", self.name, self.allowed());
        match (self.kind, value) {
            (Kind::Float { min, min_open, max, max_open }, Value::Int(_) | Value::Float(_)) => {
                let v = match *value {
                    Value::Int(i) => i as f64,
                    Value::Float(f) => f,
                    _ => unreachable!("matched above"),
                };
                let below = if min_open { v <= min } else { v < min };
                let above = if max_open { v >= max } else { v > max };
                if below || above || !v.is_finite() {
                    return Err(wrong());
                }
                Ok(serde_json::json!(v))
            }
            (Kind::Int { min }, Value::Int(i)) if *i >= min => Ok(Json::from(*i)),
            (Kind::Bool, Value::Name(n)) if n == "true" || n == "false" => Ok(Json::Bool(n == "true")),
            (Kind::Choice(choices), Value::Name(n) | Value::Str(n)) => choices
                .iter()
                .find_map(|c| c.split('|').any(|s| s == n).then(|| c.split('|').next().unwrap_or(c)))
                .map(|canonical| Json::String(canonical.into()))
                .ok_or_else(wrong),
            (Kind::Model(role), Value::Stages(_) | Value::Name(_)) => {
                self.check_model(stage, role, value).map(Json::String)
            }
            (Kind::Models(role), Value::List(items)) => {
                if items.is_empty() || items.len() > MAX_MODELS {
                    return Err(format!(
                        "{stage}: {} must be {}, got {} models",
                        self.name,
                        self.allowed(),
                        items.len()
                    ));
                }
                let specs = items
                    .iter()
                    .map(|item| match item {
                        Value::Stages(_) | Value::Name(_) => self.check_model(stage, role, item).map(Json::String),
                        _ => Err(format!("{stage}: {} must be {}, got {item} in the list", self.name, self.allowed())),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Json::Array(specs))
            }
            (Kind::Columns, Value::List(items)) => {
                let mut names: Vec<String> = Vec::with_capacity(items.len());
                for item in items {
                    let (Value::Name(n) | Value::Str(n)) = item else {
                        return Err(format!(
                            "{stage}: {} must be {}, got {item} in the list",
                            self.name,
                            self.allowed()
                        ));
                    };
                    if names.contains(n) {
                        return Err(format!("{stage}: {}: {n:?} is named twice", self.name));
                    }
                    names.push(n.clone());
                }
                Ok(Json::from(names))
            }
            (Kind::CountOrShare(names), Value::Name(n) | Value::Str(n)) if names.contains(&n.as_str()) => {
                Ok(Json::String(n.clone()))
            }
            (Kind::CountOrShare(_), Value::Int(i)) if *i >= 1 => Ok(Json::from(*i)),
            (Kind::CountOrShare(_), Value::Float(f)) if *f > 0.0 && *f <= 1.0 => Ok(serde_json::json!(f)),
            (Kind::Scalar, Value::Int(i)) => Ok(Json::from(*i)),
            (Kind::Scalar, Value::Float(f)) if f.is_finite() => Ok(serde_json::json!(f)),
            (Kind::Scalar, Value::Str(t) | Value::Name(t)) => Ok(Json::String(t.clone())),
            (Kind::Detector, Value::Stages(_) | Value::Name(_)) => {
                let detector = crate::drift::build_text(&value.to_string())
                    .map_err(|e| format!("{stage}: {}: {}", self.name, e.message))?;
                Ok(Json::String(detector.spec()))
            }
            _ => Err(wrong()),
        }
    }

    /// Check a model written as a parameter's value (or an element of one) and print
    /// it canonically. It is built here with no run context only to check it; the
    /// stage builds it again with the run's context.
    fn check_model(&self, stage: &str, role: Role, value: &Value) -> Result<String, String> {
        let text = value.to_string();
        let nested = |e: SpecError| format!("{stage}: {}: {}", self.name, e.message);
        let (label, model) = build_text(&text, &Context::default()).map_err(nested)?;
        if label.is_some() {
            return Err(format!("{stage}: {}: a model inside a model takes no label", self.name));
        }
        let found = match &model {
            Model::Classifier(_) => Role::Classifier,
            Model::Clusterer(_) => Role::Clusterer,
        };
        if found != role {
            return Err(format!("{stage}: {} must be {}, got a {}", self.name, self.allowed(), found.word()));
        }
        let transforms = match &model {
            Model::Classifier(m) => m.transforms(),
            Model::Clusterer(m) => m.transforms(),
        };
        if let Some(t) = transforms.iter().find(|t| t.encodes() || t.fills_missing()) {
            let name = t.entry().name;
            return Err(format!(
                "{stage}: {}: {name} reads the records as they come, so it goes before {stage} (`{name} | {stage}(...)`), \
                 not inside it",
                self.name
            ));
        }
        Ok(model.spec())
    }
}

/// Decodes a stage's state (the registry keeps one per stage).
pub type DecodeFn = fn(&mut dyn erased_serde::Deserializer<'_>) -> Result<AnyStage, erased_serde::Error>;

/// Builds a stage from its checked parameters (a JSON object with every parameter
/// given or inherited) and the run's context.
pub type BuildFn = fn(Json, &Context) -> Result<AnyStage, BuildError>;

/// Why a stage could not be built from checked parameters.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The parameters break one of the stage's rules.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// The parameters do not fit the stage's parameter type.
    #[error("{0}")]
    Decode(#[from] serde_json::Error),
    /// A model or detector given as a parameter could not be built.
    #[error("{0}")]
    Nested(String),
}

/// One stage eddy offers.
pub struct Entry {
    /// The name in specs (`sgd`, `minibatch-kmeans`, `scale`).
    pub name: &'static str,
    /// What it does in a chain.
    pub role: Role,
    /// One line on what it is.
    pub summary: &'static str,
    /// Its parameters.
    pub params: &'static [Param],
    /// True for an estimator that takes counts (values >= 0): nothing that makes
    /// values negative may come before it.
    pub takes_counts: bool,
    /// True for a transformer whose output can be negative.
    pub outputs_negative: bool,
    /// Its default parameters, as the JSON object `build` reads.
    pub defaults: fn() -> Json,
    /// Build it.
    pub build: BuildFn,
    /// Decode its state.
    pub decode: DecodeFn,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry").field("name", &self.name).field("role", &self.role).finish_non_exhaustive()
    }
}

/// Every stage, in the order `eddy model list` shows them.
pub static ENTRIES: &[&Entry] = &[
    &crate::preprocess::IMPUTE,
    &crate::preprocess::ONEHOT,
    &crate::preprocess::HASH,
    &crate::preprocess::SCALE,
    &super::linear::SGD,
    &super::linear::PERCEPTRON,
    &super::linear::PASSIVE_AGGRESSIVE,
    &super::naive_bayes::GAUSSIAN_NB,
    &super::naive_bayes::MULTINOMIAL_NB,
    &super::tree::hoeffding::HOEFFDING_TREE,
    &super::tree::adaptive::HOEFFDING_ADAPTIVE_TREE,
    &super::tree::forest::ARF,
    &super::kmeans::MINIBATCH_KMEANS,
    &super::drift_retrain::DRIFT_RETRAIN,
    &super::hedge::HEDGE,
];

/// The entry called `name`.
pub fn find(name: &str) -> Option<&'static Entry> {
    ENTRIES.iter().copied().find(|e| e.name == name)
}

/// Every stage's name.
pub fn names() -> Vec<&'static str> {
    ENTRIES.iter().map(|e| e.name).collect()
}

/// Settings of a run that stages inherit when their spec does not set them: the
/// run's batch size and seed (`--batch-size` as `batch_size`, `--seed` as
/// `random_state`), and declared classes.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Parameter values used where a stage has the parameter and its spec does not set it.
    pub inherited: Vec<(&'static str, Value)>,
    /// Declared class ids, for classifiers.
    pub classes: Option<Vec<i64>>,
}

/// Up to three names from `candidates` closest to `name`, for "did you mean".
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .map(|c| (strsim::normalized_damerau_levenshtein(name, c), c))
        .filter(|(s, _)| *s >= 0.5)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// "did you mean X?" with the nearest names, or the whole list when none is near.
pub(crate) fn did_you_mean(name: &str, candidates: Vec<&str>, all: &[&str]) -> String {
    let near = nearest(name, candidates);
    if near.is_empty() {
        format!("one of {}", all.join(", "))
    } else {
        format!("did you mean {}?", near.join(" or "))
    }
}

/// The arguments of `stage` (a stage of `owner`, whose parameters are `params`), each
/// checked: known (else an error with `unknown_hint`'s hint), given once, its value
/// valid (`special` may read a value first: `Some(result)` stands for the parameter's
/// own check). Shared by models, drift detectors and the cluster watch, so that their
/// specs read and fail alike.
pub(crate) fn check_args<'p>(
    text: &str,
    owner: &str,
    stage: &StageSpec,
    params: &'p [Param],
    unknown_hint: impl Fn(&str) -> String,
    special: impl Fn(&Param, &crate::spec::Value) -> Option<Result<Json, String>>,
) -> Result<Vec<(&'p Param, Json)>, SpecError> {
    let mut out: Vec<(&'p Param, Json)> = Vec::with_capacity(stage.args.len());
    for Arg { name, value, at } in &stage.args {
        let Some(param) = params.iter().find(|p| p.name == name) else {
            let hint = unknown_hint(name);
            return Err(SpecError::new(text, *at, format!("{owner}: unknown parameter {name:?}: {hint}")));
        };
        if out.iter().any(|(p, _)| p.name == param.name) {
            return Err(SpecError::new(text, *at, format!("{owner}: {name} is given twice")));
        }
        let json = special(param, value)
            .unwrap_or_else(|| param.check(owner, value))
            .map_err(|m| SpecError::new(text, *at, m))?;
        out.push((param, json));
    }
    Ok(out)
}

/// Check one stage's arguments against its entry and build it.
fn build_stage(text: &str, stage: &StageSpec, ctx: &Context) -> Result<AnyStage, SpecError> {
    let entry = find(&stage.name).ok_or_else(|| {
        SpecError::new(
            text,
            stage.at,
            format!("unknown model or stage {:?}: {}", stage.name, did_you_mean(&stage.name, names(), &names())),
        )
    })?;
    let mut params = match (entry.defaults)() {
        Json::Object(m) => m,
        _ => Map::new(),
    };
    let hint = |name: &str| {
        let all: Vec<&str> = entry.params.iter().map(|p| p.name).collect();
        other_role_hint(name).unwrap_or_else(|| {
            if all.is_empty() {
                "it takes no parameters".into()
            } else {
                did_you_mean(name, all.clone(), &all)
            }
        })
    };
    let args = check_args(text, entry.name, stage, entry.params, hint, |_, _| None)?;
    let given: Vec<&str> = args.iter().map(|(p, _)| p.name).collect();
    for (param, json) in args {
        params.insert(param.name.into(), json);
    }
    for (name, value) in &ctx.inherited {
        if let Some(param) = entry.params.iter().find(|p| p.name == *name && !given.contains(name)) {
            let json = param.check(entry.name, value).map_err(|m| SpecError::new(text, stage.at, m))?;
            params.insert(param.name.into(), json);
        }
    }
    (entry.build)(Json::Object(params), ctx).map_err(|e| SpecError::new(text, stage.at, format!("{}: {e}", entry.name)))
}

/// When `param` belongs to stages of another role, say so ("a clusterer
/// parameter on a classifier").
fn other_role_hint(param: &str) -> Option<String> {
    let owners: Vec<&Entry> = ENTRIES.iter().copied().filter(|e| e.params.iter().any(|p| p.name == param)).collect();
    if owners.is_empty() {
        return None;
    }
    let names: Vec<&str> = owners.iter().map(|e| e.name).collect();
    Some(format!("it is a parameter of {}", names.join(", ")))
}

/// Build a model from a parsed spec (`text` is the spec as written, for errors).
pub fn build(text: &str, spec: &Spec, ctx: &Context) -> Result<Model, SpecError> {
    let (last, front) = spec.stages.split_last().ok_or_else(|| SpecError::new(text, 0, "an empty model spec"))?;
    let mut transforms: Vec<Box<dyn super::Transformer>> = Vec::new();
    let mut negative_from: Option<&str> = None;
    let mut widened_by: Option<&str> = None;
    for stage in front {
        match build_stage(text, stage, ctx)? {
            AnyStage::Transformer(t) => {
                let name = t.entry().name;
                if t.entry().outputs_negative {
                    negative_from.get_or_insert(name);
                }
                if t.fills_missing() && !transforms.is_empty() {
                    return Err(SpecError::new(
                        text,
                        stage.at,
                        format!("{name} fills missing values for the stages after it: it must come first"),
                    ));
                }
                if let (Some(w), false) = (widened_by, t.can_grow()) {
                    return Err(SpecError::new(
                        text,
                        stage.at,
                        format!(
                            "{name} cannot follow {w}: {w} adds a column per new category, and {name} cannot take \
                             new columns; put {name} before {w}"
                        ),
                    ));
                }
                if t.widens() {
                    widened_by.get_or_insert(name);
                }
                transforms.push(t);
            }
            other => {
                let role = match other {
                    AnyStage::Classifier(_) => "classifier",
                    _ => "clusterer",
                };
                return Err(SpecError::new(
                    text,
                    stage.at,
                    format!("{} is a {role}: only the last stage of a chain may be an estimator", stage.name),
                ));
            }
        }
    }
    let head = build_stage(text, last, ctx)?;
    let head_grows = match &head {
        AnyStage::Classifier(m) => m.can_grow(),
        AnyStage::Clusterer(m) => m.can_grow(),
        AnyStage::Transformer(_) => true,
    };
    if let (Some(w), false) = (widened_by, head_grows) {
        return Err(SpecError::new(
            text,
            last.at,
            format!(
                "{} cannot follow {w}: {w} adds a column per new category, and {} cannot take new columns",
                last.name, last.name
            ),
        ));
    }
    let takes_counts = match &head {
        AnyStage::Classifier(m) => m.entry().takes_counts,
        AnyStage::Clusterer(m) => m.entry().takes_counts,
        AnyStage::Transformer(_) => false,
    };
    if let (true, Some(t)) = (takes_counts, negative_from) {
        return Err(SpecError::new(
            text,
            last.at,
            format!("{} takes counts (values >= 0): it cannot follow {t}, whose values can be negative", last.name),
        ));
    }
    match head {
        AnyStage::Classifier(m) => Ok(Model::Classifier(Chain::with_transforms(transforms, m))),
        AnyStage::Clusterer(m) => Ok(Model::Clusterer(Chain::with_transforms(transforms, m))),
        AnyStage::Transformer(t) => Err(SpecError::new(
            text,
            last.at,
            format!(
                "{} is a transformer: a model ends with an estimator (e.g. `{} | sgd`)",
                t.entry().name,
                t.entry().name
            ),
        )),
    }
}

/// Build one transformer alone from its spec, e.g. `scale(with_mean=false)`: for
/// callers that transform records themselves (the Python package's `StandardScaler`).
pub fn build_transformer(text: &str) -> Result<Box<dyn super::Transformer>, SpecError> {
    let spec = crate::spec::parse(text)?;
    let [stage] = spec.stages.as_slice() else {
        return Err(SpecError::new(text, 0, "one transformer alone, e.g. `scale`, not a chain"));
    };
    match build_stage(text, stage, &Context::default())? {
        AnyStage::Transformer(t) => Ok(t),
        other => {
            Err(SpecError::new(text, stage.at, format!("{} is a {}, not a transformer", stage.name, other.role())))
        }
    }
}

/// Read and build a model spec, e.g. `scale | sgd(loss=log_loss)`. Returns the
/// spec's label (from `label=...`), if any, with the model.
pub fn build_text(text: &str, ctx: &Context) -> Result<(Option<String>, Model), SpecError> {
    let spec = crate::spec::parse(text)?;
    let model = build(text, &spec, ctx)?;
    Ok((spec.label, model))
}

/// A stage in the model language: its name and every parameter that differs from
/// the default.
pub fn stage_spec(stage: &dyn Stage) -> String {
    let entry = stage.entry();
    let defaults = (entry.defaults)();
    let params = stage.params_json();
    let args: Vec<String> = entry
        .params
        .iter()
        .filter_map(|p| {
            let v = params.get(p.name)?;
            (defaults.get(p.name) != Some(v)).then(|| format!("{}={}", p.name, value_as_spec(p, v)))
        })
        .collect();
    if args.is_empty() {
        entry.name.into()
    } else {
        format!("{}({})", entry.name, args.join(", "))
    }
}

/// A parameter's JSON value as the spec writes it: models and detectors as their
/// own specs, unquoted.
fn value_as_spec(param: &Param, v: &Json) -> String {
    match (param.kind, v) {
        (Kind::Model(_) | Kind::Detector, Json::String(text)) => text.clone(),
        (Kind::Models(_), Json::Array(items)) => {
            let specs: Vec<String> =
                items.iter().map(|v| v.as_str().map_or_else(|| json_as_spec(v), str::to_string)).collect();
            format!("[{}]", specs.join(", "))
        }
        _ => json_as_spec(v),
    }
}

/// A parameter's JSON value as the spec writes it.
pub(crate) fn json_as_spec(v: &Json) -> String {
    match v {
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            (None, Some(f)) => Value::Float(f).to_string(),
            _ => n.to_string(),
        },
        Json::String(s) => Value::Str(s.clone()).to_string(),
        Json::Bool(b) => b.to_string(),
        Json::Array(items) => format!("[{}]", items.iter().map(json_as_spec).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// The default of `param` of `entry`, as the spec writes it.
pub fn default_of(entry: &Entry, param: &str) -> Option<String> {
    let p = entry.params.iter().find(|p| p.name == param)?;
    (entry.defaults)().get(param).map(|v| value_as_spec(p, v))
}

/// `eddy model list`: every stage (or the one named), with its parameters,
/// defaults, allowed values and what each does.
pub fn describe(only: Option<&str>) -> Result<String, String> {
    let entries: Vec<&Entry> = match only {
        Some(name) => vec![find(name)
            .ok_or_else(|| format!("unknown model or stage {name:?}: {}", did_you_mean(name, names(), &names())))?],
        None => ENTRIES.to_vec(),
    };
    let mut out = String::new();
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{} ({}): {}\n", e.name, e.role.word(), e.summary));
        param_lines(&mut out, e.params, |p| default_of(e, p.name).unwrap_or_else(|| "-".into()));
    }
    Ok(out)
}

/// One line per parameter, as `eddy model list`, `eddy drift --list` and the cluster
/// watch's help print them: name, default, what it does, the values it takes.
pub(crate) fn param_lines(out: &mut String, params: &[Param], default: impl Fn(&Param) -> String) {
    for p in params {
        out.push_str(&format!("  {:<20} = {:<10} {}; {}\n", p.name, default(p), p.doc, p.allowed()));
    }
}

/// The defaults of a params type as JSON (for [`Entry::defaults`]).
pub fn defaults_of<P: Default + serde::Serialize>() -> Json {
    serde_json::to_value(P::default()).unwrap_or(Json::Null)
}

/// Read checked parameters into a params type (for [`Entry::build`]).
pub fn params_from<P: serde::de::DeserializeOwned>(json: Json) -> Result<P, BuildError> {
    Ok(serde_json::from_value(json)?)
}

/// The [`Entry::build`] of a classifier: read its params type from the checked
/// parameters, give it the run's declared classes, build and box it.
macro_rules! classifier_build {
    ($params:ty) => {
        |json, ctx| {
            let mut p: $params = $crate::model::registry::params_from(json)?;
            p.classes = ctx.classes.clone();
            Ok($crate::model::registry::AnyStage::Classifier(Box::new(p.build()?)))
        }
    };
}
pub(crate) use classifier_build;

/// The [`Entry::build`] of a transformer: read its params type from the checked
/// parameters, build and box it.
macro_rules! transformer_build {
    ($params:ty) => {
        |json, _| {
            let p: $params = $crate::model::registry::params_from(json)?;
            Ok($crate::model::registry::AnyStage::Transformer(Box::new(p.build()?)))
        }
    };
}
pub(crate) use transformer_build;

/// Decode a classifier's state (for [`Entry::decode`]).
pub fn decode_classifier<M>(d: &mut dyn erased_serde::Deserializer<'_>) -> Result<AnyStage, erased_serde::Error>
where
    M: super::stage::ClassifierStage + serde::de::DeserializeOwned + 'static,
{
    Ok(AnyStage::Classifier(Box::new(erased_serde::deserialize::<M>(d)?)))
}

/// Decode a clusterer's state (for [`Entry::decode`]).
pub fn decode_clusterer<M>(d: &mut dyn erased_serde::Deserializer<'_>) -> Result<AnyStage, erased_serde::Error>
where
    M: super::stage::ClustererStage + serde::de::DeserializeOwned + 'static,
{
    Ok(AnyStage::Clusterer(Box::new(erased_serde::deserialize::<M>(d)?)))
}

/// Decode a transformer's state (for [`Entry::decode`]).
pub fn decode_transformer<M>(d: &mut dyn erased_serde::Deserializer<'_>) -> Result<AnyStage, erased_serde::Error>
where
    M: super::stage::Transformer + serde::de::DeserializeOwned + 'static,
{
    Ok(AnyStage::Transformer(Box::new(erased_serde::deserialize::<M>(d)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(spec: &str) -> String {
        let parsed = crate::spec::parse(spec).expect("parses");
        build(spec, &parsed, &Context::default()).expect_err("refused").message
    }

    #[test]
    fn names_are_unique_and_params_match_their_defaults() {
        let mut seen = std::collections::HashSet::new();
        for e in ENTRIES {
            assert!(seen.insert(e.name), "{} twice", e.name);
            let defaults = (e.defaults)();
            for p in e.params {
                assert!(defaults.get(p.name).is_some(), "{}: {} has no default in the params type", e.name, p.name);
            }
        }
    }

    #[test]
    fn bad_specs_get_one_clear_error() {
        assert_eq!(err("sgd(alpha=-1)"), "sgd: alpha must be a number >= 0, got -1");
        assert!(err("sdg").contains("did you mean sgd"), "{}", err("sdg"));
        assert!(err("sgd(alhpa=1)").contains("did you mean alpha"), "{}", err("sgd(alhpa=1)"));
        assert!(err("sgd(n_clusters=3)").contains("parameter of minibatch-kmeans"), "{}", err("sgd(n_clusters=3)"));
        assert!(err("sgd(loss=square)").contains("hinge"), "{}", err("sgd(loss=square)"));
        assert!(err("sgd | scale").contains("only the last stage"), "{}", err("sgd | scale"));
        assert!(err("scale").contains("ends with an estimator"), "{}", err("scale"));
        assert!(err("scale | multinomial-nb").contains("takes counts"), "{}", err("scale | multinomial-nb"));
        assert!(err("sgd(alpha=0)").contains("optimal learning rate needs alpha > 0"), "{}", err("sgd(alpha=0)"));
        assert!(err("sgd(alpha=1, alpha=2)").contains("twice"));
        assert!(err("minibatch-kmeans(n_clusters=0)").contains("n_clusters must be"));
    }

    #[test]
    fn a_built_model_prints_its_spec() {
        let m = Model::from_spec("scale | sgd(loss=log, alpha=0, learning_rate=constant)").expect("valid");
        assert_eq!(m.spec(), "scale | sgd(loss=log_loss, alpha=0, learning_rate=constant)");
        assert_eq!(Model::from_spec(&m.spec()).expect("reads back").spec(), m.spec());
        assert_eq!(Model::from_spec("minibatch-kmeans").expect("valid").spec(), "minibatch-kmeans");
    }

    #[test]
    fn inherited_settings_apply_only_where_the_spec_is_silent() {
        let ctx = Context {
            inherited: vec![("n_clusters", Value::Int(3)), ("loss", Value::Name("log".into()))],
            classes: None,
        };
        let spec = crate::spec::parse("minibatch-kmeans(n_clusters=5)").expect("valid");
        assert_eq!(build("", &spec, &ctx).expect("valid").spec(), "minibatch-kmeans(n_clusters=5)");
        let spec = crate::spec::parse("minibatch-kmeans").expect("valid");
        assert_eq!(build("", &spec, &ctx).expect("valid").spec(), "minibatch-kmeans(n_clusters=3)");
        let spec = crate::spec::parse("gaussian-nb").expect("valid");
        assert_eq!(build("", &spec, &ctx).expect("valid").spec(), "gaussian-nb");
    }
}
