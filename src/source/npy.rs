//! NumPy `.npy` sources: a float64 matrix of features (rows x features, C order),
//! with an optional int64 vector of labels (`--labels-from`), read as a stream.

use super::{OnError, Position, Source, SourceError, SourceOptions};
use crate::record::{Batch, LabelMap};
use ndarray::Array2;
use std::fs::File;
use std::io::{BufReader, Read};
use std::sync::atomic::Ordering;

/// The longest `.npy` header read: NumPy writes under 4 KiB; a longer one is not a
/// matrix eddy reads, and parsing it is never attempted.
const MAX_HEADER: usize = 64 * 1024;
/// The most features a `.npy` may have (a name is made for each).
pub const MAX_FEATURES: u64 = 1 << 20;

/// What a `.npy` header says.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyHeader {
    /// The dtype, e.g. `<f8`.
    pub descr: String,
    /// True for a Fortran-order (column-major) array.
    pub fortran_order: bool,
    /// The dimensions.
    pub shape: Vec<u64>,
}
use NpyHeader as Header;

/// Values of one 8-byte little-endian type, read one at a time after the header.
struct Reader<T> {
    inner: Box<dyn Read + Send>,
    decode: fn([u8; 8]) -> T,
}

impl<T> Reader<T> {
    fn next(&mut self) -> Option<std::io::Result<T>> {
        let mut b = [0u8; 8];
        match self.inner.read_exact(&mut b) {
            Ok(()) => Some(Ok((self.decode)(b))),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// Read the magic, version and header of a `.npy` file, with bounded lengths and a
/// parser that accepts only the dictionary NumPy writes (no nesting beyond the shape).
pub fn read_header(r: &mut impl Read) -> Result<NpyHeader, String> {
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).map_err(|_| "not a .npy file (too short)".to_string())?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (no NUMPY magic)".into());
    }
    let len = match magic[6] {
        1 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b).map_err(|_| "the header is cut short".to_string())?;
            u16::from_le_bytes(b) as usize
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b).map_err(|_| "the header is cut short".to_string())?;
            usize::try_from(u32::from_le_bytes(b)).unwrap_or(usize::MAX)
        }
        v => return Err(format!("format version {v} is not one eddy reads (1, 2 or 3)")),
    };
    if len > MAX_HEADER {
        return Err(format!("a header of {len} bytes: longer than the {MAX_HEADER} eddy reads"));
    }
    let mut text = vec![0u8; len];
    r.read_exact(&mut text).map_err(|_| "the header is cut short".to_string())?;
    let text = std::str::from_utf8(&text).map_err(|_| "the header is not text".to_string())?;
    parse_header(text)
}

/// `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }`.
fn parse_header(text: &str) -> Result<Header, String> {
    let bad = |what: &str| format!("not a .npy header eddy reads: {what}");
    let mut t = Tokens { s: text.as_bytes(), at: 0 };
    t.expect(b'{').map_err(|_| bad("it does not start with '{'"))?;
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    loop {
        if t.eat(b'}') {
            break;
        }
        let key = t.string().ok_or_else(|| bad("a key is not a string"))?;
        t.expect(b':').map_err(|_| bad("no ':' after a key"))?;
        match key {
            "descr" => descr = Some(t.string().ok_or_else(|| bad("descr is not a string"))?.to_string()),
            "fortran_order" => {
                fortran_order = Some(match t.word() {
                    "True" => true,
                    "False" => false,
                    _ => return Err(bad("fortran_order is not True or False")),
                })
            }
            "shape" => {
                t.expect(b'(').map_err(|_| bad("shape is not a tuple"))?;
                let mut dims = Vec::new();
                while !t.eat(b')') {
                    if dims.len() >= 8 {
                        return Err(bad("more than 8 dimensions"));
                    }
                    dims.push(t.word().parse::<u64>().map_err(|_| bad("a dimension is not a whole number"))?);
                    if !t.eat(b',') {
                        t.expect(b')').map_err(|_| bad("the shape is not closed"))?;
                        break;
                    }
                }
                shape = Some(dims);
            }
            _ => return Err(bad("an unknown key")),
        }
        if !t.eat(b',') {
            t.expect(b'}').map_err(|_| bad("the dictionary is not closed"))?;
            break;
        }
    }
    match (descr, fortran_order, shape) {
        (Some(descr), Some(fortran_order), Some(shape)) => Ok(Header { descr, fortran_order, shape }),
        _ => Err(bad("descr, fortran_order or shape is missing")),
    }
}

