//! One record, decoded: the rules `eddy run`'s CSV and NDJSON sources and
//! `eddy serve`'s request bodies share.
//!
//! A record is a CSV line split into [`Fields`] and read through a [`CsvLayout`]
//! (which column holds each feature, and the label), or one JSON value read by a
//! [`JsonDecoder`] (an object keyed by feature names; for the service, also an
//! array of values in feature order). Either way the features are appended to a
//! row and the label is handed, as it came ([`RawLabel`]), to the caller, who maps
//! it to a class id. A record that breaks a rule is a [`RecordError`]: the column
//! to blame and the [`Reason`]. The caller says where the record is (the source
//! `file:line`, the service the record's index in the body), so that a rule
//! changed here changes for both, in the same words.
//!
//! Nothing here allocates for a good record beyond what its values need (a JSON
//! string, a label given as text); the split and the JSON slots are reused.
//!
//! ```
//! use eddy::source::decode::{CsvLayout, Fields, JsonDecoder};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let names: Vec<String> = ["temperature", "vibration", "label"].map(String::from).into();
//! let text = |label: eddy::source::decode::RawLabel| Ok(label.text().into_owned());
//!
//! // A CSV line, by column.
//! let layout = CsvLayout::new(names.clone(), vec![0, 1], Some(2));
//! let (mut fields, mut row) = (Fields::new(), Vec::new());
//! fields.split(b"21.5, 0.6,ok")?;
//! assert_eq!(layout.decode(&fields, &mut row, text)?.as_deref(), Some("ok"));
//! fields.split(b"22.0,oops,ok")?;
//! let refused = layout.decode(&fields, &mut row, text).map_err(|e| e.to_string());
//! assert_eq!(refused, Err("column 2 (vibration): \"oops\" is not a number".into()));
//!
//! // A JSON object, by key, in any order: the same rules, the same words.
//! let mut json = JsonDecoder::new(&names[..2]).label("label");
//! json.read(br#"{"vibration": 0.6, "id": 7, "temperature": 21.5, "label": "ok"}"#)?;
//! assert_eq!(json.decode(&mut row, text)?.as_deref(), Some("ok"));
//! json.read(br#"{"temperature": 22.0, "vibration": "oops", "label": "ok"}"#)?;
//! let refused = json.decode(&mut row, text).map_err(|e| e.to_string());
//! assert_eq!(refused, Err("column 2 (vibration): \"oops\" is not a number".into()));
//!
//! assert_eq!(row, [21.5, 0.6, 21.5, 0.6], "a refused record adds nothing");
//! # Ok(())
//! # }
//! ```

use crate::record::Interner;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Why a record is refused, and the column to blame when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordError {
    column: Option<(usize, String)>,
    reason: Reason,
}

impl RecordError {
    /// A refusal that no one column is to blame for.
    pub fn new(reason: Reason) -> Self {
        Self { column: None, reason }
    }

    /// A refusal of column `index` (from 0), named `name`.
    pub fn at(index: usize, name: &str, reason: Reason) -> Self {
        Self { column: Some((index + 1, name.to_string())), reason }
    }

    /// A JSON record that could not be read (the column is the character's, in its text).
    fn json(e: &serde_json::Error) -> Self {
        Self { column: Some((e.column(), "json".into())), reason: Reason::Json(e.to_string()) }
    }

    /// The column to blame: its number from 1 and its name.
    pub fn column(&self) -> Option<&(usize, String)> {
        self.column.as_ref()
    }

    /// What is wrong.
    pub fn reason(&self) -> &Reason {
        &self.reason
    }

    /// The column and the reason, for a caller that keeps them apart.
    pub fn into_parts(self) -> (Option<(usize, String)>, Reason) {
        (self.column, self.reason)
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((n, name)) = &self.column {
            write!(f, "column {n} ({name}): ")?;
        }
        write!(f, "{}", self.reason)
    }
}

impl std::error::Error for RecordError {}

/// What is wrong with a record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Reason {
    /// Another number of columns than the layout's (CSV fields, or values of a JSON array).
    #[error("expected {expected} columns, found {found}")]
    Columns {
        /// The layout's.
        expected: usize,
        /// The record's.
        found: usize,
    },
    /// A feature's value is not a number: its text, quoted, or what JSON value it is.
    #[error("{0} is not a number")]
    NotANumber(String),
    /// A feature's value is NaN or infinite.
    #[error("{0} is not a finite number")]
    NotFinite(f64),
    /// An object lacks a key the record needs.
    #[error("missing")]
    Missing,
    /// A feature's value is missing (empty, `null`, `NA`, `NaN`, `nan`) and the model
    /// has no imputer to fill it.
    #[error("missing value ({0}): the model fills none (add impute, e.g. `impute | ...`)")]
    MissingValue(String),
    /// A categorical feature's value is an array or an object.
    #[error("{0} is not a category")]
    NotACategory(String),
    /// A categorical value longer than [`MAX_CATEGORY_BYTES`]: encoders keep every
    /// category they meet, so their length is bounded.
    #[error("a category of {0} bytes (at most {max})", max = MAX_CATEGORY_BYTES)]
    CategoryTooLong(usize),
    /// The label is not a string, a number or a boolean.
    #[error("{0} is not a label")]
    NotALabel(String),
    /// The label is the empty text.
    #[error("empty label")]
    EmptyLabel,
    /// A field's bytes are not UTF-8 text.
    #[error("not UTF-8 text")]
    NotUtf8,
    /// The caller's class map refused the label.
    #[error("{0}")]
    Label(String),
    /// The line is not a JSON record.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// csv-core could not split the line.
    #[error("a field could not be split")]
    Split,
    /// The line is longer than the source accepts.
    #[error("line is longer than {max_bytes} bytes (--max-line-bytes)")]
    TooLong {
        /// The limit.
        max_bytes: usize,
    },
    /// With delayed labels: a record that is neither an event nor feedback, a bad id, or
    /// a label that joins no event.
    #[error("{0}")]
    Delayed(String),
    /// A stream's record that its reader could not lay out as a line (a value with a
    /// line break).
    #[error("{0}")]
    Entry(String),
}

