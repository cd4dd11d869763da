//! Feature hashing: named (categorical or numeric) features into a fixed number
//! of columns, with scikit-learn's `FeatureHasher` semantics.
//!
//! A feature is a name with either a string value or a number:
//!
//! - a **string** value `v` of feature `name` hashes the UTF-8 bytes of
//!   `"{name}={v}"` and weighs 1 (one-hot encoding without a vocabulary);
//! - a **number** `x` of feature `name` hashes `name` and weighs `x`; a number
//!   equal to zero (`0.0` or `-0.0`) is left out, as scikit-learn skips it.
//!
//! The hash is the signed 32-bit MurmurHash3 (x86_32) with seed 0, `h`. The column is
//! `|h| mod n_features` (with `|i32::MIN|` = 2³¹); with `alternate_sign` the weight is
//! negated when `h < 0`, so that collisions tend to cancel rather than add up and
//! inner products are roughly preserved. The same inputs give the same columns and
//! values as scikit-learn 1.9.1's `FeatureHasher(input_type="dict")`, checked by the
//! fixtures of `tests/fixtures/generate.py`.
//!
//! ```
//! use eddy::hashing::{FeatureHasher, HashValue};
//!
//! let hasher = FeatureHasher::new(1 << 18, true)?;
//! let row = hasher.transform_one([
//!     ("color", HashValue::Str("red")),
//!     ("price", HashValue::Num(2.5)),
//!     ("discount", HashValue::Num(0.0)), // zero: no entry
//! ]);
//! // Sorted by column; each value is its weight, negated when the key's hash is negative.
//! assert_eq!(row.len(), 2);
//! assert!(row.windows(2).all(|w| w[0].0 < w[1].0));
//! let mut weights: Vec<f64> = row.iter().map(|&(_, value)| value.abs()).collect();
//! weights.sort_by(f64::total_cmp);
//! assert_eq!(weights, [1.0, 2.5]);
//! # Ok::<(), eddy::hashing::HashingError>(())
//! ```

use thiserror::Error;

/// The largest `n_features` scikit-learn accepts (`np.iinfo(np.int32).max`).
pub const MAX_N_FEATURES: usize = i32::MAX as usize;

/// A refused [`FeatureHasher`] parameter.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HashingError {
    /// `n_features` must be from 1 to 2³¹ − 1, as in scikit-learn.
    #[error("n_features must be from 1 to {MAX_N_FEATURES} (2**31 - 1), got {0}")]
    NFeatures(usize),
}

/// MurmurHash3 x86_32 of `key` with `seed`, as a signed 32-bit integer.
///
/// Bit for bit scikit-learn's `sklearn.utils.murmurhash3_32(key, seed, positive=False)`
/// on bytes (a `str` key there is its UTF-8 bytes, an `int` key its 4 bytes
/// little-endian) and Austin Appleby's reference `MurmurHash3_x86_32`. `positive=True`
/// is this value `as u32`. Blocks are read little-endian on every platform, as the
/// reference reads them on x86 and ARM (on a big-endian machine it would differ).
///
/// ```
/// use eddy::hashing::murmurhash3_32;
///
/// // scikit-learn's docstring example: murmurhash3_32(b"Hello World!", seed=42)
/// assert_eq!(murmurhash3_32(b"Hello World!", 42), 3565178);
/// assert_eq!(murmurhash3_32(b"", 0), 0);
/// ```
pub fn murmurhash3_32(key: &[u8], seed: u32) -> i32 {
    let mut hasher = Murmur3::new(seed);
    hasher.write(key);
    hasher.finish()
}

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

/// One 4-byte block (or the zero-padded tail) scrambled before it enters the state.
#[inline]
fn scramble(k: u32) -> u32 {
    k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
}

/// The finalisation mix: every input bit reaches every output bit.
#[inline]
fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// MurmurHash3 x86_32 fed in pieces, so that `name`, `=` and `value` hash as one
/// key without building the string: no allocation per feature.
#[derive(Debug, Clone, Copy)]
struct Murmur3 {
    h: u32,
    /// Bytes of a block not yet complete, little-endian (the first byte lowest).
    tail: u32,
    /// How many bytes `tail` holds (0 to 3).
    tail_len: u32,
    /// Bytes written, modulo 2³² (the reference's `int len`, cast to `uint32_t`).
    len: u32,
}

impl Murmur3 {
    #[inline]
    fn new(seed: u32) -> Self {
        Self { h: seed, tail: 0, tail_len: 0, len: 0 }
    }

