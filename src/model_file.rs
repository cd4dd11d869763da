//! Model files: a versioned, checksummed, optionally signed and encrypted envelope
//! around a serialised model.
//!
//! Layout (little-endian):
//!
//! ```text
//! magic  "EDDYMDL\0"                  8 bytes
//! format version                       u16 (this is version 1)
//! flags                                u8  (1: signed, 2: encrypted)
//! header length, header                u32, JSON (kind, eddy version, features, classes, ...)
//! body length, body                    u64, postcard-encoded model; when encrypted:
//!                                          12-byte nonce + ChaCha20-Poly1305 ciphertext,
//!                                          authenticated together with everything before it
//! SHA-256 of everything above          32 bytes
//! HMAC-SHA256 of everything above      32 bytes, when signed
//! ```
//!
//! The header stays readable (`eddy model show` prints it even without a key). A
//! file is verified before anything in it is used: its length, magic, version,
//! digest, and signature (required when a signing key is given; a signed file
//! needs its key). A wrong or missing encryption key is an error, never garbage.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

const MAGIC: &[u8; 8] = b"EDDYMDL\0";
/// The format version this build writes and reads. Version 1 held the fixed
/// enum of models that came before the model language; version 2 the models
/// before forgetting and adaptive steps added state to them. Both are refused
/// with a message that says how to re-create the file.
pub const FORMAT_VERSION: u16 = 3;
const SIGNED: u8 = 1;
const ENCRYPTED: u8 = 2;

/// A 32-byte secret: a signing (HMAC) or encryption key. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

impl Key {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Read a key file: 32 raw bytes, or 64 hexadecimal digits (surrounding whitespace ignored).
    pub fn read(path: &Path) -> Result<Self, ModelFileError> {
        let bytes = std::fs::read(path).map_err(|error| ModelFileError::Io { path: path.to_path_buf(), error })?;
        let bad = || ModelFileError::KeyFormat { path: path.to_path_buf() };
        if bytes.len() == 32 {
            return Ok(Self(bytes.try_into().map_err(|_| bad())?));
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| bad())?.trim();
        let decoded = hex::decode(text).map_err(|_| bad())?;
        Ok(Self(decoded.try_into().map_err(|_| bad())?))
    }
}

/// The keys to write or read a file with.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    /// Sign with this key when writing; require a valid signature when reading.
    pub signing: Option<Key>,
    /// Encrypt with this key when writing; decrypt with it when reading.
    pub encryption: Option<Key>,
}

/// What a model file says about its model, readable without keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The format version.
    pub format_version: u16,
    /// What the body holds (e.g. `model`, `sgd-classifier`).
    pub kind: String,
    /// The eddy version that wrote it.
    pub eddy_version: String,
    /// Feature names, in order.
    pub features: Vec<String>,
    /// Number of features.
    pub n_features: usize,
    /// Class names by id, when the model's classes had names.
    pub classes: Option<Vec<String>>,
    /// Records the model learned from.
    pub records_seen: u64,
    /// When the file was written, seconds since the Unix epoch.
    pub created: u64,
    /// The model in the model language, for a file that holds a model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// Categorical feature names, in order (records carry them beside `features`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categorical: Vec<String>,
    /// The classes as the values they were given, when those were not text (numbers,
    /// booleans, from the Python package): `classes` holds their names for everyone
    /// else. Only the Python package reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_values: Option<Vec<serde_json::Value>>,
}

impl Header {
    /// A header for a file of `kind` written now by this eddy.
    pub fn new(kind: &str, features: Vec<String>, classes: Option<Vec<String>>, records_seen: u64) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            kind: kind.into(),
            eddy_version: env!("CARGO_PKG_VERSION").into(),
            n_features: features.len(),
            features,
            classes,
            records_seen,
            created: now(),
            spec: None,
            categorical: Vec::new(),
            class_values: None,
        }
    }

    /// The header's counts agree with its lists (a file that says 2^64-1 features
    /// and lists four must not size anything by the first).
    fn check(&self) -> Result<(), String> {
        if self.n_features != self.features.len() {
            return Err(format!("it says {} features and names {}", self.n_features, self.features.len()));
        }
        match (&self.class_values, &self.classes) {
            (Some(values), Some(names)) if values.len() != names.len() => {
                return Err(format!("it names {} classes and gives {} class values", names.len(), values.len()));
            }
            (Some(_), None) => return Err("it gives class values and no class names".into()),
            _ => {}
        }
        Ok(())
    }

    /// The header of a model file holding `model`: its spec and records seen.
    pub fn for_model(model: &crate::model::Model, features: Vec<String>, classes: Option<Vec<String>>) -> Self {
        Self { spec: Some(model.spec()), ..Self::new(MODEL_KIND, features, classes, model.records_seen()) }
    }
}