/// A record's label as it came, for the caller to map to a class id.
#[derive(Debug, Clone, PartialEq)]
pub enum RawLabel<'a> {
    /// A CSV field (trimmed): text of no particular type.
    Field(Cow<'a, str>),
    /// A JSON string.
    String(String),
    /// A JSON integer.
    Integer(i64),
    /// Another JSON scalar (a float, an integer past `i64`, a boolean), as JSON writes it.
    Scalar(String),
}

impl RawLabel<'_> {
    /// The label as text: how a source's class map reads it (`7` and `"7"` alike).
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Self::Field(text) => Cow::Borrowed(text),
            Self::String(text) | Self::Scalar(text) => Cow::Borrowed(text),
            Self::Integer(v) => Cow::Owned(v.to_string()),
        }
    }
}

/// A decimal number, surrounding spaces allowed. fast-float2 parses the bytes
/// directly (std's `parse` wants a validated `&str`: a third of the time of a
/// CSV row went to UTF-8 checks and trimming).
///
/// It is `#[inline]`, as are the other small functions a record's values pass
/// through: the sources call them from another module, which may be compiled
/// apart (another codegen unit), where they could not be inlined otherwise.
#[inline]
pub fn parse_number(field: &[u8]) -> Option<f64> {
    let field = field.trim_ascii();
    if let Some(value) = plain_decimal(field) {
        return Some(value);
    }
    match fast_float2::parse_partial::<f64, _>(field) {
        Ok((value, used)) if used == field.len() && !field.is_empty() => Some(value),
        _ => None,
    }
}

/// Powers of ten that are exact in an `f64`.
const EXACT_POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// The common case of a number, `-?DIGITS(.DIGITS)?` with at most 15 digits and 22
/// decimals, read in one pass: its digits `m` and its decimals `k` are exact in an
/// `f64`, so `m / 10^k` is the correctly rounded value (Clinger's fast path, which
/// fast-float2 also takes, after more checks). `None` for anything else, which
/// fast-float2 reads.
#[inline]
fn plain_decimal(field: &[u8]) -> Option<f64> {
    let (negative, digits) = match field.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, field),
    };
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let (mut mantissa, mut point) = (0u64, usize::MAX);
    for (i, &b) in digits.iter().enumerate() {
        let digit = b.wrapping_sub(b'0');
        if digit <= 9 {
            mantissa = mantissa * 10 + u64::from(digit);
        } else if b == b'.' && point == usize::MAX && i > 0 && i + 1 < digits.len() {
            point = i;
        } else {
            return None;
        }
    }
    let decimals = match point {
        // At most 16 characters with a point in them, or 15 digits without: below 2^53.
        usize::MAX if digits.len() > 15 => return None,
        usize::MAX => 0,
        p => digits.len() - p - 1,
    };
    // Below 2^53: exact as an i64, whose conversion is one instruction (a u64's is not).
    let value = mantissa as i64 as f64 / EXACT_POWERS_OF_TEN[decimals];
    Some(if negative { -value } else { value })
}

/// True for the texts that stand for a missing value: the empty field, `NA`, `NaN`
/// and `nan` (surrounding spaces allowed).
#[inline]
pub fn is_missing(field: &[u8]) -> bool {
    matches!(field.trim_ascii(), b"" | b"NA" | b"NaN" | b"nan")
}

/// `true` as 1 and `false` as 0 (any case, surrounding spaces allowed).
#[inline]
pub fn parse_bool(field: &[u8]) -> Option<f64> {
    let field = field.trim_ascii();
    if field.eq_ignore_ascii_case(b"true") {
        Some(1.0)
    } else if field.eq_ignore_ascii_case(b"false") {
        Some(0.0)
    } else {
        None
    }
}

/// A numeric CSV field that is not a finite number (the hot path only asks whether
/// it is one): a boolean, a missing value (NaN when `missing` lets it through), or why not.
#[cold]
fn numeric_fallback(field: &[u8], missing: bool) -> Result<f64, Reason> {
    if let Some(b) = parse_bool(field) {
        return Ok(b);
    }
    if is_missing(field) {
        return if missing { Ok(f64::NAN) } else { Err(missing_value(field)) };
    }
    Err(match parse_number(field) {
        Some(v) => Reason::NotFinite(v),
        None => Reason::NotANumber(format!("{:?}", String::from_utf8_lossy(field).trim())),
    })
}

/// A missing value refused, quoting how it was written.
#[cold]
fn missing_value(field: &[u8]) -> Reason {
    Reason::MissingValue(format!("{:?}", String::from_utf8_lossy(field).trim()))
}

/// The longest categorical value, in bytes (UTF-8).
pub const MAX_CATEGORY_BYTES: usize = 1024;

/// Where a record's categorical values go: after the batch's values so far, shared
/// through the source's [`Interner`] (one per categorical column).
pub struct CatSink<'a> {
    /// The batch's categorical values, row-major.
    pub values: &'a mut Vec<Option<Arc<str>>>,
    /// Shares equal values.
    pub interner: &'a mut Interner,
}

impl CatSink<'_> {
    /// The value of categorical column `k` written as `text`: missing (when `missing`
    /// lets it through), or the category.
    #[inline]
    fn push(&mut self, k: usize, text: &str, missing: bool) -> Result<(), Reason> {
        let text = text.trim();
        if is_missing(text.as_bytes()) {
            if !missing {
                return Err(missing_value(text.as_bytes()));
            }
            self.values.push(None);
        } else if text.len() > MAX_CATEGORY_BYTES {
            return Err(Reason::CategoryTooLong(text.len()));
        } else {
            self.values.push(Some(self.interner.get(k, text)));
        }
        Ok(())
    }
}

#[inline]
fn finite(v: f64) -> Result<f64, Reason> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Reason::NotFinite(v))
    }
}

/// One CSV line, split into fields; the buffers are kept from line to line.
///
/// A line without quotes is split at its commas directly (memchr); one with
/// quotes goes through csv-core, the csv crate's own parser. A quoted field may
/// not span lines: one record is one line.
pub struct Fields {
    reader: csv_core::Reader,
    bytes: Vec<u8>,
    /// Field `i` is `bytes[starts[i]..ends[i]]`.
    starts: Vec<usize>,
    ends: Vec<usize>,
}

