//! Bearer tokens and roles.
//!
//! The tokens file holds one `TOKEN ROLE` pair a line (`#` starts a comment).
//! Only SHA-256 digests of the tokens are kept in memory, and a presented token
//! is compared with every digest in constant time, so neither the comparison's
//! timing nor a memory dump gives a token away. Tokens are never logged.

use super::ServerError;
use sha2::{Digest, Sha256};
use std::path::Path;
use subtle::ConstantTimeEq;

/// What a token may do. Each role allows everything the roles before it allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Predict, read the model, its snapshot and the metrics.
    Read,
    /// Also learn.
    Learn,
    /// Also save a checkpoint.
    Admin,
}

impl Role {
    fn parse(word: &str) -> Option<Self> {
        match word {
            "read" => Some(Self::Read),
            "learn" => Some(Self::Learn),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// Shorter tokens are refused: a bearer token is a password, and 16 characters
/// is the least a random one should have.
pub const MIN_TOKEN_LEN: usize = 16;

/// The tokens of a tokens file.
#[derive(Clone)]
pub struct Tokens {
    digests: Vec<([u8; 32], Role)>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} tokens)", self.digests.len())
    }
}

impl Tokens {
    /// Read a tokens file. It is refused when group or others may read or write it,
    /// like ssh refuses a private key they could read.
    pub fn load(path: &Path) -> Result<Self, ServerError> {
        let io = |error| ServerError::Io { path: path.to_path_buf(), error };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(ServerError::TokensReadable { path: path.to_path_buf(), mode: mode & 0o777 });
            }
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Self::parse(&text).map_err(|(line, reason)| ServerError::Tokens { path: path.to_path_buf(), line, reason })
    }

    /// Parse the text of a tokens file; an error gives the line (from 1) and why,
    /// never the token itself.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut digests: Vec<([u8; 32], Role)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(token), Some(role), None) = (words.next(), words.next(), words.next()) else {
                return Err((i + 1, "expected `TOKEN ROLE`".into()));
            };
            // The message never repeats the words: with the two swapped, one is a token.
            let role = Role::parse(role).ok_or_else(|| {
                (i + 1, "the second word is not a role: a line is `TOKEN ROLE`, ROLE read, learn or admin".to_string())
            })?;
            if token.len() < MIN_TOKEN_LEN {
                return Err((i + 1, format!("the token is shorter than {MIN_TOKEN_LEN} characters")));
            }
            let digest = digest(token);
            if digests.iter().any(|(d, _)| *d == digest) {
                return Err((i + 1, "the token is listed twice".into()));
            }
            digests.push((digest, role));
        }
        if digests.is_empty() {
            return Err((0, "no tokens".into()));
        }
        Ok(Self { digests })
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// True when there are none (a tokens file always has one at least).
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// The role of `presented`, or `None` when it is no token of ours.
    pub fn role_of(&self, presented: &str) -> Option<Role> {
        let digest = digest(presented);
        // Every digest is compared, whatever matched before: the time taken
        // does not depend on which token (if any) matched.
        let mut found = None;
        for (d, role) in &self.digests {
            if bool::from(d.ct_eq(&digest)) {
                found = Some(*role);
            }
        }
        found
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_refusals() {
        let tokens = Tokens::parse("# comment\nreader-0123456789abcdef read\n\nlearner-0123456789abcd learn # x\n")
            .expect("a valid file");
        assert_eq!(tokens.role_of("reader-0123456789abcdef"), Some(Role::Read));
        assert_eq!(tokens.role_of("learner-0123456789abcd"), Some(Role::Learn));
        assert_eq!(tokens.role_of("reader-0123456789abcde"), None);
        assert_eq!(tokens.role_of(""), None);
        assert!(Role::Admin > Role::Learn && Role::Learn > Role::Read);
        assert_eq!(Tokens::parse("short read").err().map(|e| e.0), Some(1));
        assert_eq!(Tokens::parse("x\nabcdefghijklmnopq owner").err().map(|e| e.0), Some(1));
        assert_eq!(Tokens::parse("abcdefghijklmnopq owner").err().map(|e| e.0), Some(1));
        assert_eq!(Tokens::parse("abcdefghijklmnopq read\nabcdefghijklmnopq admin").err().map(|e| e.0), Some(2));
        assert!(Tokens::parse("# only comments\n").is_err());
        for text in ["abcdefghijklmnopq read extra", "read abcdefghijklmnopq", "abcdefghijklmnopq"] {
            let message = Tokens::parse(text).err().map(|e| e.1).unwrap_or_default();
            assert!(
                !message.is_empty() && !message.contains("abcdefghijklmnopq"),
                "errors never show a token: {message}"
            );
        }
    }
}