/// The body kind of a file that holds one model.
pub const MODEL_KIND: &str = "model";

/// Load a model file (kind `model`).
pub fn load_model(path: &Path, keys: &Keys) -> Result<(Header, crate::model::Model), ModelFileError> {
    let bytes = std::fs::read(path).map_err(|error| ModelFileError::Io { path: path.to_path_buf(), error })?;
    decode_model(path, &bytes, keys)
}

/// [`load_model`] from bytes already read (`path` only names them in errors).
pub fn decode_model(path: &Path, bytes: &[u8], keys: &Keys) -> Result<(Header, crate::model::Model), ModelFileError> {
    let (header, model): (Header, crate::model::Model) = decode(path, bytes, MODEL_KIND, keys)?;
    if let Some(d) = model.n_features().filter(|&d| d != header.features.len()) {
        return Err(ModelFileError::Encoding {
            path: path.to_path_buf(),
            reason: format!("the model takes {d} features, its header names {}", header.features.len()),
        });
    }
    Ok((header, model))
}

/// Why a model file could not be written or read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ModelFileError {
    /// Reading or writing failed.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        error: std::io::Error,
    },
    /// A key file is not 32 bytes or 64 hexadecimal digits.
    #[error("{path}: a key is 32 bytes, or 64 hexadecimal digits")]
    KeyFormat {
        /// The key file.
        path: PathBuf,
    },
    /// Not an eddy model file.
    #[error("{0}: not an eddy model file")]
    NotAModelFile(PathBuf),
    /// Written by a newer (or unknown) format.
    #[error("{path}: format version {found} is not one this eddy reads (it reads {FORMAT_VERSION})")]
    UnknownVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u16,
    },
    /// Written by an older eddy, whose model states this one does not read.
    #[error(
        "{0}: written by an older eddy (format {1}; this one reads {FORMAT_VERSION}): re-create it with \
         `eddy run INPUT --model SPEC --save-model FILE` (or `eddy model new SPEC --features ...`)"
    )]
    Outdated(PathBuf, u16),
    /// Shorter than its own lengths say.
    #[error("{0}: the file is truncated")]
    Truncated(PathBuf),
    /// The digest does not match: the file was damaged or changed.
    #[error("{0}: the checksum does not match: the file is corrupt or was changed")]
    Corrupt(PathBuf),
    /// The signature does not match the key: tampered with, or another key.
    #[error(
        "{0}: the signature does not match the signing key: the file was tampered with or signed with another key"
    )]
    BadSignature(PathBuf),
    /// A signing key is required but the file is not signed.
    #[error("{0}: the file is not signed, but a signing key is configured")]
    Unsigned(PathBuf),
    /// The file is signed and no key was given to check it.
    #[error("{0}: the file is signed: give its signing key (--signing-key) to verify it")]
    NeedSigningKey(PathBuf),
    /// The file is encrypted and no key was given.
    #[error("{0}: the file is encrypted: give its key (--encryption-key)")]
    NeedEncryptionKey(PathBuf),
    /// Decryption failed: wrong key (or damage the digest could not see).
    #[error("{0}: the encryption key is wrong")]
    WrongKey(PathBuf),
    /// The body is not the kind asked for.
    #[error("{path}: holds a {found}, not a {expected}")]
    Kind {
        /// The file.
        path: PathBuf,
        /// Its kind.
        found: String,
        /// The kind asked for.
        expected: String,
    },
    /// The model's features differ from the input's.
    #[error("{path}: the model was trained on features {model:?}, the input has {input:?}")]
    Features {
        /// The file.
        path: PathBuf,
        /// The model's features.
        model: Vec<String>,
        /// The input's features.
        input: Vec<String>,
    },
    /// The input lacks features the model was trained on.
    #[error("{path}: the input has no feature named {} (the model's features are matched by name)", .missing.join(", "))]
    MissingFeatures {
        /// The file.
        path: PathBuf,
        /// The features the input lacks.
        missing: Vec<String>,
    },
    /// The header or body could not be encoded or decoded.
    #[error("{path}: {reason}")]
    Encoding {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// True when `path` is a file that starts like an eddy model file.
pub fn is_model_file(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 8];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == MAGIC
}

