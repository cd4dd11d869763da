//! Request bodies: a batch of records as JSON, NDJSON or CSV, chosen by Content-Type.
//!
//! - JSON (`application/json`, the default): an array of records, or
//!   `{"features": [records...], "labels": [...]}`. A record is an array of the
//!   feature values in the model's order (`[21.0, 0.6, ...]`: the numeric features,
//!   then the categorical ones, as the model file's header lists them), or an object
//!   keyed by the model's feature names, in any order (`{"temperature": 21.0,
//!   "city": "paris", ...}`), which may carry its `"label"`.
//! - NDJSON (`application/x-ndjson`): one record a line, as in a JSON array, or
//!   `{"features": [...], "label": L}`.
//! - CSV (`text/csv`): one record a line, the features (in that same order) then (to
//!   learn) the label; or a header line naming the model's features and `label`, in
//!   any order.
//!
//! A categorical feature's value is text (a number in it is taken as its text: `75`
//! is the category `"75"`); a numeric feature's is a number, or a boolean (1 or 0).
//! An empty field, `null` in JSON, and the texts `NA`, `NaN` and `nan` are missing
//! values: let through only when the served model fills them (it starts with
//! `impute`), and otherwise refused with the record's position, as any bad value.
//!
//! Each record is decoded by [`crate::source::decode`], as `eddy run` decodes its
//! CSV and NDJSON input: the same rules, refused in the same words. An object's
//! keys other than the features and `"label"` (an id, a time) are read and
//! dropped; a feature it lacks is refused. A refusal names the record (from 0; and
//! its line, in NDJSON and CSV) and the column, as in
//! `record 1 (line 2): column 3 (load): "x" is not a number`.
//!
//! Labels are JSON integers (class ids) or strings (class names, or integers as
//! text); in CSV, a label that is an integer is a class id.
//!
//! A JSON object body may also carry `"ids"`, one per record, for delayed labels
//! (`{"ids": [...], "features": [...]}`, see [`decode_with_ids`] and `POST /v1/feedback`).

use super::ApiError;
use crate::pipeline::pending::MAX_ID_BYTES;
use crate::record::{Categories, Interner};
use crate::source::decode::{CatSink, CsvLayout, Fields, JsonDecoder, RawLabel, Reason, RecordError};
use ndarray::Array2;
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

/// A record's label as it came: an id or a name.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Label {
    /// A class id.
    Id(i64),
    /// A class name (or an id written as text).
    Name(String),
}

/// A decoded batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Records {
    /// One row per record: the numeric features.
    pub x: Array2<f64>,
    /// The categorical features, one row per record (no columns for a numeric model).
    pub cats: Categories,
    /// One per record, when the body had labels.
    pub labels: Option<Vec<Label>>,
}

/// The formats a body may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON.
    Json,
    /// Newline-delimited JSON.
    Ndjson,
    /// CSV.
    Csv,
}

impl Format {
    /// The format a Content-Type names (JSON when there is none).
    pub fn from_content_type(content_type: Option<&str>) -> Result<Self, ApiError> {
        let Some(ct) = content_type else { return Ok(Self::Json) };
        let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match mime.as_str() {
            "application/json" | "" => Ok(Self::Json),
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" | "application/jsonlines" => {
                Ok(Self::Ndjson)
            }
            "text/csv" => Ok(Self::Csv),
            _ => Err(ApiError::unsupported(format!(
                "Content-Type {mime:?} is not one eddy reads: use application/json, application/x-ndjson or text/csv"
            ))),
        }
    }
}

/// What a batch must look like: the model's features, whether missing values are let
/// through, and how many records one may hold.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    /// The model's numeric feature names, in order.
    pub features: &'a [String],
    /// The model's categorical feature names, in order (after the numeric ones in a
    /// positional record).
    pub categorical: &'a [String],
    /// Let missing values through (NaN, or a missing category): the model fills them.
    pub missing: bool,
    /// The most records one request may carry.
    pub max_records: usize,
}

impl<'a> Shape<'a> {
    /// Records of numeric `features` only, missing values refused.
    pub fn new(features: &'a [String], max_records: usize) -> Self {
        Self { features, categorical: &[], missing: false, max_records }
    }