/// A fresh splitter: it holds nothing from one line to the next. (csv-core 0.1's
/// `Reader::clone` copies only part of its state machine, and the copy splits quoted
/// fields wrongly, so the reader is never cloned.)
impl Clone for Fields {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl Default for Fields {
    fn default() -> Self {
        Self::new()
    }
}

/// The high bit of each byte of `word` that is zero, and no other bit.
#[inline]
fn zero_bytes(word: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((word & LOW7) + LOW7) | word | LOW7)
}

impl Fields {
    /// No line yet.
    pub fn new() -> Self {
        Self { reader: csv_core::Reader::new(), bytes: Vec::new(), starts: Vec::new(), ends: Vec::new() }
    }

    /// Split `line` (without its line break), replacing the previous line's fields.
    ///
    /// A line without quotes is split at its commas, found eight bytes at a time
    /// (fields are short: a search call per field would cost more than the field).
    #[inline]
    pub fn split(&mut self, line: &[u8]) -> Result<(), RecordError> {
        const COMMAS: u64 = u64::from_ne_bytes([b','; 8]);
        const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
        self.starts.clear();
        self.ends.clear();
        let mut start = 0;
        let mut words = line.chunks_exact(8);
        let mut base = 0;
        for word in &mut words {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            let word = u64::from_le_bytes(bytes);
            if zero_bytes(word ^ QUOTES) != 0 {
                return self.split_quoted(line);
            }
            let mut commas = zero_bytes(word ^ COMMAS);
            while commas != 0 {
                let at = base + (commas.trailing_zeros() / 8) as usize;
                self.starts.push(start);
                self.ends.push(at);
                start = at + 1;
                commas &= commas - 1;
            }
            base += 8;
        }
        for (i, &b) in words.remainder().iter().enumerate() {
            match b {
                b',' => {
                    self.starts.push(start);
                    self.ends.push(base + i);
                    start = base + i + 1;
                }
                b'"' => return self.split_quoted(line),
                _ => {}
            }
        }
        self.starts.push(start);
        self.ends.push(line.len());
        self.bytes.clear();
        self.bytes.extend_from_slice(line);
        Ok(())
    }

    fn split_quoted(&mut self, line: &[u8]) -> Result<(), RecordError> {
        // Unquoting only shrinks a field, so the line's length is enough room.
        self.bytes.resize(line.len() + 1, 0);
        self.ends.resize(line.len() + 2, 0);
        let (mut input, mut out_len, mut ends_len) = (line, 0, 0);
        let mut fed_end = false;
        loop {
            let (result, nin, nout, nend) =
                self.reader.read_record(input, &mut self.bytes[out_len..], &mut self.ends[ends_len..]);
            input = &input[nin..];
            out_len += nout;
            ends_len += nend;
            match result {
                csv_core::ReadRecordResult::InputEmpty if !fed_end => fed_end = true,
                csv_core::ReadRecordResult::Record | csv_core::ReadRecordResult::End => break,
                csv_core::ReadRecordResult::InputEmpty => break,
                csv_core::ReadRecordResult::OutputFull | csv_core::ReadRecordResult::OutputEndsFull => {
                    return Err(RecordError::new(Reason::Split))
                }
            }
        }
        self.ends.truncate(ends_len);
        // Unquoted fields are contiguous: each starts where the one before ends.
        self.starts.clear();
        self.starts.push(0);
        self.starts.extend_from_slice(&self.ends[..ends_len.saturating_sub(1)]);
        self.starts.truncate(ends_len);
        Ok(())
    }

    /// The number of fields.
    #[inline]
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True before the first split.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Field `i`, unquoted.
    #[inline]
    pub fn get(&self, i: usize) -> &[u8] {
        &self.bytes[self.starts[i]..self.ends[i]]
    }

    /// Field `i` as text, trimmed (a header's name).
    pub fn name(&self, i: usize) -> String {
        String::from_utf8_lossy(self.get(i)).trim().to_string()
    }
}

/// Where a CSV record's values are: the columns' names, the column of each feature,
/// and the label's column. Every record has exactly the named columns.
#[derive(Debug, Clone, Default)]
pub struct CsvLayout {
    names: Vec<String>,
    features: Vec<usize>,
    categorical: Vec<usize>,
    label: Option<usize>,
    missing: bool,
}

impl CsvLayout {
    /// The layout of records with columns `names`, feature `k` in column
    /// `features[k]` and the label, if any, in column `label` (columns from 0).
    pub fn new(names: Vec<String>, features: Vec<usize>, label: Option<usize>) -> Self {
        debug_assert!(features.iter().chain(&label).all(|&c| c < names.len()), "columns within the names");
        Self { names, features, categorical: Vec::new(), label, missing: false }
    }

    /// Categorical feature `k` is in column `categorical[k]` (read as text, into a
    /// [`CatSink`] by [`CsvLayout::decode_with`]).
    pub fn categorical(mut self, categorical: Vec<usize>) -> Self {
        debug_assert!(categorical.iter().all(|&c| c < self.names.len()), "columns within the names");
        self.categorical = categorical;
        self
    }

    /// Let missing values through (NaN, or a missing category) instead of refusing them.
    pub fn missing(mut self, missing: bool) -> Self {
        self.missing = missing;
        self
    }

    /// The columns' names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// True when records have a label column.
    pub fn has_label(&self) -> bool {
        self.label.is_some()
    }

    /// Append the record's features to `row` (which is left as it was when the
    /// record is refused) and give its label to `label`, whose refusal names the
    /// label's column.
    pub fn decode<'f, L>(
        &self,
        fields: &'f Fields,
        row: &mut Vec<f64>,
        label: impl FnOnce(RawLabel<'f>) -> Result<L, String>,
    ) -> Result<Option<L>, RecordError> {
        let (mut values, mut interner) = (Vec::new(), Interner::default());
        self.decode_with(fields, row, &mut CatSink { values: &mut values, interner: &mut interner }, label)
    }