/// Write `value` with `header` to `path`: to a temporary file, synced, then renamed.
pub fn save<T: Serialize>(path: &Path, header: &Header, value: &T, keys: &Keys) -> Result<(), ModelFileError> {
    write_atomically(path, &encode(path, header, value, keys)?)
}

/// The bytes of a model file holding `value` with `header` (`path` only names it in errors).
pub fn encode<T: Serialize>(path: &Path, header: &Header, value: &T, keys: &Keys) -> Result<Vec<u8>, ModelFileError> {
    let encoding = |e: &dyn fmt::Display| ModelFileError::Encoding { path: path.to_path_buf(), reason: e.to_string() };
    let header_json = serde_json::to_vec(header).map_err(|e| encoding(&e))?;
    let body = postcard::to_allocvec(value).map_err(|e| encoding(&e))?;
    let mut flags = 0;
    if keys.signing.is_some() {
        flags |= SIGNED;
    }
    if keys.encryption.is_some() {
        flags |= ENCRYPTED;
    }
    let mut out = Vec::with_capacity(body.len() + header_json.len() + 128);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(flags);
    out.extend_from_slice(&(header_json.len() as u32).to_le_bytes());
    out.extend_from_slice(&header_json);
    let body = match &keys.encryption {
        Some(key) => {
            let nonce_bytes: [u8; 12] = rand_nonce();
            let cipher = ChaCha20Poly1305::new((&key.0).into());
            // Authenticate everything before the body too, so no header byte can be swapped.
            let mut aad = out.clone();
            aad.extend_from_slice(&((body.len() + 28) as u64).to_le_bytes());
            let sealed = cipher
                .encrypt(Nonce::from_slice(&nonce_bytes), Payload { msg: &body, aad: &aad })
                .map_err(|_| encoding(&"encryption failed"))?;
            let mut b = nonce_bytes.to_vec();
            b.extend_from_slice(&sealed);
            b
        }
        None => body,
    };
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&body);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    if let Some(key) = &keys.signing {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.0).map_err(|_| encoding(&"signing key"))?;
        mac.update(&out);
        out.extend_from_slice(&mac.finalize().into_bytes());
    }
    Ok(out)
}

/// A fresh random nonce from the operating system.
fn rand_nonce() -> [u8; 12] {
    use chacha20poly1305::aead::{AeadCore, OsRng};
    let n = ChaCha20Poly1305::generate_nonce(&mut OsRng);
    n.into()
}

/// Temporary file in the same folder, fsync, rename, fsync the folder: a crash leaves
/// either the old file or the new one, never a mix.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ModelFileError> {
    use std::io::Write;
    let io = |error| ModelFileError::Io { path: path.to_path_buf(), error };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)
}

/// The header and the (still encoded, maybe encrypted) body of a verified file.
struct Verified {
    header: Header,
    flags: u8,
    before_body: Vec<u8>,
    body: Vec<u8>,
}

fn verify(path: &Path, keys: &Keys) -> Result<Verified, ModelFileError> {
    let bytes = std::fs::read(path).map_err(|error| ModelFileError::Io { path: path.to_path_buf(), error })?;
    verify_bytes(path, &bytes, keys)
}

