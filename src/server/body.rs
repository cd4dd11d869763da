//! Request bodies: a batch of records as JSON, NDJSON or CSV, chosen by Content-Type.
//!
//! - JSON (`application/json`, the default): `[[f0, f1, ...], ...]`, or
//!   `{"features": [[...], ...], "labels": [...]}`.
//! - NDJSON (`application/x-ndjson`): one record a line, `[f0, f1, ...]`,
//!   `{"features": [...], "label": L}`, or an object keyed by the model's feature
//!   names with an optional `"label"`.
//! - CSV (`text/csv`): one record a line, the features then (to learn) the label;
//!   or a header line naming the model's features and `label`, in any order.
//!
//! Labels are JSON integers (class ids) or strings (class names, or integers as text).
//! Errors say where: JSON's line and column, the record (from 0) and the field.

use super::ApiError;
use ndarray::Array2;
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::cell::Cell;

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
    /// One row per record.
    pub x: Array2<f64>,
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

/// What a batch must look like: the model's features, and how many records one may hold.
pub struct Shape<'a> {
    /// The model's feature names, in order.
    pub features: &'a [String],
    /// The most records one request may carry.
    pub max_records: usize,
}

/// Decode `body` and check it against `shape`: every row has the model's number of
/// features, every value is finite, there are not too many records, and labels
/// (when present) come one per record.
///
/// Records go straight into one flat buffer, counted as they are read: a body of
/// millions of tiny rows is refused at `max_records`, without first becoming millions
/// of small vectors (which would take many times the body's size).
pub fn decode(format: Format, body: &[u8], shape: &Shape) -> Result<Records, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| ApiError::bad(format!("the body is not UTF-8: {e}")))?;
    let mut rows = Rows::new(shape);
    let labels = match format {
        Format::Json => json(text, &mut rows)?,
        Format::Ndjson => ndjson(text, &mut rows)?,
        Format::Csv => csv(text, &mut rows)?,
    };
    let n = rows.count;
    if n == 0 {
        return Err(ApiError::bad("the body holds no records".to_string()));
    }
    if let Some(l) = &labels {
        if l.len() != n {
            return Err(ApiError::bad(format!("{n} records but {} labels", l.len())));
        }
    }
    let d = shape.features.len();
    if let Some(at) = rows.values.iter().position(|v| !v.is_finite()) {
        let (i, j) = (at / d.max(1), at % d.max(1));
        return Err(ApiError::unprocessable(format!(
            "record {i}, feature {j} ({}): {} is not a finite number",
            shape.features[j], rows.values[at]
        )));
    }
    let x = Array2::from_shape_vec((n, d), rows.values)
        .map_err(|e| ApiError::internal(format!("records of {d} features: {e}")))?;
    Ok(Records { x, labels })
}

/// Records as they are read: one flat buffer, `d` values a record.
struct Rows<'a> {
    shape: &'a Shape<'a>,
    values: Vec<f64>,
    count: usize,
}

impl<'a> Rows<'a> {
    fn new(shape: &'a Shape<'a>) -> Self {
        Self { shape, values: Vec::new(), count: 0 }
    }

    /// Refuse one record more than `max_records`.
    fn room(&self) -> Result<(), ApiError> {
        if self.count >= self.shape.max_records {
            return Err(ApiError::too_many(self.count + 1, self.shape.max_records));
        }
        Ok(())
    }

    /// Add a record (refused when it has the wrong number of features).
    fn push(&mut self, row: &[f64]) -> Result<(), ApiError> {
        self.room()?;
        self.check_width(row.len())?;
        self.values.extend_from_slice(row);
        self.count += 1;
        Ok(())
    }

    fn check_width(&self, width: usize) -> Result<(), ApiError> {
        let d = self.shape.features.len();
        if width != d {
            return Err(ApiError::unprocessable(format!(
                "record {}: {width} features, the model has {d} ({})",
                self.count,
                self.shape.features.join(", ")
            )));
        }
        Ok(())
    }
}

fn json_error(e: serde_json::Error) -> ApiError {
    ApiError::bad(format!("malformed JSON: {e}"))
}

