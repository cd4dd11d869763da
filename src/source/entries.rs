//! Records that arrive as keyed entries of a streaming engine (Redis stream entries,
//! Kafka messages) become text lines for [`super::text::TextSource`], one line per
//! entry, so their records obey exactly the rules of a file's. This module keeps what
//! every engine shares: the lines and the key of each (an entry id, a
//! `topic/partition/offset`), entries that could not be laid out as one line, and the
//! keys of rejected entries. An engine only fetches ([`Fetch`]).

use crate::record::{Batch, SourcePosition};
use std::collections::VecDeque;
use std::io::{self, BufRead, Read};
use std::sync::{Arc, Mutex, PoisonError};

use super::text::TextSource;
use super::{Source, SourceError, SourceOptions};

/// What the reader shares with the source: the entry key of each line not yet read
/// (from the oldest), and the header the entries are laid out by.
#[derive(Default)]
pub(super) struct Shared {
    pub(super) ids: EntryIds,
    pub(super) header: Option<Vec<String>>,
    /// Lines standing for entries that could not be laid out, and why.
    pub(super) refused: VecDeque<(u64, String)>,
    /// Entries rejected as bad records, not yet acknowledged (a group's worker).
    pub(super) rejected: Vec<Arc<str>>,
}

/// The reader's knowledge of its lines, for the CSV source.
pub(super) struct Origin(pub(super) SharedState);

impl super::text::LineOrigin for Origin {
    fn name(&self, line: u64) -> Option<String> {
        lock(&self.0).ids.get(line)
    }

    fn refusal(&self, line: u64) -> Option<String> {
        let shared = lock(&self.0);
        shared.refused.iter().find(|(l, _)| *l == line).map(|(_, why)| why.clone())
    }

    fn rejected(&self, line: u64) {
        let mut shared = lock(&self.0);
        if let Some(key) = shared.ids.key(line) {
            shared.rejected.push(key);
        }
    }
}

/// The entry id of each line not yet read, from the oldest.
#[derive(Default)]
pub(super) struct EntryIds(VecDeque<(u64, Arc<str>)>);

impl EntryIds {
    pub(super) fn get(&self, line: u64) -> Option<String> {
        self.key(line).map(|k| k.to_string())
    }

    pub(super) fn key(&self, line: u64) -> Option<Arc<str>> {
        let i = self.0.binary_search_by_key(&line, |&(l, _)| l).ok()?;
        Some(Arc::clone(&self.0[i].1))
    }

    #[cfg_attr(not(feature = "kafka"), allow(dead_code))] // Kafka's only, for now
    /// The keys of the lines before `line`, oldest first.
    pub(super) fn keys_before(&self, line: u64) -> impl Iterator<Item = &str> {
        self.0.iter().take_while(move |&&(l, _)| l < line).map(|(_, k)| k.as_ref())
    }

    /// Forget the lines before `line`: they are read, and named in errors no more.
    pub(super) fn forget_before(&mut self, line: u64) {
        while self.0.front().is_some_and(|&(l, _)| l < line) {
            self.0.pop_front();
        }
    }
}

pub(super) type SharedState = Arc<Mutex<Shared>>;

/// A fresh state, with the header a resumed run starts with.
pub(super) fn shared_state(header: Option<Vec<String>>) -> SharedState {
    Arc::new(Mutex::new(Shared { header, ..Shared::default() }))
}

pub(super) fn lock(shared: &SharedState) -> std::sync::MutexGuard<'_, Shared> {
    // Plain data, whole after any panic between its calls.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The text the entries become, with the key of each line.
pub(super) struct Lines {
    buf: Vec<u8>,
    pos: usize,
    /// The number of the last line written (the header is line 1 of a fresh run).
    lines: u64,
    /// Field names, for entries of fields (the first entry's, or a resumed run's).
    header: Option<Vec<Vec<u8>>>,
    header_written: bool,
    shared: SharedState,
}

impl Lines {
    /// Lines after line `line` (0 for a fresh run), laid out by `header` when given
    /// (a resumed run's); the header, once known, is written as the line before the first entry.
    pub(super) fn new(shared: SharedState, header: Option<&[String]>, line: u64) -> Self {
        Self {
            buf: Vec::new(),
            pos: 0,
            // The header takes the number of the checkpoint's last line, so the entries
            // after it are numbered as in the interrupted run.
            lines: line.saturating_sub(1),
            header: header.map(|h| h.iter().map(|n| n.as_bytes().to_vec()).collect()),
            header_written: false,
            shared,
        }
    }

    #[cfg_attr(not(feature = "kafka"), allow(dead_code))] // Kafka's only, for now
    /// Lines after line `line` (0 for a fresh run) that are whole records already: no
    /// header (an NDJSON line each).
    pub(super) fn plain(shared: SharedState, line: u64) -> Self {
        Self { lines: line, header_written: true, ..Self::new(shared, None, 0) }
    }