struct Tokens<'a> {
    s: &'a [u8],
    at: usize,
}

impl<'a> Tokens<'a> {
    fn skip_space(&mut self) {
        while self.s.get(self.at).is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }
    fn eat(&mut self, b: u8) -> bool {
        self.skip_space();
        let hit = self.s.get(self.at) == Some(&b);
        self.at += usize::from(hit);
        hit
    }
    fn expect(&mut self, b: u8) -> Result<(), ()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(())
        }
    }
    fn string(&mut self) -> Option<&'a str> {
        self.skip_space();
        let quote = *self.s.get(self.at).filter(|q| **q == b'\'' || **q == b'"')?;
        let start = self.at + 1;
        let len = self.s[start..].iter().position(|&b| b == quote)?;
        self.at = start + len + 1;
        std::str::from_utf8(&self.s[start..start + len]).ok()
    }
    fn word(&mut self) -> &'a str {
        self.skip_space();
        let start = self.at;
        while self.s.get(self.at).is_some_and(|b| b.is_ascii_alphanumeric()) {
            self.at += 1;
        }
        std::str::from_utf8(&self.s[start..self.at]).unwrap_or("")
    }
}

/// Batches from `.npy` files.
pub struct NpySource {
    name: String,
    x: Reader<f64>,
    y: Option<Reader<i64>>,
    rows: u64,
    row: u64,
    d: usize,
    seq: u64,
    features: Vec<String>,
    options: SourceOptions,
    rejects: Option<super::RejectsFile>,
    rejected: u64,
    /// Declared classes (`--classes`): other labels are bad records.
    classes: Option<Vec<i64>>,
    /// An error met after some rows of a batch: reported on the next call.
    pending_error: Option<SourceError>,
}

/// A `.npy` stream: its name (for errors), its bytes, and its total length in bytes,
/// which bounds what its header may declare.
pub struct NpyInput {
    /// The file's name, used in errors.
    pub name: String,
    /// Its bytes from the start (the magic).
    pub reader: Box<dyn Read + Send>,
    /// Its length in bytes.
    pub len: u64,
}

impl NpyInput {
    /// A file on disk.
    pub fn file(path: &str) -> Result<Self, SourceError> {
        let io = |error| SourceError::Io { source_name: path.to_string(), error };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        Ok(Self { name: path.to_string(), reader: Box::new(BufReader::with_capacity(1 << 16, file)), len })
    }

    /// Bytes in memory (tests and fuzzing).
    pub fn bytes(name: &str, bytes: Vec<u8>) -> Self {
        let len = bytes.len() as u64;
        Self { name: name.to_string(), reader: Box::new(std::io::Cursor::new(bytes)), len }
    }

    /// Read the header; the reader is left at the first value.
    fn header(&mut self) -> Result<Header, SourceError> {
        read_header(&mut self.reader).map_err(|reason| SourceError::Schema { source_name: self.name.clone(), reason })
    }
}

impl NpySource {
    /// Open the features file (and the labels file `--labels-from`, if given) and check their headers.
    pub fn open(path: &str, options: SourceOptions) -> Result<Self, SourceError> {
        let labels = match &options.labels_from {
            Some(labels) => Some(NpyInput::file(&labels.display().to_string())?),
            None => None,
        };
        Self::from_inputs(NpyInput::file(path)?, labels, options)
    }