    /// Records with these categorical features too.
    pub fn categorical(self, categorical: &'a [String]) -> Self {
        Self { categorical, ..self }
    }

    /// Let missing values through (when the model fills them).
    pub fn missing(self, missing: bool) -> Self {
        Self { missing, ..self }
    }

    /// Every feature, in the order of a positional record.
    fn all(&self) -> Vec<String> {
        self.features.iter().chain(self.categorical).cloned().collect()
    }
}

/// The served model's record columns, owned (a [`Shape`] borrows them): what the
/// handlers decode each body against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Columns {
    /// Numeric feature names, in order.
    pub features: Vec<String>,
    /// Categorical feature names, in order.
    pub categorical: Vec<String>,
    /// The model fills missing values (it starts with `impute`).
    pub missing: bool,
}

impl Columns {
    /// The shape of a batch of at most `max_records` records.
    pub fn shape(&self, max_records: usize) -> Shape<'_> {
        Shape::new(&self.features, max_records).categorical(&self.categorical).missing(self.missing)
    }
}

/// Decode `body` and check it against `shape`: every record has the model's
/// features, every value is finite, there are not too many records, and labels
/// (when present) come one per record.
///
/// Records go straight into one flat buffer, counted as they are read: a body of
/// millions of tiny rows is refused at `max_records`, without first becoming millions
/// of small vectors (which would take many times the body's size). Of a record, only
/// its values are kept, never the record itself.
pub fn decode(format: Format, body: &[u8], shape: &Shape) -> Result<Records, ApiError> {
    match decode_with_ids(format, body, shape)? {
        (records, None) => Ok(records),
        (_, Some(_)) => Err(ApiError::bad(
            "\"ids\" are for POST /v1/predict (records whose labels come later, by POST /v1/feedback)".into(),
        )),
    }
}

/// [`decode`], and the records' `"ids"` when the body is a JSON object with them: one
/// per record, each a string or an integer (kept as its decimal text), neither empty nor
/// longer than [`crate::pipeline::pending::MAX_ID_BYTES`].
pub fn decode_with_ids(format: Format, body: &[u8], shape: &Shape) -> Result<(Records, Option<Vec<String>>), ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| ApiError::bad(format!("the body is not UTF-8: {e}")))?;
    // A byte-order mark (editors on Windows write one) is not part of the records.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Rows::new(shape);
    let (given, ids) = match format {
        Format::Json => json(text, &mut rows)?,
        Format::Ndjson => ndjson(text, &mut rows).map(|()| (None, None))?,
        Format::Csv => csv(text, &mut rows).map(|()| (None, None))?,
    };
    let n = rows.count;
    if n == 0 {
        return Err(ApiError::bad("the body holds no records".to_string()));
    }
    let labels = match (given, rows.labels) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad(
                "the records carry labels and the body has \"labels\" too: give them one way".to_string(),
            ))
        }
        (given, carried) => given.or(carried),
    };
    if let Some(l) = &labels {
        if l.len() != n {
            // Well-formed, but not a batch of this shape: the schema cannot say "as many".
            return Err(ApiError::unprocessable(format!("{n} records but {} labels", l.len())));
        }
    }
    if let Some(ids) = &ids {
        if ids.len() != n {
            return Err(ApiError::unprocessable(format!("{n} records but {} ids: give one id per record", ids.len())));
        }
    }
    let d = shape.features.len();
    let x = Array2::from_shape_vec((n, d), rows.values)
        .map_err(|e| ApiError::internal(format!("records of {d} features: {e}")))?;
    let cats = if shape.categorical.is_empty() {
        Categories::default()
    } else {
        Categories::new(Arc::from(shape.categorical), rows.cats, n).map_err(ApiError::internal)?
    };
    Ok((Records { x, cats, labels }, ids))
}

/// Where a record is in the body: its index from 0, and its line in NDJSON and CSV.
#[derive(Debug, Clone, Copy)]
struct At {
    record: usize,
    line: Option<usize>,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {}", self.record)?;
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        Ok(())
    }
}

/// A refused record: 422 when it is well-formed but not a record of this model
/// (its width, a value out of range, its label), 400 when it is malformed.
fn refused(at: At, e: RecordError) -> ApiError {
    let message = format!("{at}: {e}");
    match e.reason() {
        Reason::Columns { .. }
        | Reason::NotFinite(_)
        | Reason::MissingValue(_)
        | Reason::CategoryTooLong(_)
        | Reason::EmptyLabel
        | Reason::Label(_) => ApiError::unprocessable(message),
        _ => ApiError::bad(message),
    }
}