    #[inline]
    fn block(&mut self, k: u32) {
        self.h ^= scramble(k);
        self.h = self.h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }

    #[inline]
    fn push_byte(&mut self, b: u8) {
        self.tail |= u32::from(b) << (8 * self.tail_len);
        self.tail_len += 1;
        if self.tail_len == 4 {
            let k = self.tail;
            self.block(k);
            self.tail = 0;
            self.tail_len = 0;
        }
    }

    fn write(&mut self, mut bytes: &[u8]) {
        // Truncation is the reference's: it hashes the length as a 32-bit integer.
        self.len = self.len.wrapping_add(bytes.len() as u32);
        // Complete a block left over from an earlier piece, byte by byte.
        while self.tail_len != 0 {
            match bytes.split_first() {
                Some((&b, rest)) => {
                    self.push_byte(b);
                    bytes = rest;
                }
                None => return,
            }
        }
        // Whole blocks, read little-endian as the reference reads them on x86.
        let mut blocks = bytes.chunks_exact(4);
        for b in &mut blocks {
            self.block(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        }
        for &b in blocks.remainder() {
            self.push_byte(b);
        }
    }

    #[inline]
    fn finish(self) -> i32 {
        let mut h = self.h;
        if self.tail_len != 0 {
            h ^= scramble(self.tail);
        }
        // The reference's `uint32_t` result read as `int32_t`, as scikit-learn does.
        fmix32(h ^ self.len) as i32
    }
}

/// The value of one named feature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HashValue<'a> {
    /// A categorical value: the key is `"{name}={value}"`, the weight 1.
    Str(&'a str),
    /// A number: the key is `name`, the weight the number (zero: no entry).
    ///
    /// It is not checked: a NaN or an infinity passes through (signed), as in
    /// scikit-learn, so refuse them before hashing if they must not reach a model.
    Num(f64),
}

impl<'a> From<&'a str> for HashValue<'a> {
    fn from(value: &'a str) -> Self {
        HashValue::Str(value)
    }
}

impl From<f64> for HashValue<'_> {
    fn from(value: f64) -> Self {
        HashValue::Num(value)
    }
}

/// scikit-learn's `FeatureHasher` (the hashing trick) for one record at a time.
///
/// Stateless: it needs no fitting and the same record always gives the same row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureHasher {
    n_features: usize,
    alternate_sign: bool,
}

impl FeatureHasher {
    /// A hasher into `n_features` columns (1 to [`MAX_N_FEATURES`], as scikit-learn
    /// allows); `alternate_sign` flips the sign of features whose hash is negative
    /// (scikit-learn's default is `true`, with `n_features = 2**20`).
    ///
    /// ```
    /// use eddy::hashing::{FeatureHasher, HashingError};
    ///
    /// assert!(FeatureHasher::new(1 << 18, true).is_ok());
    /// assert_eq!(FeatureHasher::new(0, true), Err(HashingError::NFeatures(0)));
    /// ```
    pub fn new(n_features: usize, alternate_sign: bool) -> Result<Self, HashingError> {
        if !(1..=MAX_N_FEATURES).contains(&n_features) {
            return Err(HashingError::NFeatures(n_features));
        }
        Ok(Self { n_features, alternate_sign })
    }

    /// The number of output columns.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Whether values of features with a negative hash are negated.
    pub fn alternate_sign(&self) -> bool {
        self.alternate_sign
    }

    /// The column and signed value of one feature, or `None` for a number equal to
    /// zero (scikit-learn skips those before hashing).
    ///
    /// ```
    /// use eddy::hashing::{murmurhash3_32, FeatureHasher, HashValue};
    ///
    /// let hasher = FeatureHasher::new(1 << 18, true)?;
    /// let h = murmurhash3_32("city=Zürich".as_bytes(), 0);
    /// let sign = if h < 0 { -1.0 } else { 1.0 };
    /// let expected = (h.unsigned_abs() as usize % (1 << 18), sign);
    /// assert_eq!(hasher.hash_feature("city", HashValue::Str("Zürich")), Some(expected));
    /// assert_eq!(hasher.hash_feature("price", HashValue::Num(0.0)), None);
    /// # Ok::<(), eddy::hashing::HashingError>(())
    /// ```
    #[inline]
    pub fn hash_feature(&self, name: &str, value: HashValue<'_>) -> Option<(usize, f64)> {
        let mut key = Murmur3::new(0);
        key.write(name.as_bytes());
        let weight = match value {
            HashValue::Str(v) => {
                key.write(b"=");
                key.write(v.as_bytes());
                1.0
            }
            HashValue::Num(x) => {
                // scikit-learn tests `value == 0` before hashing: 0.0 and -0.0 leave no entry.
                if x == 0.0 {
                    return None;
                }
                x
            }
        };
        let h = key.finish();
        // unsigned_abs gives 2³¹ for i32::MIN, which is what scikit-learn computes
        // for that case (it special-cases it to avoid C's undefined abs).
        let column = h.unsigned_abs() as usize % self.n_features;
        let value = if self.alternate_sign && h < 0 { -weight } else { weight };
        Some((column, value))
    }