/// Parse with `seed`; a refusal the seed made (wrong width, too many records) wins
/// over the syntax error serde reports for it.
fn parse_json<'de, S: DeserializeSeed<'de>>(
    text: &'de str,
    seed: S,
    refusal: &Cell<Option<ApiError>>,
) -> Result<S::Value, ApiError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = seed.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    value.map_err(|e| refusal.take().unwrap_or_else(|| json_error(e)))
}

fn json(text: &str, rows: &mut Rows) -> Result<Option<Vec<Label>>, ApiError> {
    let refusal = Cell::new(None);
    match text.trim_start().as_bytes().first() {
        Some(b'[') => {
            parse_json(text, RecordsSeed { rows, refusal: &refusal }, &refusal)?;
            Ok(None)
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

/// `[[f0, f1, ...], ...]` into `rows`.
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
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let refuse = |e: ApiError| refuse(self.refusal, e);
        let mut row = Vec::with_capacity(self.rows.shape.features.len());
        loop {
            row.clear();
            let d = self.rows.shape.features.len();
            // A record is read into `row`, at most d + 1 values (one too many is enough to refuse it).
            if seq.next_element_seed(RowSeed { row: &mut row, limit: d + 1 })?.is_none() {
                return Ok(());
            }
            self.rows.push(&row).map_err(refuse)?;
        }
    }
}

/// One record into `row`, refusing more than `limit` values.
struct RowSeed<'r> {
    row: &'r mut Vec<f64>,
    limit: usize,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a record: an array of numbers")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<f64>()? {
            self.row.push(v);
            if self.row.len() >= self.limit {
                // Skip the rest: the record is refused for its width anyway.
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                return Ok(());
            }
        }
        Ok(())
    }
}

/// `{"features": [...], "labels": [...]}`.
struct ObjectSeed<'r, 'a> {
    rows: &'r mut Rows<'a>,
    refusal: &'r Cell<Option<ApiError>>,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_, '_> {
    type Value = Option<Vec<Label>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_, '_> {
    type Value = Option<Vec<Label>>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object with \"features\" and, to learn, \"labels\"")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut features, mut labels, mut labels_seen) = (false, None, false);
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
                "features" | "labels" => return Err(A::Error::custom(format!("duplicate field `{key}`"))),
                other => {
                    return Err(A::Error::custom(format!("unknown field `{other}`, expected `features` or `labels`")))
                }
            }
        }
        if !features {
            return Err(A::Error::custom("missing field `features`"));
        }
        Ok(labels)
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

/// Labels, at most `max`.
struct LabelsSeed<'r> {
    max: usize,
    refusal: &'r Cell<Option<ApiError>>,
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

fn ndjson(text: &str, rows: &mut Rows) -> Result<Option<Vec<Label>>, ApiError> {
    let shape = rows.shape;
    let mut labels: Vec<Label> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        rows.room()?;
        let at = |e: String| ApiError::bad(format!("line {}: {e}", n + 1));
        if line.starts_with('[') {
            // Straight into a row, at most d + 1 values: a huge line costs no more than its record.
            let mut row = Vec::with_capacity(shape.features.len());
            let mut de = serde_json::Deserializer::from_str(line);
            RowSeed { row: &mut row, limit: shape.features.len() + 1 }
                .deserialize(&mut de)
                .and_then(|()| de.end())
                .map_err(|e| at(format!("malformed JSON: {e}")))?;
            if !labels.is_empty() {
                return Err(at("either every record has a label or none has".into()));
            }
            rows.push(&row)?;
            continue;
        }
        // An object becomes a JSON value (several times its size) before it is read:
        // a record's object has no business being long.
        let longest = 4096 + 64 * shape.features.len();
        if line.len() > longest {
            return Err(ApiError::too_large_line(n + 1, longest));
        }
        let value: Value = serde_json::from_str(line).map_err(|e| at(format!("malformed JSON: {e}")))?;
        let (row, label) = match value {
            Value::Object(mut o) => {
                let label = o.remove("label");
                let row = match o.remove("features") {
                    Some(f) => serde_json::from_value::<Vec<f64>>(f).map_err(|e| at(e.to_string()))?,
                    None => named(&o, shape.features).map_err(at)?,
                };
                let label = label
                    .map(|l| {
                        serde_json::from_value::<Label>(l).map_err(|_| at("a label is an integer or a string".into()))
                    })
                    .transpose()?;
                (row, label)
            }
            _ => return Err(at("expected an array of features or an object".into())),
        };
        match (label, labels.len() == rows.count) {
            (Some(l), true) => labels.push(l),
            (None, _) if labels.is_empty() => {}
            _ => return Err(at("either every record has a label or none has".into())),
        }
        rows.push(&row)?;
    }
    if rows.count == 0 {
        return Err(ApiError::bad("the body holds no records".to_string()));
    }
    Ok((!labels.is_empty()).then_some(labels))
}