/// A label as the learner takes it.
fn label_of(raw: RawLabel<'_>) -> Label {
    match raw {
        // CSV has no types: an integer is a class id, as it is in JSON.
        RawLabel::Field(text) => text.parse::<i64>().map_or_else(|_| Label::Name(text.into_owned()), Label::Id),
        RawLabel::Integer(id) => Label::Id(id),
        RawLabel::String(name) | RawLabel::Scalar(name) => Label::Name(name),
    }
}

/// Records as they are read: one flat buffer, `d` values a record, and one of
/// categorical values, one per categorical column a record.
struct Rows<'a> {
    shape: &'a Shape<'a>,
    values: Vec<f64>,
    cats: Vec<Option<Arc<str>>>,
    /// Shares the values of a column among the records (one allocation a category).
    interner: Interner,
    count: usize,
    /// The labels the records carried, when the first record had one (then every record must).
    labels: Option<Vec<Label>>,
    /// JSON records, in NDJSON lines or a JSON array.
    json: JsonDecoder,
}

impl<'a> Rows<'a> {
    fn new(shape: &'a Shape<'a>) -> Self {
        let json = JsonDecoder::new(&shape.all())
            .categorical(shape.categorical)
            .missing(shape.missing)
            .optional_label("label")
            .positional();
        let interner = Interner::new(shape.categorical.len());
        Self { shape, values: Vec::new(), cats: Vec::new(), interner, count: 0, labels: None, json }
    }

    /// Refuse one record more than `max_records`.
    fn room(&self) -> Result<(), ApiError> {
        if self.count >= self.shape.max_records {
            return Err(ApiError::too_many(self.count + 1, self.shape.max_records));
        }
        Ok(())
    }

    /// Count a record whose features were appended, and keep its label.
    fn push(&mut self, at: At, label: Option<Label>) -> Result<(), ApiError> {
        match (&mut self.labels, label) {
            (Some(labels), Some(label)) => labels.push(label),
            (None, None) => {}
            (None, Some(label)) if self.count == 0 => self.labels = Some(vec![label]),
            _ => return Err(ApiError::bad(format!("{at}: either every record has a label or none has"))),
        }
        self.count += 1;
        Ok(())
    }

    /// Take the JSON record just read into the decoder.
    fn take_json(&mut self, at: At) -> Result<(), ApiError> {
        self.room()?;
        let mut sink = CatSink { values: &mut self.cats, interner: &mut self.interner };
        let label =
            self.json.decode_with(&mut self.values, &mut sink, |l| Ok(label_of(l))).map_err(|e| refused(at, e))?;
        self.push(at, label)
    }
}

fn json_error(e: serde_json::Error) -> ApiError {
    ApiError::bad(format!("malformed JSON: {e}"))
}

/// Parse with `seed`; a refusal the seed made (a bad record, too many records) wins
/// over the syntax error serde reports for it.
pub(crate) fn parse_json<'de, S: DeserializeSeed<'de>>(
    text: &'de str,
    seed: S,
    refusal: &Cell<Option<ApiError>>,
) -> Result<S::Value, ApiError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    value.map_err(|e| refusal.take().unwrap_or_else(|| json_error(e)))
}

/// The labels and the ids given beside a JSON body's records.
type Beside = (Option<Vec<Label>>, Option<Vec<String>>);

/// The records of a JSON body, and the labels and ids given beside them.
fn json(text: &str, rows: &mut Rows) -> Result<Beside, ApiError> {
    let refusal = Cell::new(None);
    match text.trim_start().as_bytes().first() {
        Some(b'[') => {
            parse_json(text, RecordsSeed { rows, refusal: &refusal }, &refusal)?;
            Ok((None, None))
        }
        Some(b'{') => parse_json(text, ObjectSeed { rows, refusal: &refusal }, &refusal),
        Some(_) => Err(ApiError::bad(
            "malformed JSON: expected an array of records or an object with \"features\"".to_string(),
        )),
        None => Err(ApiError::bad("the body is empty".to_string())),
    }
}

