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
use serde::Deserialize;
use serde_json::Value;

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
pub fn decode(format: Format, body: &[u8], shape: &Shape) -> Result<Records, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| ApiError::bad(format!("the body is not UTF-8: {e}")))?;
    let (rows, labels) = match format {
        Format::Json => json(text)?,
        Format::Ndjson => ndjson(text, shape)?,
        Format::Csv => csv(text, shape)?,
    };
    let d = shape.features.len();
    if rows.len() > shape.max_records {
        return Err(ApiError::too_many(rows.len(), shape.max_records));
    }
    if let Some(l) = &labels {
        if l.len() != rows.len() {
            return Err(ApiError::bad(format!("{} records but {} labels", rows.len(), l.len())));
        }
    }
    let mut x = Array2::zeros((rows.len(), d));
    for (i, row) in rows.iter().enumerate() {
        if row.len() != d {
            return Err(ApiError::unprocessable(format!(
                "record {i}: {} features, the model has {d} ({})",
                row.len(),
                shape.features.join(", ")
            )));
        }
        for (j, &v) in row.iter().enumerate() {
            if !v.is_finite() {
                return Err(ApiError::unprocessable(format!(
                    "record {i}, feature {} ({}): {v} is not a finite number",
                    j, shape.features[j]
                )));
            }
            x[[i, j]] = v;
        }
    }
    Ok(Records { x, labels })
}

type Decoded = (Vec<Vec<f64>>, Option<Vec<Label>>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Object {
    features: Vec<Vec<f64>>,
    #[serde(default)]
    labels: Option<Vec<Label>>,
}

fn json_error(e: serde_json::Error) -> ApiError {
    ApiError::bad(format!("malformed JSON: {e}"))
}

fn json(text: &str) -> Result<Decoded, ApiError> {
    match text.trim_start().as_bytes().first() {
        Some(b'[') => Ok((serde_json::from_str(text).map_err(json_error)?, None)),
        Some(b'{') => {
            let o: Object = serde_json::from_str(text).map_err(json_error)?;
            Ok((o.features, o.labels))
        }
        Some(_) => Err(ApiError::bad(
            "malformed JSON: expected an array of records or an object with \"features\"".to_string(),
        )),
        None => Err(ApiError::bad("the body is empty".to_string())),
    }
}

fn ndjson(text: &str, shape: &Shape) -> Result<Decoded, ApiError> {
    let mut rows = Vec::new();
    let mut labels: Vec<Label> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if rows.len() >= shape.max_records {
            return Err(ApiError::too_many(rows.len() + 1, shape.max_records));
        }
        let at = |e: String| ApiError::bad(format!("line {}: {e}", n + 1));
        let value: Value = serde_json::from_str(line).map_err(|e| at(format!("malformed JSON: {e}")))?;
        let (row, label) = match value {
            Value::Array(_) => (serde_json::from_value::<Vec<f64>>(value).map_err(|e| at(e.to_string()))?, None),
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
        match (label, labels.len() == rows.len()) {
            (Some(l), true) => labels.push(l),
            (None, _) if labels.is_empty() => {}
            _ => return Err(at("either every record has a label or none has".into())),
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(ApiError::bad("the body holds no records".to_string()));
    }
    let labels = (!labels.is_empty()).then_some(labels);
    Ok((rows, labels))
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

fn csv(text: &str, shape: &Shape) -> Result<Decoded, ApiError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let d = shape.features.len();
    // Feature j is in column order[j]; the label, if any, in column `label`; every
    // record has `width` fields. A header decides these; without one, the first record.
    let mut layout: Option<(Vec<usize>, Option<usize>, usize)> = None;
    let mut rows = Vec::new();
    let mut labels = Vec::new();
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
        if rows.len() >= shape.max_records {
            return Err(ApiError::too_many(rows.len() + 1, shape.max_records));
        }
        let mut row = Vec::with_capacity(d);
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
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(ApiError::bad("the body holds no records".to_string()));
    }
    let has_labels = layout.is_some_and(|l| l.1.is_some());
    Ok((rows, has_labels.then_some(labels)))
}

/// A first line is a header when it names every feature of the model.
fn is_header(record: &csv::StringRecord, features: &[String]) -> bool {
    features.iter().all(|f| record.iter().any(|n| n.trim() == f))
}