    /// [`CsvLayout::decode`], with the record's categorical values appended to `cats`
    /// (left as they were when the record is refused).
    pub fn decode_with<'f, L>(
        &self,
        fields: &'f Fields,
        row: &mut Vec<f64>,
        cats: &mut CatSink<'_>,
        label: impl FnOnce(RawLabel<'f>) -> Result<L, String>,
    ) -> Result<Option<L>, RecordError> {
        if fields.len() != self.names.len() {
            return Err(RecordError::new(Reason::Columns { expected: self.names.len(), found: fields.len() }));
        }
        let (start, cat_start) = (row.len(), cats.values.len());
        let refuse = |row: &mut Vec<f64>, cats: &mut CatSink<'_>, c: usize, reason: Reason| {
            row.truncate(start);
            cats.values.truncate(cat_start);
            RecordError::at(c, &self.names[c], reason)
        };
        for &c in &self.features {
            // The reason is made out of the loop: an `Option<f64>` comes back in
            // registers, a `Result` with a reason through memory.
            match parse_number(fields.get(c)) {
                Some(v) if v.is_finite() => row.push(v),
                _ => match numeric_fallback(fields.get(c), self.missing) {
                    Ok(v) => row.push(v),
                    Err(reason) => return Err(refuse(row, cats, c, reason)),
                },
            }
        }
        for (k, &c) in self.categorical.iter().enumerate() {
            let Ok(text) = std::str::from_utf8(fields.get(c)) else {
                return Err(refuse(row, cats, c, Reason::NotUtf8));
            };
            if let Err(reason) = cats.push(k, text, self.missing) {
                return Err(refuse(row, cats, c, reason));
            }
        }
        let Some(c) = self.label else { return Ok(None) };
        // Borrowed from the split line: no string per record. A label that is not
        // UTF-8 is refused: replacing its bytes would make a class of its own.
        let Ok(text) = std::str::from_utf8(fields.get(c)) else {
            return Err(refuse(row, cats, c, Reason::NotUtf8));
        };
        let text = Cow::Borrowed(text.trim());
        let id =
            if text.is_empty() { Err(Reason::EmptyLabel) } else { label(RawLabel::Field(text)).map_err(Reason::Label) };
        id.map(Some).map_err(|reason| refuse(row, cats, c, reason))
    }

    /// The error of a record whose label the class map refuses, as
    /// [`CsvLayout::decode_with`] gives it when its `label` refuses.
    pub fn label_error(&self, reason: String) -> RecordError {
        let c = self.label.unwrap_or(0);
        RecordError::at(c, self.names.get(c).map_or("label", String::as_str), Reason::Label(reason))
    }
}

/// Reads JSON records: objects keyed by feature names, with the label under its
/// own key; and, when [`JsonDecoder::positional`] is set, arrays of the feature
/// values in order, and objects holding such an array under `"features"`.
///
/// Keys that are neither a feature nor the label are read and dropped, held to
/// the same rules as the others (number range, UTF-8, nesting): a record may carry
/// an id or a time beside its features. Only the values of the keys asked for are
/// kept, and those only as scalars; the object itself is never built.
#[derive(Clone)]
pub struct JsonDecoder {
    features: Vec<String>,
    /// Which features are categorical.
    is_categorical: Vec<bool>,
    missing: bool,
    label: Option<String>,
    label_required: bool,
    positional: bool,
    /// Features 0..d, the label at d, the positional array at d + 1.
    keys: Keys,
    /// The current record's values under those keys.
    slots: Vec<Option<Field>>,
    /// The current record's positional values (the first d), when it has them.
    values: Vec<Field>,
    /// How many positional values it has (past d, counted but not kept).
    found: Option<usize>,
}

impl JsonDecoder {
    /// Objects with these features, and no label.
    pub fn new(features: &[String]) -> Self {
        let mut decoder = Self {
            features: features.to_vec(),
            is_categorical: vec![false; features.len()],
            missing: false,
            label: None,
            label_required: false,
            positional: false,
            keys: Keys::default(),
            slots: Vec::new(),
            values: Vec::new(),
            found: None,
        };
        decoder.index();
        decoder
    }

    /// These features are categorical: read as text, into a [`CatSink`] by
    /// [`JsonDecoder::decode_with`], in the order of the features.
    pub fn categorical(mut self, names: &[String]) -> Self {
        self.is_categorical = self.features.iter().map(|f| names.contains(f)).collect();
        self
    }

    /// Let missing values (`null`, an absent key, an empty or `NA` text) through
    /// instead of refusing them.
    pub fn missing(mut self, missing: bool) -> Self {
        self.missing = missing;
        self
    }

    /// Every record has its label under `key`.
    pub fn label(mut self, key: &str) -> Self {
        self.label = Some(key.to_string());
        self.label_required = true;
        self.index();
        self
    }

    /// A record may have its label under `key` ([`JsonDecoder::decode`] tells whether it had).
    pub fn optional_label(mut self, key: &str) -> Self {
        self.label = Some(key.to_string());
        self.label_required = false;
        self.index();
        self
    }

    /// Also take the features as an array in order: the record itself, or the
    /// value of its `"features"` key.
    pub fn positional(mut self) -> Self {
        self.positional = true;
        self.index();
        self
    }

    fn index(&mut self) {
        let d = self.features.len();
        let mut keys: HashMap<String, usize> = self.features.iter().cloned().zip(0..).collect();
        if self.positional && !keys.contains_key("features") {
            keys.insert("features".into(), d + 1);
        }
        if let Some(label) = &self.label {
            keys.insert(label.clone(), d);
        }
        self.keys = Keys { slots: keys, order: Vec::new(), at: 0 };
        self.slots = vec![None; d + 2];
    }

    /// Read one record from the whole of `text` (an NDJSON line).
    pub fn read(&mut self, text: &[u8]) -> Result<(), RecordError> {
        let mut de = serde_json::Deserializer::from_slice(text);
        self.seed().deserialize(&mut de).and_then(|()| de.end()).map_err(|e| RecordError::json(&e))
    }