    /// Append an entry of fields as a CSV line, in the header's order (and the header,
    /// the first entry's field names, before the first).
    pub(super) fn push_fields(&mut self, id: &str, fields: &[(Vec<u8>, Vec<u8>)]) -> io::Result<()> {
        if self.header.is_none() {
            let names: Result<Vec<String>, _> =
                fields.iter().map(|(name, _)| String::from_utf8(name.clone())).collect();
            let names = names.map_err(|_| {
                io::Error::other(format!("entry {id}: a field name is not UTF-8 (the first entry names the columns)"))
            })?;
            lock(&self.shared).header = Some(names);
            self.header = Some(fields.iter().map(|(name, _)| name.clone()).collect());
        }
        let header = self.header.as_deref().unwrap_or_default();
        if !self.header_written {
            if header.iter().any(|name| has_line_break(name)) {
                return Err(io::Error::other(format!("entry {id}: a field name holds a line break")));
            }
            write_csv_line(&mut self.buf, header.iter().map(Vec::as_slice));
            self.header_written = true;
            self.lines += 1;
        }
        self.lines += 1;
        let mut shared = lock(&self.shared);
        // A text line holds one record: a value with a line break would split it, and
        // shift every later line off its entry. Such an entry is refused, with a line of its own.
        if let Some((name, _)) = fields.iter().find(|(name, value)| has_line_break(name) || has_line_break(value)) {
            let name = String::from_utf8_lossy(name);
            shared.refused.push_back((self.lines, format!("field {name:?} holds a line break")));
            let flat: Vec<(Vec<u8>, Vec<u8>)> = fields.iter().map(|(n, v)| (n.clone(), flatten(v))).collect();
            write_record(&mut self.buf, header, &flat);
        } else {
            write_record(&mut self.buf, header, fields);
        }
        shared.ids.0.push_back((self.lines, Arc::from(id)));
        Ok(())
    }

    #[cfg_attr(not(feature = "kafka"), allow(dead_code))] // Kafka's only, for now
    /// Append an entry that is a line of text (CSV). One with a line break (a quoted
    /// field's) would split into two records: it is refused, and kept one line.
    pub(super) fn push_line(&mut self, id: &str, text: &[u8]) {
        self.lines += 1;
        let mut shared = lock(&self.shared);
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) {
            shared.refused.push_back((self.lines, "the message is empty".into()));
            self.buf.extend_from_slice(b"\"\"");
        } else if has_line_break(text) {
            shared.refused.push_back((self.lines, "the message holds a line break".into()));
            self.buf.extend_from_slice(&flatten(text));
        } else {
            self.buf.extend_from_slice(text);
        }
        self.buf.push(b'\n');
        shared.ids.0.push_back((self.lines, Arc::from(id)));
    }

    #[cfg_attr(not(feature = "kafka"), allow(dead_code))] // Kafka's only, for now
    /// Append an entry that is a JSON object. Line breaks in JSON are whitespace (one
    /// inside a string must be escaped), so they become spaces: the entry stays one line.
    pub(super) fn push_json(&mut self, id: &str, json: &[u8]) {
        self.lines += 1;
        let mut shared = lock(&self.shared);
        if json.iter().all(u8::is_ascii_whitespace) {
            // A blank line is no record: the entry must stay one.
            shared.refused.push_back((self.lines, "the message is empty".into()));
            self.buf.extend_from_slice(b"\"\"");
        } else if has_line_break(json) {
            self.buf.extend_from_slice(&flatten(json));
        } else {
            self.buf.extend_from_slice(json);
        }
        self.buf.push(b'\n');
        shared.ids.0.push_back((self.lines, Arc::from(id)));
    }
}

/// `text` with its line breaks made spaces.
fn flatten(text: &[u8]) -> Vec<u8> {
    text.iter().map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }).collect()
}

/// Fetches an engine's entries.
pub(super) trait Fetch: Send {
    /// Append the next entries to `lines`. Nothing appended is the end (a stream read to
    /// its end); `WouldBlock` when none came yet and more may (a followed stream, a
    /// group's worker waiting for its group's end).
    fn fetch(&mut self, lines: &mut Lines) -> io::Result<()>;
}

/// An engine's entries as one text, for [`super::text::TextSource`].
pub(super) struct EntryReader<F> {
    pub(super) fetch: F,
    pub(super) lines: Lines,
}

impl<F: Fetch> Read for EntryReader<F> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<F: Fetch> BufRead for EntryReader<F> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let lines = &mut self.lines;
        if lines.pos >= lines.buf.len() {
            lines.buf.clear();
            lines.pos = 0;
            self.fetch.fetch(lines)?;
        }
        Ok(&self.lines.buf[self.lines.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.lines.pos = (self.lines.pos + n).min(self.lines.buf.len());
    }
}

/// `options` that read a resumed run's entries by the columns `run` opened with, by
/// name and kind: the first entry after the checkpoint must not decide them anew.
pub(super) fn run_columns(run: &TextSource, options: &SourceOptions) -> SourceOptions {
    let (numeric, categorical) = (run.feature_names(), run.categorical_names());
    let mut options = options.clone();
    options.features = Some(numeric.iter().chain(categorical).cloned().collect());
    options.categorical = categorical.to_vec();
    options
}