/// Keep `e` for [`parse_json`] to return, and stop the parse with its message.
fn refuse<E: serde::de::Error>(refusal: &Cell<Option<ApiError>>, e: ApiError) -> E {
    let error = E::custom(&e.message);
    refusal.set(Some(e));
    error
}

/// An array of records into `rows`.
struct RecordsSeed<'r, 'a> {
    rows: &'r mut Rows<'a>,
    refusal: &'r Cell<Option<ApiError>>,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            let at = At { record: self.rows.count, line: None };
            if seq.next_element_seed(self.rows.json.seed())?.is_none() {
                return Ok(());
            }
            self.rows.take_json(at).map_err(|e| refuse(self.refusal, e))?;
        }
    }
}

/// `{"features": [records...], "labels": [...], "ids": [...]}`.
struct ObjectSeed<'r, 'a> {
    rows: &'r mut Rows<'a>,
    refusal: &'r Cell<Option<ApiError>>,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_, '_> {
    type Value = Beside;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_, '_> {
    type Value = Beside;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object with \"features\" and, to learn, \"labels\"")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut features, mut labels, mut labels_seen) = (false, None, false);
        let (mut ids, mut ids_seen) = (None, false);
        let max = self.rows.shape.max_records;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "features" if !features => {
                    map.next_value_seed(RecordsSeed { rows: &mut *self.rows, refusal: self.refusal })?;
                    features = true;
                }
                "labels" if !labels_seen => {
                    labels = map.next_value_seed(Nullable(LabelsSeed { max, refusal: self.refusal }))?;
                    labels_seen = true;
                }
                "ids" if !ids_seen => {
                    // Not nullable, unlike "labels": a body with "ids" is a request to keep them.
                    ids = Some(map.next_value_seed(IdsSeed { max, refusal: self.refusal })?);
                    ids_seen = true;
                }
                "features" | "labels" | "ids" => return Err(A::Error::custom(format!("duplicate field `{key}`"))),
                other => {
                    return Err(A::Error::custom(format!(
                        "unknown field `{other}`, expected `features`, `labels` or `ids`"
                    )))
                }
            }
        }
        if !features {
            return Err(A::Error::custom("missing field `features`"));
        }
        Ok((labels, ids))
    }
}

/// `null`, or what `S` reads.
struct Nullable<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Nullable<S> {
    type Value = Option<S::Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Nullable<S> {
    type Value = Option<S::Value>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("null or a value")
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(d).map(Some)
    }
}

/// Ids of records (delayed labels), at most `max`: each a string or an integer (kept
/// as its decimal text), not empty, at most [`MAX_ID_BYTES`] bytes. Taken as written:
/// no trimming or case folding.
pub(crate) struct IdsSeed<'r> {
    /// The most ids.
    pub max: usize,
    /// Where a refusal is kept (see [`parse_json`]).
    pub refusal: &'r Cell<Option<ApiError>>,
}

impl<'de> DeserializeSeed<'de> for IdsSeed<'_> {
    type Value = Vec<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for IdsSeed<'_> {
    type Value = Vec<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of ids (strings or integers)")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut ids = Vec::new();
        loop {
            let at = ids.len();
            let id = match seq.next_element_seed(IdSeed) {
                Ok(Some(id)) => id,
                Ok(None) => return Ok(ids),
                Err(e) => return Err(refuse(self.refusal, ApiError::bad(format!("id {at}: {e}")))),
            };
            if ids.len() >= self.max {
                return Err(refuse(self.refusal, ApiError::too_many(ids.len() + 1, self.max)));
            }
            if id.is_empty() || id.len() > MAX_ID_BYTES {
                let why = if id.is_empty() { "an empty id".to_string() } else { too_long(id.len()) };
                return Err(refuse(self.refusal, ApiError::unprocessable(format!("id {at} (record {at}): {why}"))));
            }
            ids.push(id);
        }
    }
}

fn too_long(n: usize) -> String {
    format!("an id of {n} bytes (at most {MAX_ID_BYTES})")
}

/// One id: a string, or an integer as its decimal text.
struct IdSeed;

impl<'de> DeserializeSeed<'de> for IdSeed {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(self)
    }
}