    /// Read features (and labels) from any byte streams; `open` is this on files.
    pub fn from_inputs(
        mut features: NpyInput,
        labels: Option<NpyInput>,
        options: SourceOptions,
    ) -> Result<Self, SourceError> {
        let path = features.name.clone();
        let path = path.as_str();
        let schema = |reason: String| SourceError::Schema { source_name: path.to_string(), reason };
        let header = features.header()?;
        if header.fortran_order {
            return Err(schema("a Fortran-order array: save it with np.ascontiguousarray first".into()));
        }
        let (rows, d) = match *header.shape {
            [n, d] => (n, d),
            [n] => (n, 1),
            ref other => return Err(schema(format!("shape {other:?}: expected (rows, features)"))),
        };
        if !(1..=MAX_FEATURES).contains(&d) {
            return Err(schema(format!("{d} features: eddy reads 1 to {MAX_FEATURES}")));
        }
        let d = d as usize;
        // The header's shape must fit the file, or a corrupt header could ask for any amount of memory.
        let size = features.len;
        if rows.checked_mul(d as u64).and_then(|n| n.checked_mul(8)).is_none_or(|bytes| bytes > size) {
            return Err(schema(format!("the header says {rows} x {d} values, more than the file holds")));
        }
        if header.descr != "<f8" {
            return Err(schema(format!("dtype {}: expected float64 ('<f8')", header.descr)));
        }
        let x = Reader { inner: features.reader, decode: f64::from_le_bytes };
        let y = match labels {
            Some(mut input) => {
                let header = input.header()?;
                let labels = input.name;
                let n = match *header.shape {
                    [n] | [n, 1] => n,
                    ref other => {
                        return Err(SourceError::Schema {
                            source_name: labels,
                            reason: format!("shape {other:?}: expected (rows,)"),
                        })
                    }
                };
                if n != rows {
                    return Err(SourceError::Schema {
                        source_name: labels,
                        reason: format!("{n} labels for {rows} rows of {path}"),
                    });
                }
                if header.descr != "<i8" || header.fortran_order {
                    return Err(SourceError::Schema {
                        source_name: labels,
                        reason: format!("dtype {}: expected int64 ('<i8'), C order", header.descr),
                    });
                }
                Some(Reader { inner: input.reader, decode: i64::from_le_bytes })
            }
            None => None,
        };
        let rejects = options.rejects.clone().map(super::RejectsFile::new);
        let classes = match &options.classes {
            Some(names) => Some(
                names
                    .iter()
                    .map(|n| {
                        n.parse::<i64>().map_err(|_| schema(format!("--classes {n:?}: the labels of a .npy are int64")))
                    })
                    .collect::<Result<Vec<i64>, _>>()?,
            ),
            None => None,
        };
        Ok(Self {
            classes,
            pending_error: None,
            name: path.to_string(),
            x,
            y,
            rows,
            row: 0,
            d,
            seq: 0,
            features: (0..d).map(|i| format!("f{i}")).collect(),
            options,
            rejects,
            rejected: 0,
        })
    }
}

impl Source for NpySource {
    fn next_batch(&mut self) -> Result<Option<Batch>, SourceError> {
        if let Some(e) = self.pending_error.take() {
            return Err(e);
        }
        let io = |name: &str, error| SourceError::Io { source_name: name.to_string(), error };
        let cap = self.options.batch_size;
        let mut data = Vec::with_capacity(cap * self.d);
        let mut ids = Vec::with_capacity(cap);
        let mut ys = Vec::new();
        let mut values = vec![0.0; self.d];
        while ids.len() < cap && self.row < self.rows && !self.options.quit.load(Ordering::Relaxed) {
            let id = self.row;
            self.row += 1;
            for v in values.iter_mut() {
                *v = self
                    .x
                    .next()
                    .ok_or_else(|| io(&self.name, std::io::ErrorKind::UnexpectedEof.into()))?
                    .map_err(|e| io(&self.name, e))?;
            }
            let label = match self.y.as_mut() {
                Some(y) => Some(
                    y.next()
                        .ok_or_else(|| io("labels", std::io::ErrorKind::UnexpectedEof.into()))?
                        .map_err(|e| io("labels", e))?,
                ),
                None => None,
            };
            let bad = match (values.iter().position(|v| !v.is_finite()), label, &self.classes) {
                (Some(column), _, _) => Some((
                    Some((column + 1, self.features[column].clone())),
                    format!("{} is not a finite number", values[column]),
                )),
                (None, Some(l), Some(classes)) if !classes.contains(&l) => {
                    Some((None, format!("label {l} is not one of the declared classes {classes:?}")))
                }
                (None, Some(crate::model::NO_PREDICTION), _) => Some((None, "label i64::MIN is reserved".into())),
                _ => None,
            };
            if let Some((column, reason)) = bad {
                let position = Position { source: self.name.clone(), line: id + 1, entry: None, column };
                if self.options.on_error == OnError::Fail {
                    // Rows before it still go downstream; the error comes with the next call.
                    self.pending_error = Some(SourceError::Record { position, reason });
                    self.row = self.rows;
                    break;
                }
                self.rejected += 1;
                if let Some(out) = self.rejects.as_mut() {
                    let column =
                        position.column.as_ref().map(|(n, f)| format!("column {n} ({f}): ")).unwrap_or_default();
                    out.write_line(&format!("{}\t{}\t{column}{reason}\t{values:?}", self.name, id + 1))?;
                }
                continue;
            }
            data.extend_from_slice(&values);
            ids.push(id);
            ys.extend(label);
        }
        if let Some(out) = self.rejects.as_mut() {
            out.flush()?;
        }
        if ids.is_empty() {
            return match self.pending_error.take() {
                Some(e) => Err(e),
                None => Ok(None),
            };
        }
        let x = Array2::from_shape_vec((ids.len(), self.d), data)
            .map_err(|e| SourceError::Schema { source_name: self.name.clone(), reason: e.to_string() })?;
        let batch = Batch {
            seq: self.seq,
            ids,
            x,
            y: self.y.is_some().then_some(ys),
            end_offset: self.row,
            ..Batch::default()
        };
        self.seq += 1;
        Ok(Some(batch))
    }