/// Refuse a resumed reader whose first `entry` reads as other columns than the run's.
pub(super) fn same_columns(name: &str, run: &TextSource, resumed: &TextSource, entry: &str) -> Result<(), SourceError> {
    let (numeric, categorical) = (run.feature_names(), run.categorical_names());
    if resumed.feature_names() == numeric && resumed.categorical_names() == categorical {
        return Ok(());
    }
    Err(SourceError::Schema {
        source_name: name.to_string(),
        reason: format!(
            "the first {entry} after the checkpoint reads as other columns (numeric {:?}, categorical {:?}) than \
             the run's (numeric {numeric:?}, categorical {categorical:?}): a text value in a numeric column?",
            resumed.feature_names(),
            resumed.categorical_names()
        ),
    })
}

/// After the text source read a batch (now at `at`): key its records by their entries,
/// forget the lines read, and take the keys of the entries rejected meanwhile.
pub(super) fn key_batch(
    shared: &SharedState,
    name: &str,
    at: &SourcePosition,
    batch: &mut Result<Option<Batch>, SourceError>,
) -> Result<Vec<Arc<str>>, SourceError> {
    let mut shared = lock(shared);
    // Every entry is one line and one record id (from 0), so a record's line is its
    // id plus the lines before the first record, plus one (lines count from 1).
    let before = at.line.saturating_sub(at.records) + 1;
    if let Ok(Some(b)) = batch {
        let keys: Option<Vec<Arc<str>>> = b.ids.iter().map(|&id| shared.ids.key(id + before)).collect();
        b.keys = Some(keys.ok_or_else(|| SourceError::Schema {
            source_name: name.to_string(),
            reason: "a record's entry is unknown (a line without an entry)".into(),
        })?);
    }
    let read = at.line;
    shared.ids.forget_before(read);
    while shared.refused.front().is_some_and(|&(l, _)| l < read) {
        shared.refused.pop_front();
    }
    Ok(std::mem::take(&mut shared.rejected))
}

/// Write an entry's values as a CSV line in the header's order: a field it lacks is
/// empty (a missing value), fields the header lacks go last (a record too wide).
pub(super) fn write_record(out: &mut Vec<u8>, header: &[Vec<u8>], fields: &[(Vec<u8>, Vec<u8>)]) {
    let in_order = header.iter().map(|name| fields.iter().find(|(f, _)| f == name).map_or(&[][..], |(_, v)| v));
    let unknown = fields.iter().filter(|(f, _)| !header.contains(f)).map(|(_, v)| v.as_slice());
    write_csv_line(out, in_order.chain(unknown));
}

pub(super) fn has_line_break(text: &[u8]) -> bool {
    text.iter().any(|&b| b == b'\n' || b == b'\r')
}

/// Write one CSV line, quoting the fields that need it, and never blank (a blank line is
/// no record, and every entry must stay one).
fn write_csv_line<'a>(out: &mut Vec<u8>, fields: impl Iterator<Item = &'a [u8]>) {
    let start = out.len();
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if field.iter().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
            out.push(b'"');
            for &b in field {
                if b == b'"' {
                    out.push(b'"');
                }
                out.push(b);
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(field);
        }
    }
    if out.len() == start {
        out.extend_from_slice(b"\"\"");
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    #[test]
    fn fields_that_need_it_are_quoted() {
        let mut out = Vec::new();
        write_csv_line(&mut out, [&b"a"[..], b"b,c", b"say \"hi\"", b"", b"x\ny"].into_iter());
        assert_eq!(out, b"a,\"b,c\",\"say \"\"hi\"\"\",,\"x\ny\"\n");
        out.clear();
        write_csv_line(&mut out, [&b""[..]].into_iter());
        assert_eq!(out, b"\"\"\n", "one empty field is a record, not a blank line");
    }

    proptest::proptest! {
        /// Any values without a line break make exactly one line, which the CSV reader
        /// splits back into the same values, in the header's order.
        #[test]
        fn an_entry_is_one_line_that_reads_back_as_its_values(
            values in proptest::collection::vec(proptest::collection::vec(
                proptest::prelude::any::<u8>().prop_filter("no line break", |b| *b != b'\n' && *b != b'\r'), 0..12), 1..8),
        ) {
            let header: Vec<Vec<u8>> = (0..values.len()).map(|i| format!("f{i}").into_bytes()).collect();
            // The entry's fields in reverse order: the layout follows the header.
            let fields: Vec<(Vec<u8>, Vec<u8>)> =
                header.iter().cloned().zip(values.iter().cloned()).rev().collect();
            let mut out = Vec::new();
            write_record(&mut out, &header, &fields);
            proptest::prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
            proptest::prop_assert_eq!(out.last(), Some(&b'\n'));
            let mut split = crate::source::decode::Fields::new();
            split.split(&out[..out.len() - 1]).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(split.len(), values.len());
            for (i, v) in values.iter().enumerate() {
                proptest::prop_assert_eq!(split.get(i), v.as_slice());
            }
        }
    }
}