impl Visitor<'_> for IdSeed {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or an integer")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    /// `17.0` is the integer 17 to JSON Schema, so it is the id "17" here too.
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<String, E> {
        // Strictly inside: a number just past either end rounds onto it.
        if v.fract() == 0.0 && v > i64::MIN as f64 && v < u64::MAX as f64 {
            return Ok(if v < 0.0 { (v as i64).to_string() } else { (v as u64).to_string() });
        }
        Err(E::invalid_type(serde::de::Unexpected::Float(v), &self))
    }
}

/// Labels, at most `max`.
pub(crate) struct LabelsSeed<'r> {
    /// The most labels.
    pub max: usize,
    /// Where a refusal is kept (see [`parse_json`]).
    pub refusal: &'r Cell<Option<ApiError>>,
}

impl<'de> DeserializeSeed<'de> for LabelsSeed<'_> {
    type Value = Vec<Label>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for LabelsSeed<'_> {
    type Value = Vec<Label>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of labels (integers or strings)")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut labels = Vec::new();
        while let Some(label) = seq.next_element::<Label>()? {
            if labels.len() >= self.max {
                return Err(refuse(self.refusal, ApiError::too_many(labels.len() + 1, self.max)));
            }
            labels.push(label);
        }
        Ok(labels)
    }
}

fn ndjson(text: &str, rows: &mut Rows) -> Result<(), ApiError> {
    // Room for a number a numeric feature, a longer text a categorical one.
    let longest = 4096 + 64 * rows.shape.features.len() + 512 * rows.shape.categorical.len();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        rows.room()?;
        // A record's object has no business being long: refused before it is read.
        if line.starts_with('{') && line.len() > longest {
            return Err(ApiError::too_large_line(n + 1, longest));
        }
        let at = At { record: rows.count, line: Some(n + 1) };
        rows.json.read(line.as_bytes()).map_err(|e| refused(at, e))?;
        rows.take_json(at)?;
    }
    Ok(())
}

fn csv(text: &str, rows: &mut Rows) -> Result<(), ApiError> {
    let (shape, features) = (rows.shape, rows.shape.all());
    let (numeric, d) = (shape.features.len(), features.len());
    let missing = shape.missing;
    let mut fields = Fields::new();
    // A header decides which column holds what; without one, the first record's width.
    let mut layout: Option<CsvLayout> = None;
    for (n, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let at = At { record: rows.count, line: Some(n + 1) };
        fields.split(line.as_bytes()).map_err(|e| refused(at, e))?;
        let layout = match &layout {
            Some(layout) => layout,
            None if is_header(&fields, &features) => {
                let names: Vec<String> = (0..fields.len()).map(|i| fields.name(i)).collect();
                // Every feature is named (`is_header`), so each finds its column.
                let column = |f: &String| names.iter().position(|n| n == f).unwrap_or(0);
                let columns = shape.features.iter().map(column).collect();
                let categorical = shape.categorical.iter().map(column).collect();
                let label = names.iter().position(|n| n == "label");
                layout = Some(CsvLayout::new(names, columns, label).categorical(categorical).missing(missing));
                continue;
            }
            None => {
                let mut names = features.clone();
                match fields.len() {
                    n if n == d => {}
                    n if n == d + 1 => names.push("label".into()),
                    n => {
                        return Err(ApiError::unprocessable(format!(
                            "{at}: expected {d} columns (or {}, the label last), found {n}",
                            d + 1
                        )))
                    }
                }
                let label = (names.len() > d).then_some(d);
                let layout_of = CsvLayout::new(names, (0..numeric).collect(), label);
                layout.insert(layout_of.categorical((numeric..d).collect()).missing(missing))
            }
        };
        rows.room()?;
        let mut sink = CatSink { values: &mut rows.cats, interner: &mut rows.interner };
        let label = layout
            .decode_with(&fields, &mut rows.values, &mut sink, |l| Ok(label_of(l)))
            .map_err(|e| refused(at, e))?;
        rows.push(at, label)?;
    }
    Ok(())
}

/// A first line is a header when it names every feature of the model (numeric and categorical).
fn is_header(fields: &Fields, features: &[String]) -> bool {
    features.iter().all(|f| (0..fields.len()).any(|i| fields.get(i).trim_ascii() == f.as_bytes()))
}