fn verify_bytes(path: &Path, bytes: &[u8], keys: &Keys) -> Result<Verified, ModelFileError> {
    let p = || path.to_path_buf();
    if bytes.len() < 8 || &bytes[..8] != MAGIC {
        return Err(ModelFileError::NotAModelFile(p()));
    }
    let take = |at: usize, n: usize| bytes.get(at..at + n).ok_or_else(|| ModelFileError::Truncated(p()));
    let version = u16::from_le_bytes(take(8, 2)?.try_into().map_err(|_| ModelFileError::Truncated(p()))?);
    if (1..FORMAT_VERSION).contains(&version) {
        return Err(ModelFileError::Outdated(p(), version));
    }
    if version != FORMAT_VERSION {
        return Err(ModelFileError::UnknownVersion { path: p(), found: version });
    }
    let flags = take(10, 1)?[0];
    let header_len = u32::from_le_bytes(take(11, 4)?.try_into().map_err(|_| ModelFileError::Truncated(p()))?) as usize;
    let header_end = 15usize.checked_add(header_len).ok_or_else(|| ModelFileError::Truncated(p()))?;
    let header_bytes = take(15, header_len)?;
    let body_len = u64::from_le_bytes(take(header_end, 8)?.try_into().map_err(|_| ModelFileError::Truncated(p()))?);
    let body_len = usize::try_from(body_len).map_err(|_| ModelFileError::Truncated(p()))?;
    let body_start = header_end + 8;
    let body_end = body_start.checked_add(body_len).ok_or_else(|| ModelFileError::Truncated(p()))?;
    let digest = take(body_end, 32)?;
    if Sha256::digest(&bytes[..body_end]).as_slice() != digest {
        return Err(ModelFileError::Corrupt(p()));
    }
    let signed_end = body_end + 32;
    match (flags & SIGNED != 0, &keys.signing) {
        (true, Some(key)) => {
            let signature = take(signed_end, 32)?;
            let mut mac =
                <Hmac<Sha256> as Mac>::new_from_slice(&key.0).map_err(|_| ModelFileError::BadSignature(p()))?;
            mac.update(&bytes[..signed_end]);
            // verify_slice compares in constant time.
            mac.verify_slice(signature).map_err(|_| ModelFileError::BadSignature(p()))?;
        }
        (true, None) => return Err(ModelFileError::NeedSigningKey(p())),
        (false, Some(_)) => return Err(ModelFileError::Unsigned(p())),
        (false, None) => {}
    }
    let expected_len = if flags & SIGNED != 0 { signed_end + 32 } else { signed_end };
    if bytes.len() != expected_len {
        return Err(ModelFileError::Corrupt(p()));
    }
    let header: Header = serde_json::from_slice(header_bytes)
        .map_err(|e| ModelFileError::Encoding { path: p(), reason: format!("header: {e}") })?;
    header.check().map_err(|reason| ModelFileError::Encoding { path: p(), reason: format!("header: {reason}") })?;
    Ok(Verified {
        header,
        flags,
        before_body: bytes[..body_start].to_vec(),
        body: bytes[body_start..body_end].to_vec(),
    })
}

/// Read only the header of `path`, after verifying the file (no encryption key needed).
pub fn read_header(path: &Path, keys: &Keys) -> Result<Header, ModelFileError> {
    Ok(verify(path, keys)?.header)
}

/// Verify `path`, decrypt it if needed, and decode its body as a `T` of `kind`.
pub fn load<T: DeserializeOwned>(path: &Path, kind: &str, keys: &Keys) -> Result<(Header, T), ModelFileError> {
    let bytes = std::fs::read(path).map_err(|error| ModelFileError::Io { path: path.to_path_buf(), error })?;
    decode(path, &bytes, kind, keys)
}

/// [`load`] from bytes already read (`path` only names them in errors).
pub fn decode<T: DeserializeOwned>(
    path: &Path,
    bytes: &[u8],
    kind: &str,
    keys: &Keys,
) -> Result<(Header, T), ModelFileError> {
    let v = verify_bytes(path, bytes, keys)?;
    if v.header.kind != kind {
        return Err(ModelFileError::Kind {
            path: path.to_path_buf(),
            found: v.header.kind,
            expected: kind.to_string(),
        });
    }
    let body = if v.flags & ENCRYPTED != 0 {
        let key = keys.encryption.as_ref().ok_or_else(|| ModelFileError::NeedEncryptionKey(path.to_path_buf()))?;
        if v.body.len() < 12 {
            return Err(ModelFileError::Truncated(path.to_path_buf()));
        }
        let (nonce, sealed) = v.body.split_at(12);
        let cipher = ChaCha20Poly1305::new((&key.0).into());
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &v.before_body })
            .map_err(|_| ModelFileError::WrongKey(path.to_path_buf()))?
    } else {
        v.body
    };
    let value = postcard::from_bytes(&body)
        .map_err(|e| ModelFileError::Encoding { path: path.to_path_buf(), reason: format!("model: {e}") })?;
    Ok((v.header, value))
}

/// Refuse a model whose features are not the input's.
pub fn check_features(path: &Path, header: &Header, input: &[String]) -> Result<(), ModelFileError> {
    if header.features != input {
        let missing: Vec<&String> = header.features.iter().filter(|f| !input.contains(f)).collect();
        if !missing.is_empty() {
            return Err(ModelFileError::MissingFeatures {
                path: path.to_path_buf(),
                missing: missing.into_iter().cloned().collect(),
            });
        }
        return Err(ModelFileError::Features {
            path: path.to_path_buf(),
            model: header.features.clone(),
            input: input.to_vec(),
        });
    }
    Ok(())
}

/// Seconds since the Unix epoch, for headers.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