/// The features of an object keyed by feature name.
fn named(o: &serde_json::Map<String, Value>, features: &[String]) -> Result<Vec<f64>, String> {
    if let Some(extra) = o.keys().find(|k| !features.contains(k)) {
        return Err(format!("{extra:?} is not a feature of the model ({})", features.join(", ")));
    }
    features
        .iter()
        .map(|f| match o.get(f) {
            Some(v) => v.as_f64().ok_or_else(|| format!("feature {f:?} is not a number")),
            None => Err(format!("feature {f:?} is missing")),
        })
        .collect()
}

fn csv(text: &str, rows: &mut Rows) -> Result<Option<Vec<Label>>, ApiError> {
    let shape = rows.shape;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let d = shape.features.len();
    // Feature j is in column order[j]; the label, if any, in column `label`; every
    // record has `width` fields. A header decides these; without one, the first record.
    let mut layout: Option<(Vec<usize>, Option<usize>, usize)> = None;
    let mut labels = Vec::new();
    let mut row = Vec::with_capacity(d);
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(|e| ApiError::bad(format!("malformed CSV: {e}")))? {
        let line = record.position().map_or(0, |p| p.line());
        let (order, label, width) = match &layout {
            Some(l) => l,
            None if is_header(&record, shape.features) => {
                let names: Vec<&str> = record.iter().map(str::trim).collect();
                let order = shape.features.iter().map(|f| names.iter().position(|n| n == f).unwrap_or(0)).collect();
                layout = Some((order, names.iter().position(|n| *n == "label"), names.len()));
                continue;
            }
            None => {
                let label = match record.len() {
                    n if n == d => None,
                    n if n == d + 1 => Some(d),
                    n => {
                        return Err(ApiError::unprocessable(format!(
                            "line {line}: {n} fields, the model has {d} features (and a record to learn has its label last)"
                        )))
                    }
                };
                layout.insert(((0..d).collect(), label, record.len()))
            }
        };
        if record.len() != *width {
            return Err(ApiError::unprocessable(format!(
                "line {line}: {} fields, the first record has {width}",
                record.len()
            )));
        }
        rows.room()?;
        row.clear();
        for (j, &c) in order.iter().enumerate() {
            let field = record.get(c).unwrap_or("");
            let v = field.trim().parse::<f64>().map_err(|_| {
                ApiError::bad(format!(
                    "line {line}, column {}: {field:?} is not a number (feature {})",
                    c + 1,
                    shape.features[j]
                ))
            })?;
            row.push(v);
        }
        if let Some(c) = label {
            let l = record.get(*c).unwrap_or("").trim();
            labels.push(l.parse::<i64>().map(Label::Id).unwrap_or_else(|_| Label::Name(l.to_string())));
        }
        rows.push(&row)?;
    }
    if rows.count == 0 {
        return Err(ApiError::bad("the body holds no records".to_string()));
    }
    let has_labels = layout.is_some_and(|l| l.1.is_some());
    Ok(has_labels.then_some(labels))
}

/// A first line is a header when it names every feature of the model.
fn is_header(record: &csv::StringRecord, features: &[String]) -> bool {
    features.iter().all(|f| record.iter().any(|n| n.trim() == f))
}
