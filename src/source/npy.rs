//! NumPy `.npy` sources: a float64 matrix of features (rows x features, C order),
//! with an optional int64 vector of labels (`--labels-from`), read as a stream.

use super::{OnError, Position, Source, SourceError, SourceOptions};
use crate::record::{Batch, LabelMap};
use ndarray::Array2;
use npyz::{NpyFile, NpyReader};
use std::fs::File;
use std::io::BufReader;
use std::sync::atomic::Ordering;

type Reader<T> = NpyReader<T, BufReader<File>>;

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

fn open_npy(path: &str) -> Result<NpyFile<BufReader<File>>, SourceError> {
    let io = |error| SourceError::Io { source_name: path.to_string(), error };
    NpyFile::new(BufReader::with_capacity(1 << 16, File::open(path).map_err(io)?)).map_err(io)
}

impl NpySource {
    /// Open the features file (and the labels file, if given) and check their headers.
    pub fn open(path: &str, options: SourceOptions) -> Result<Self, SourceError> {
        let schema = |reason: String| SourceError::Schema { source_name: path.to_string(), reason };
        let file = open_npy(path)?;
        if file.order() != npyz::Order::C {
            return Err(schema("a Fortran-order array: save it with np.ascontiguousarray first".into()));
        }
        let (rows, d) = match *file.shape() {
            [n, d] => (n, d as usize),
            [n] => (n, 1),
            ref other => return Err(schema(format!("shape {other:?}: expected (rows, features)"))),
        };
        let dtype = file.dtype().descr();
        // The header's shape must fit the file, or a corrupt header could ask for any amount of memory.
        let size =
            std::fs::metadata(path).map_err(|error| SourceError::Io { source_name: path.to_string(), error })?.len();
        if rows.checked_mul(d as u64).and_then(|n| n.checked_mul(8)).is_none_or(|bytes| bytes > size) {
            return Err(schema(format!("the header says {rows} x {d} values, more than the file holds")));
        }
        let x = file.data::<f64>().map_err(|_| schema(format!("dtype {dtype}: expected float64 ('<f8')")))?;
        let y = match &options.labels_from {
            Some(labels) => {
                let labels = labels.display().to_string();
                let file = open_npy(&labels)?;
                let n = match *file.shape() {
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
                let dtype = file.dtype().descr();
                Some(file.data::<i64>().map_err(|_| SourceError::Schema {
                    source_name: labels.clone(),
                    reason: format!("dtype {dtype}: expected int64 ('<i8')"),
                })?)
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
                let position = Position { source: self.name.clone(), line: id + 1, column };
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
        let batch = Batch { seq: self.seq, ids, x, y: self.y.is_some().then_some(ys), end_offset: self.row };
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
        }
    }
}