    fn feature_names(&self) -> &[String] {
        &self.features
    }

    fn label_map(&self) -> Option<&LabelMap> {
        None
    }

    fn has_labels(&self) -> bool {
        self.y.is_some()
    }

    fn rejected(&self) -> u64 {
        self.rejected
    }

    fn resume(&mut self, position: &crate::record::SourcePosition) -> Result<(), SourceError> {
        let short = || SourceError::Schema {
            source_name: self.name.clone(),
            reason: "shorter than the checkpoint's position".into(),
        };
        while self.row < position.records {
            for _ in 0..self.d {
                self.x
                    .next()
                    .ok_or_else(short)?
                    .map_err(|error| SourceError::Io { source_name: self.name.clone(), error })?;
            }
            if let Some(y) = self.y.as_mut() {
                y.next().ok_or_else(short)?.map_err(|error| SourceError::Io { source_name: "labels".into(), error })?;
            }
            self.row += 1;
        }
        self.rejected = position.rejected;
        super::resume_rejects(self.rejects.as_mut(), position, &self.name)
    }

    fn sync(&mut self) -> Result<(), SourceError> {
        self.rejects.as_mut().map_or(Ok(()), super::RejectsFile::sync)
    }

    fn position(&self) -> crate::record::SourcePosition {
        crate::record::SourcePosition {
            records: self.row,
            offset: self.row,
            line: self.row,
            rejected: self.rejected,
            labels: None,
            checksum: None,
            rejects_len: self.rejects.as_ref().map(super::RejectsFile::len),
            delayed: None,
            stream: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_headers_numpy_writes() {
        let h = parse_header("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }     \n").expect("valid");
        assert_eq!(h, Header { descr: "<f8".into(), fortran_order: false, shape: vec![3, 2] });
        let h = parse_header("{'descr': '<i8', 'fortran_order': True, 'shape': (7,), }").expect("valid");
        assert_eq!((h.fortran_order, h.shape), (true, vec![7]));
        assert_eq!(
            parse_header("{'shape': (), 'descr': \"<f8\", 'fortran_order': False}").expect("valid").shape,
            Vec::<u64>::new()
        );
    }

    #[test]
    fn refuses_anything_else_quickly() {
        // npyz's parser takes exponential time on nested brackets; this one refuses them at once.
        let nested =
            format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {}1{}}}", "(".repeat(5000), ")".repeat(5000));
        let start = std::time::Instant::now();
        assert!(parse_header(&nested).is_err());
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        for bad in [
            "",
            "{",
            "{'descr': '<f8'",
            "{'x': 1}",
            "{'shape': (1, -2), 'descr': '<f8', 'fortran_order': False}",
            "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1,)}",
        ] {
            assert!(parse_header(bad).is_err(), "{bad:?}");
        }
        let long = [b"\x93NUMPY\x02\x00".as_slice(), &u32::MAX.to_le_bytes()].concat();
        assert!(read_header(&mut long.as_slice()).expect_err("too long").contains("longer than"));
    }
}