    /// A seed that reads one record from a larger document (an element of an array).
    pub fn seed(&mut self) -> RecordSeed<'_> {
        self.slots.iter_mut().for_each(|v| *v = None);
        self.values.clear();
        self.found = None;
        RecordSeed(self)
    }

    /// Append the features of the record just read to `row` (left as it was when the
    /// record is refused) and give its label, if it has one, to `label`, whose
    /// refusal names the label's column.
    pub fn decode<L>(
        &mut self,
        row: &mut Vec<f64>,
        label: impl FnOnce(RawLabel<'static>) -> Result<L, String>,
    ) -> Result<Option<L>, RecordError> {
        let (mut values, mut interner) = (Vec::new(), Interner::default());
        self.decode_with(row, &mut CatSink { values: &mut values, interner: &mut interner }, label)
    }

    /// [`JsonDecoder::decode`], with the record's categorical values appended to `cats`
    /// (left as they were when the record is refused).
    pub fn decode_with<L>(
        &mut self,
        row: &mut Vec<f64>,
        cats: &mut CatSink<'_>,
        label: impl FnOnce(RawLabel<'static>) -> Result<L, String>,
    ) -> Result<Option<L>, RecordError> {
        let d = self.features.len();
        let (start, cat_start) = (row.len(), cats.values.len());
        let missing = self.missing;
        let mut categorical = 0;
        let mut take = |k: usize, name: &str, field: Option<&Field>, is_cat: bool| -> Result<(), RecordError> {
            let at = |reason| RecordError::at(k, name, reason);
            if is_cat {
                let text = match field {
                    None | Some(Field::Null) if missing => None,
                    None => return Err(at(Reason::Missing)),
                    // Said as written, as for a numeric feature.
                    Some(Field::Null) => return Err(at(Reason::MissingValue("null".into()))),
                    Some(f) => Some(f.category().map_err(at)?),
                };
                match text {
                    Some(text) => cats.push(categorical, &text, missing).map_err(at)?,
                    None => cats.values.push(None),
                }
                categorical += 1;
                return Ok(());
            }
            match field {
                None if missing => row.push(f64::NAN),
                None => return Err(at(Reason::Missing)),
                Some(f) => row.push(f.number(missing).map_err(at)?),
            }
            Ok(())
        };
        let features = match self.found {
            Some(found) if found != d => Err(RecordError::new(Reason::Columns { expected: d, found })),
            Some(_) => {
                (0..d).try_for_each(|k| take(k, &self.features[k], Some(&self.values[k]), self.is_categorical[k]))
            }
            None => (0..d).try_for_each(|k| take(k, &self.features[k], self.slots[k].as_ref(), self.is_categorical[k])),
        };
        let labelled = features.and_then(|()| {
            let Some(key) = &self.label else { return Ok(None) };
            let raw = match self.slots[d].take() {
                Some(field) => field.label(),
                None if self.label_required => Err(Reason::Missing),
                None => return Ok(None),
            };
            raw.and_then(|raw| label(raw).map_err(Reason::Label)).map(Some).map_err(|r| RecordError::at(d, key, r))
        });
        if labelled.is_err() {
            row.truncate(start);
            cats.values.truncate(cat_start);
        }
        labelled
    }

    /// The error of a record whose label the class map refuses, as
    /// [`JsonDecoder::decode_with`] gives it when its `label` refuses.
    pub fn label_error(&self, reason: String) -> RecordError {
        RecordError::at(self.features.len(), self.label.as_deref().unwrap_or("label"), Reason::Label(reason))
    }
}

/// A JSON value as a record holds it: a scalar, or the kind of what is not one
/// (its contents are checked, not kept).
#[derive(Debug, Clone, PartialEq)]
enum Field {
    I64(i64),
    U64(u64),
    F64(f64),
    Text(String),
    Bool(bool),
    Null,
    Array,
    Object,
}

impl Field {
    /// A numeric feature's value: a finite number, a boolean as 1 or 0, or a missing
    /// value (`null`, an empty or `NA` text) as NaN when `missing` lets it through.
    #[inline]
    fn number(&self, missing: bool) -> Result<f64, Reason> {
        match self {
            Self::I64(v) => Ok(*v as f64),
            Self::U64(v) => Ok(*v as f64),
            Self::F64(v) => finite(*v),
            Self::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
            Self::Null if missing => Ok(f64::NAN),
            Self::Text(t) if missing && is_missing(t.as_bytes()) => Ok(f64::NAN),
            Self::Null => Err(Reason::MissingValue("null".into())),
            Self::Text(t) if is_missing(t.as_bytes()) => Err(missing_value(t.as_bytes())),
            _ => Err(Reason::NotANumber(self.to_string())),
        }
    }

    /// A categorical feature's value as text: a string, or a number or boolean as JSON
    /// writes it (`Null` is the caller's: a missing value).
    fn category(&self) -> Result<Cow<'_, str>, Reason> {
        match self {
            Self::Text(t) => Ok(Cow::Borrowed(t)),
            Self::I64(_) | Self::U64(_) | Self::F64(_) | Self::Bool(_) => Ok(Cow::Owned(self.to_string())),
            Self::Null => Ok(Cow::Borrowed("")),
            Self::Array | Self::Object => Err(Reason::NotACategory(self.to_string())),
        }
    }

    /// A label: any scalar, the empty text refused.
    fn label(self) -> Result<RawLabel<'static>, Reason> {
        match self {
            Self::Text(text) if text.is_empty() => Err(Reason::EmptyLabel),
            Self::Text(text) => Ok(RawLabel::String(text)),
            Self::I64(v) => Ok(RawLabel::Integer(v)),
            Self::U64(_) | Self::F64(_) | Self::Bool(_) => Ok(RawLabel::Scalar(self.to_string())),
            Self::Null | Self::Array | Self::Object => Err(Reason::NotALabel(self.to_string())),
        }
    }
}