    /// Hash the features of one record and pass each `(column, value)` to `out`, in
    /// the record's order, without allocating. Numbers equal to zero are left out;
    /// two features that land on one column are both passed (a sparse consumer adds
    /// them up). For scikit-learn's row, sorted and summed, see [`Self::transform_into`].
    ///
    /// ```
    /// use eddy::hashing::{FeatureHasher, HashValue};
    ///
    /// let hasher = FeatureHasher::new(8, false)?;
    /// let mut dense = [0.0; 8];
    /// hasher.hash_into([("a", HashValue::Num(2.0)), ("b", HashValue::Str("x"))], |column, value| {
    ///     dense[column] += value;
    /// });
    /// assert_eq!(dense.iter().sum::<f64>(), 3.0);
    /// # Ok::<(), eddy::hashing::HashingError>(())
    /// ```
    pub fn hash_into<'a, I>(&self, pairs: I, mut out: impl FnMut(usize, f64))
    where
        I: IntoIterator<Item = (&'a str, HashValue<'a>)>,
    {
        for (name, value) in pairs {
            if let Some((column, value)) = self.hash_feature(name, value) {
                out(column, value);
            }
        }
    }

    /// One record's sparse row as scikit-learn's CSR row after `sum_duplicates()`:
    /// sorted by column, one entry per column, the values of a column added up in the
    /// record's order. An entry whose values cancel stays, as a `0.0` (scipy keeps
    /// explicit zeros there). `row` is cleared first, so one buffer serves a stream.
    ///
    /// The order of the additions matters in the last bits only when one column
    /// collects three or more non-integral values. scipy sorts a row with
    /// `std::sort`, which keeps the record's order (as here) for rows of up to 16
    /// entries; beyond that its order among equal columns is unspecified.
    pub fn transform_into<'a, I>(&self, pairs: I, row: &mut Vec<(usize, f64)>)
    where
        I: IntoIterator<Item = (&'a str, HashValue<'a>)>,
    {
        row.clear();
        self.hash_into(pairs, |column, value| row.push((column, value)));
        // Stable, so that duplicates are added in the record's order.
        row.sort_by_key(|&(column, _)| column);
        // `dedup_by` hands (later, kept) pairs: fold each duplicate into the kept one.
        row.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 += later.1;
            }
            same
        });
    }

    /// One record's sparse row, as [`Self::transform_into`] but in a new vector.
    ///
    /// ```
    /// use eddy::hashing::{FeatureHasher, HashValue};
    ///
    /// // One column: every feature collides, and the values add up.
    /// let hasher = FeatureHasher::new(1, false)?;
    /// let row = hasher.transform_one([("a", HashValue::Num(2.0)), ("b", HashValue::Str("x"))]);
    /// assert_eq!(row, vec![(0, 3.0)]);
    /// # Ok::<(), eddy::hashing::HashingError>(())
    /// ```
    pub fn transform_one<'a, I>(&self, pairs: I) -> Vec<(usize, f64)>
    where
        I: IntoIterator<Item = (&'a str, HashValue<'a>)>,
    {
        let mut row = Vec::new();
        self.transform_into(pairs, &mut row);
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeding a key in two pieces, split anywhere, hashes as feeding it whole.
    #[test]
    fn pieces_hash_as_one_key() {
        let key = "naïve=東京 🦀, a longer value than one block".as_bytes();
        for seed in [0, 1, 0x9747_b28c] {
            let whole = murmurhash3_32(key, seed);
            for i in 0..=key.len() {
                for j in i..=key.len() {
                    let mut h = Murmur3::new(seed);
                    h.write(&key[..i]);
                    h.write(&key[i..j]);
                    h.write(&key[j..]);
                    assert_eq!(h.finish(), whole, "split at {i}, {j}");
                }
            }
        }
    }
}
