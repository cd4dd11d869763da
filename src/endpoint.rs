//! What an input or output names, decided in one place: standard input or output
//! (`-`), a generator (`synth:SPEC`), a stream of an engine registered in
//! [`Engine::ALL`] (`redis://...`), or a file, whose kind its name implies.
//!
//! Sources, sinks and the command line ask [`Endpoint::of`] instead of testing
//! prefixes and suffixes themselves, so that a stream named `events.npy` is still a
//! stream, and a new engine is one entry here.

/// A streaming engine eddy reads from and writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Redis Streams (`redis://HOST:PORT/STREAM`).
    Redis,
    /// Kafka topics (`kafka://HOST:PORT/TOPIC`).
    Kafka,
}

impl Engine {
    /// Every engine, in the order they are listed to users.
    pub const ALL: &'static [Engine] = &[Engine::Redis, Engine::Kafka];

    /// The URL schemes that name this engine (the first is the one to write).
    pub fn schemes(self) -> &'static [&'static str] {
        match self {
            // rediss:// is recognised so that it is refused with a reason, not read as a file.
            Engine::Redis => &["redis", "rediss"],
            Engine::Kafka => &["kafka"],
        }
    }

    /// The engine whose scheme `input` starts with (`SCHEME://`, any case).
    pub fn of(input: &str) -> Option<Engine> {
        let (scheme, _) = input.split_once("://")?;
        Engine::ALL.iter().copied().find(|e| e.schemes().iter().any(|s| s.eq_ignore_ascii_case(scheme)))
    }
}

/// The kind of file a name implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A NumPy `.npy` matrix (input) or int64 column (labels).
    Npy,
    /// Text: CSV or NDJSON by extension or `--format`, optionally gzip-compressed.
    Text,
}

/// What an input or output string names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint<'a> {
    /// `-`: standard input or output.
    Stdio,
    /// `synth:SPEC`: a seeded generator (the spec after the colon).
    Synth(&'a str),
    /// A stream of an engine (the whole address).
    Stream(Engine),
    /// A file.
    File(FileKind),
}

impl<'a> Endpoint<'a> {
    /// Classify `name`.
    pub fn of(name: &'a str) -> Self {
        if name == "-" {
            return Endpoint::Stdio;
        }
        if let Some(engine) = Engine::of(name) {
            return Endpoint::Stream(engine);
        }
        if let Some(spec) = name.strip_prefix("synth:") {
            return Endpoint::Synth(spec);
        }
        let npy = name.len() >= 4 && name.get(name.len() - 4..).is_some_and(|s| s.eq_ignore_ascii_case(".npy"));
        Endpoint::File(if npy { FileKind::Npy } else { FileKind::Text })
    }

    /// True for a stream of an engine.
    pub fn is_stream(self) -> bool {
        matches!(self, Endpoint::Stream(_))
    }

    /// True for a file on disk (not standard input/output, a generator or a stream).
    pub fn is_file(self) -> bool {
        matches!(self, Endpoint::File(_))
    }

    /// True for the endpoints whose records are text lines (files other than `.npy`,
    /// standard input, streams, which are laid out as CSV lines).
    pub fn is_text(self) -> bool {
        matches!(self, Endpoint::Stdio | Endpoint::Stream(_) | Endpoint::File(FileKind::Text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_classified_by_scheme_before_extension() {
        assert_eq!(Endpoint::of("-"), Endpoint::Stdio);
        assert_eq!(Endpoint::of("synth:sea(seed=1)"), Endpoint::Synth("sea(seed=1)"));
        assert_eq!(Endpoint::of("redis://h:1/x.npy"), Endpoint::Stream(Engine::Redis));
        assert_eq!(Endpoint::of("REDIS://h:1/x"), Endpoint::Stream(Engine::Redis));
        assert_eq!(Endpoint::of("rediss://h/x"), Endpoint::Stream(Engine::Redis));
        assert_eq!(Endpoint::of("kafka://h:9092/x.csv"), Endpoint::Stream(Engine::Kafka));
        assert_eq!(Endpoint::of("data/x.NPY"), Endpoint::File(FileKind::Npy));
        assert_eq!(Endpoint::of("data/x.csv.gz"), Endpoint::File(FileKind::Text));
        // Not a registered scheme: a (strangely named) file.
        assert_eq!(Endpoint::of("ftp://h/x.csv"), Endpoint::File(FileKind::Text));
        assert_eq!(Endpoint::of("redis:/x"), Endpoint::File(FileKind::Text));
        assert!(Endpoint::of("redis://h/x").is_text() && !Endpoint::of("x.npy").is_text());
    }
}