impl fmt::Display for Field {
    /// As JSON writes it; an array or an object by its kind.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::I64(v) => write!(f, "{v}"),
            Self::U64(v) => write!(f, "{v}"),
            Self::F64(v) => match serde_json::Number::from_f64(*v) {
                Some(n) => write!(f, "{n}"),
                None => write!(f, "{v}"),
            },
            Self::Text(text) => write!(f, "{}", serde_json::Value::from(text.as_str())),
            Self::Bool(v) => write!(f, "{v}"),
            Self::Null => f.write_str("null"),
            Self::Array => f.write_str("an array"),
            Self::Object => f.write_str("an object"),
        }
    }
}

/// Reads one record into a [`JsonDecoder`] (see [`JsonDecoder::seed`]).
pub struct RecordSeed<'a>(&'a mut JsonDecoder);

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.0.positional {
            d.deserialize_any(self)
        } else {
            d.deserialize_map(self)
        }
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.0.positional {
            f.write_str("a record: an array of feature values, or an object keyed by feature names")
        } else {
            f.write_str("a map")
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let decoder = self.0;
        let d = decoder.features.len();
        decoder.keys.at = 0;
        while let Some(slot) = map.next_key_seed(Key(&mut decoder.keys))? {
            match slot {
                Some(i) if i == d + 1 => {
                    if decoder.found.is_some() {
                        return Err(serde::de::Error::custom("key \"features\" appears twice"));
                    }
                    decoder.values.clear();
                    decoder.found = Some(map.next_value_seed(Positional { values: &mut decoder.values, keep: d })?);
                }
                // A key that matters given twice: refused rather than the last one winning.
                Some(i) if decoder.slots[i].is_some() => {
                    let name =
                        if i < d { decoder.features[i].as_str() } else { decoder.label.as_deref().unwrap_or("label") };
                    return Err(serde::de::Error::custom(format!("key {name:?} appears twice")));
                }
                Some(i) => decoder.slots[i] = Some(map.next_value_seed(FieldSeed)?),
                None => map.next_value_seed(Checked)?,
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let decoder = self.0;
        let keep = decoder.features.len();
        decoder.found = Some(Positional { values: &mut decoder.values, keep }.visit_seq(seq)?);
        Ok(())
    }
}

/// An array of values: the first `keep` kept, the rest checked and counted.
struct Positional<'a> {
    values: &'a mut Vec<Field>,
    keep: usize,
}

impl<'de> DeserializeSeed<'de> for Positional<'_> {
    type Value = usize;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Positional<'_> {
    type Value = usize;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of feature values")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut found = 0;
        while found < self.keep {
            match seq.next_element_seed(FieldSeed)? {
                Some(field) => self.values.push(field),
                None => return Ok(found),
            }
            found += 1;
        }
        // Past the model's width the record is refused anyway: count, don't keep.
        while seq.next_element_seed(Checked)?.is_some() {
            found += 1;
        }
        Ok(found)
    }
}

/// A value into a [`Field`].
struct FieldSeed;

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Field;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed {
    type Value = Field;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Field, E> {
        Ok(Field::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Field, E> {
        Ok(Field::I64(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Field, E> {
        Ok(i64::try_from(v).map_or(Field::U64(v), Field::I64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Field, E> {
        Ok(Field::F64(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Field, E> {
        Ok(Field::Text(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Field, E> {
        Ok(Field::Text(v))
    }
    fn visit_unit<E>(self) -> Result<Field, E> {
        Ok(Field::Null)
    }
    fn visit_none<E>(self) -> Result<Field, E> {
        Ok(Field::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Field, A::Error> {
        Checked.visit_seq(seq).map(|()| Field::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Field, A::Error> {
        Checked.visit_map(map).map(|()| Field::Object)
    }
}

/// A value read in full and dropped: held to the same rules as one that is kept
/// (number range, UTF-8, nesting), without building it.
struct Checked;

impl<'de> DeserializeSeed<'de> for Checked {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Checked)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Checked)?.is_some() {
            map.next_value_seed(Checked)?;
        }
        Ok(())
    }
}

/// The keys asked for, and their slots.
#[derive(Clone, Default)]
struct Keys {
    slots: HashMap<String, usize>,
    /// The keys of the last record, in order, with their slots: records of a stream
    /// mostly name the same keys in the same order, and comparing a key with the one
    /// expected costs less than hashing it.
    order: Vec<(String, Option<usize>)>,
    /// The position of the next key in the record being read.
    at: usize,
}

impl Keys {
    /// The slot of `key`, the `at`-th of its record.
    #[inline]
    fn slot(&mut self, key: &str) -> Option<usize> {
        let at = self.at;
        self.at += 1;
        match self.order.get_mut(at) {
            Some((expected, slot)) if expected == key => *slot,
            Some(entry) => {
                let slot = self.slots.get(key).copied();
                entry.0.clear();
                entry.0.push_str(key);
                entry.1 = slot;
                slot
            }
            None => {
                let slot = self.slots.get(key).copied();
                // Bounded: a record of many keys costs its hashes, not memory.
                if at < 4096 {
                    self.order.push((key.to_string(), slot));
                }
                slot
            }
        }
    }
}

/// A key, looked up without being copied: its slot, or `None` for a key not asked for.
struct Key<'a>(&'a mut Keys);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.slot(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &str) -> Vec<String> {
        let mut fields = Fields::new();
        fields.split(line.as_bytes()).expect("splits");
        (0..fields.len()).map(|i| String::from_utf8_lossy(fields.get(i)).into_owned()).collect()
    }

    proptest::proptest! {
        /// The one-pass reading of plain decimals gives fast-float2's value, bit for bit.
        #[test]
        fn plain_decimals_read_as_fast_float_reads_them(text in "-?[0-9]{1,18}(\\.[0-9]{0,18})?") {
            let expected = fast_float2::parse::<f64, _>(&text).ok();
            let got = parse_number(text.as_bytes());
            proptest::prop_assert_eq!(got.map(f64::to_bits), expected.map(f64::to_bits), "{}", text);
        }

        /// The eight-bytes-at-a-time split finds the commas a byte-by-byte one finds.
        #[test]
        fn lines_split_at_every_comma(line in "[a-c,. ]{0,40}") {
            let expected: Vec<&str> = line.split(',').collect();
            proptest::prop_assert_eq!(fields(&line), expected);
        }
    }

    #[test]
    fn a_copied_splitter_splits_quoted_fields_as_the_original() {
        let original = Fields::new();
        let mut copy = original.clone();
        for line in [&b"1,\"2,rome,x"[..], b"a,\"b,c\",d", b"\"\"\"q\"\"\",2"] {
            let mut fresh = Fields::new();
            fresh.split(line).expect("splits");
            copy.split(line).expect("splits");
            let all = |f: &Fields| (0..f.len()).map(|i| f.get(i).to_vec()).collect::<Vec<_>>();
            assert_eq!(all(&copy), all(&fresh), "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn numbers_parse_whole_fields_only() {
        assert_eq!(parse_number(b" 1.5e3 "), Some(1500.0));
        assert_eq!(parse_number(b"-0.25"), Some(-0.25));
        assert_eq!(parse_number(b"1.5x"), None);
        assert_eq!(parse_number(b""), None);
        assert_eq!(parse_number(b"abc"), None);
        assert!(parse_number(b"NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_number(b"inf"), Some(f64::INFINITY));
    }

    #[test]
    fn plain_and_quoted_lines_split_alike() {
        assert_eq!(fields("1.5,,x"), ["1.5", "", "x"]);
        assert_eq!(fields("a"), ["a"]);
        assert_eq!(fields("\"a,b\",2,\"say \"\"hi\"\"\""), ["a,b", "2", "say \"hi\""]);
        assert_eq!(fields("1,\"2\""), fields("1,2"));
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn csv(layout: &CsvLayout, line: &str) -> Result<(Vec<f64>, Option<String>), String> {
        let mut fields = Fields::new();
        fields.split(line.as_bytes()).map_err(|e| e.to_string())?;
        let mut row = vec![-1.0];
        let label = layout.decode(&fields, &mut row, |l| Ok(l.text().into_owned())).map_err(|e| {
            assert_eq!(row, [-1.0], "a refused record leaves the row as it was");
            e.to_string()
        })?;
        Ok((row[1..].to_vec(), label))
    }

    #[test]
    fn csv_records_are_read_by_column() {
        let layout = CsvLayout::new(names(&["id", "a", "b", "class"]), vec![2, 1], Some(3));
        assert_eq!(csv(&layout, "7, 1.5 ,2, cat "), Ok((vec![2.0, 1.5], Some("cat".into()))));
        assert_eq!(csv(&layout, "7,1,2"), Err("expected 4 columns, found 3".into()));
        assert_eq!(csv(&layout, "7,oops,2,cat"), Err("column 2 (a): \"oops\" is not a number".into()));
        let nan = csv(&layout, "7,1,NaN,cat").expect_err("missing");
        assert!(nan.starts_with("column 3 (b): missing value (\"NaN\"): the model fills none"), "{nan}");
        assert_eq!(csv(&layout, "7,true, FALSE ,cat"), Ok((vec![0.0, 1.0], Some("cat".into()))), "booleans");
        assert_eq!(csv(&layout, "7,1,-inf,cat"), Err("column 3 (b): -inf is not a finite number".into()));
        assert_eq!(csv(&layout, "7,1,2, "), Err("column 4 (class): empty label".into()));
        let refusing = |line: &str| {
            let mut fields = Fields::new();
            fields.split(line.as_bytes()).expect("splits");
            layout
                .decode(&fields, &mut Vec::new(), |l| Err::<(), _>(format!("no {}", l.text())))
                .map_err(|e| e.to_string())
        };
        assert_eq!(refusing("7,1,2,dog"), Err("column 4 (class): no dog".into()));
    }

    fn json(decoder: &mut JsonDecoder, text: &str) -> Result<(Vec<f64>, Option<RawLabel<'static>>), String> {
        decoder.read(text.as_bytes()).map_err(|e| e.to_string())?;
        let mut row = vec![-1.0];
        let label = decoder.decode(&mut row, Ok).map_err(|e| {
            assert_eq!(row, [-1.0], "a refused record leaves the row as it was");
            e.to_string()
        })?;
        Ok((row[1..].to_vec(), label))
    }

    #[test]
    fn json_objects_are_read_by_key() {
        let mut decoder = JsonDecoder::new(&names(&["a", "b"])).label("y");
        let ok = json(&mut decoder, r#"{"b": 2, "id": [1, {"q": null}], "a": 1.5, "y": "cat"}"#);
        assert_eq!(ok, Ok((vec![1.5, 2.0], Some(RawLabel::String("cat".into())))));
        assert_eq!(json(&mut decoder, r#"{"a": 1, "b": 2, "y": 7}"#), Ok((vec![1.0, 2.0], Some(RawLabel::Integer(7)))));
        let scalar = json(&mut decoder, r#"{"a": 1, "b": 2, "y": 2.0}"#);
        assert_eq!(scalar, Ok((vec![1.0, 2.0], Some(RawLabel::Scalar("2.0".into())))));
        let cases = [
            (r#"{"a": 1, "y": "cat"}"#, "column 2 (b): missing"),
            (r#"{"a": "1", "b": 2, "y": "cat"}"#, "column 1 (a): \"1\" is not a number"),
            (r#"{"a": null, "b": 2, "y": "cat"}"#, "column 1 (a): missing value (null): the model fills none"),
            (r#"{"a": "NA", "b": 2, "y": "cat"}"#, "column 1 (a): missing value (\"NA\")"),
            (r#"{"a": [1], "b": 2, "y": "cat"}"#, "column 1 (a): an array is not a number"),
            (r#"{"a": 1, "b": 2}"#, "column 3 (y): missing"),
            (r#"{"a": 1, "b": 2, "y": ""}"#, "column 3 (y): empty label"),
            (r#"{"a": 1, "b": 2, "y": {}}"#, "column 3 (y): an object is not a label"),
            (r#"{"a": 1, "b": 2, "y": "c", "z": 1e400}"#, "column 37 (json): invalid JSON: number out of range"),
            (r#"[1, 2]"#, "column 0 (json): invalid JSON: invalid type: sequence, expected a map"),
        ];
        for (text, reason) in cases {
            let got = json(&mut decoder, text).expect_err(text);
            assert!(got.starts_with(reason), "{text}: {got}");
        }
    }

    fn text_of(values: &[Option<Arc<str>>]) -> Vec<String> {
        values.iter().map(|v| v.as_deref().map_or("<missing>".to_string(), str::to_string)).collect()
    }

    #[test]
    fn csv_categories_and_missing_values_when_let_through() {
        let layout =
            CsvLayout::new(names(&["a", "city", "b", "y"]), vec![0, 2], Some(3)).categorical(vec![1]).missing(true);
        let (mut fields, mut row, mut values, mut interner) = (Fields::new(), Vec::new(), Vec::new(), Interner::new(1));
        for line in ["1, paris ,2,x", ",NA,nan,x", "3,rome,true,y"] {
            fields.split(line.as_bytes()).expect("splits");
            let mut sink = CatSink { values: &mut values, interner: &mut interner };
            layout.decode_with(&fields, &mut row, &mut sink, |l| Ok(l.text().into_owned())).expect(line);
        }
        assert_eq!(row.len(), 6);
        assert_eq!((row[0], row[1], row[4], row[5]), (1.0, 2.0, 3.0, 1.0));
        assert!(row[2].is_nan() && row[3].is_nan(), "missing numbers are NaN");
        assert_eq!(text_of(&values), ["paris", "<missing>", "rome"]);
        // A refused record leaves both as they were.
        fields.split(b"4,oslo,zz,x").expect("splits");
        let mut sink = CatSink { values: &mut values, interner: &mut interner };
        let refused = layout.decode_with(&fields, &mut row, &mut sink, |l| Ok(l.text().into_owned()));
        assert_eq!(refused.map_err(|e| e.to_string()), Err("column 3 (b): \"zz\" is not a number".into()));
        assert_eq!((row.len(), values.len()), (6, 3));
        // Without an imputer a missing category is refused.
        let strict = CsvLayout::new(names(&["a", "city", "b", "y"]), vec![0, 2], Some(3)).categorical(vec![1]);
        fields.split(b"1,,2,x").expect("splits");
        let mut sink = CatSink { values: &mut values, interner: &mut interner };
        let refused = strict.decode_with(&fields, &mut row, &mut sink, |l| Ok(l.text().into_owned()));
        assert!(refused.expect_err("missing").to_string().starts_with("column 2 (city): missing value"));
        // A label that is not UTF-8 leaves both as they were too (its category was read).
        fields.split(b"4,oslo,5,\xff").expect("splits");
        let mut sink = CatSink { values: &mut values, interner: &mut interner };
        let refused = layout.decode_with(&fields, &mut row, &mut sink, |l| Ok(l.text().into_owned()));
        assert!(refused.expect_err("not UTF-8").to_string().starts_with("column 4 (y)"));
        assert_eq!((row.len(), values.len()), (6, 3));
    }

    #[test]
    fn json_categories_and_missing_values_when_let_through() {
        let mut decoder =
            JsonDecoder::new(&names(&["a", "city"])).categorical(&names(&["city"])).missing(true).label("y");
        let (mut row, mut values, mut interner) = (Vec::new(), Vec::new(), Interner::new(1));
        for text in [
            r#"{"a": 1, "city": "paris", "y": 0}"#,
            r#"{"a": null, "city": null, "y": 0}"#,
            r#"{"city": 75, "y": 1}"#,
            r#"{"a": true, "city": "", "y": 1}"#,
        ] {
            decoder.read(text.as_bytes()).expect(text);
            let mut sink = CatSink { values: &mut values, interner: &mut interner };
            decoder.decode_with(&mut row, &mut sink, |l| Ok(l.text().into_owned())).expect(text);
        }
        assert_eq!((row[0], row[3]), (1.0, 1.0));
        assert!(row[1].is_nan() && row[2].is_nan(), "null and an absent key are missing");
        assert_eq!(text_of(&values), ["paris", "<missing>", "75", "<missing>"]);
        decoder.read(br#"{"a": 1, "city": [1], "y": 0}"#).expect("reads");
        let mut sink = CatSink { values: &mut values, interner: &mut interner };
        let refused = decoder.decode_with(&mut row, &mut sink, |l| Ok(l.text().into_owned()));
        assert_eq!(refused.map_err(|e| e.to_string()), Err("column 2 (city): an array is not a category".into()));
        let long = format!(r#"{{"a": 1, "city": "{}", "y": 0}}"#, "x".repeat(MAX_CATEGORY_BYTES + 1));
        decoder.read(long.as_bytes()).expect("reads");
        let mut sink = CatSink { values: &mut values, interner: &mut interner };
        let refused = decoder.decode_with(&mut row, &mut sink, |l| Ok(l.text().into_owned()));
        let want = format!("column 2 (city): a category of 1025 bytes (at most {MAX_CATEGORY_BYTES})");
        assert_eq!(refused.map_err(|e| e.to_string()), Err(want));
        assert_eq!((row.len(), values.len()), (4, 4), "a refused record adds nothing");
    }

    #[test]
    fn positional_records_count_their_values() {
        let mut decoder = JsonDecoder::new(&names(&["a", "b"])).optional_label("label").positional();
        assert_eq!(json(&mut decoder, "[1, 2]"), Ok((vec![1.0, 2.0], None)));
        let labelled = json(&mut decoder, r#"{"label": "x", "features": [3, 4]}"#);
        assert_eq!(labelled, Ok((vec![3.0, 4.0], Some(RawLabel::String("x".into())))));
        assert_eq!(json(&mut decoder, r#"{"b": 2, "a": 1}"#), Ok((vec![1.0, 2.0], None)));
        assert_eq!(json(&mut decoder, "[1, 2, 3, [4], 5]"), Err("expected 2 columns, found 5".into()));
        assert_eq!(json(&mut decoder, "[1]"), Err("expected 2 columns, found 1".into()));
        assert_eq!(json(&mut decoder, "[1, \"x\"]"), Err("column 2 (b): \"x\" is not a number".into()));
    }
}
