//! A file parsed on several threads gives what the one-thread reader gives: the same
//! batches, errors, rejects and positions, whatever the chunks' edges (proptest).

use eddy::source::{OnError, Source, SourceOptions, TextFormat, TextSource};
use proptest::prelude::*;
use std::io::{BufReader, Cursor, Write};
use std::path::PathBuf;

/// The longest line accepted in these inputs: short, so that long lines are common.
const MAX_LINE: usize = 40;

/// One line of CSV (columns `a,b,c,y`), good or bad in one of many ways.
fn csv_line() -> impl Strategy<Value = Vec<u8>> {
    let number = prop_oneof![
        (-1000i32..1000).prop_map(|v| v.to_string()),
        (-10.0f64..10.0).prop_map(|v| format!("{v:.3}")),
        Just(" 2.5 ".to_string()),
        Just("\"3\"".to_string()),
        Just("abc".to_string()),
        Just(String::new()),
        Just("1e999".to_string()),
    ];
    let label = prop_oneof![
        Just("x".to_string()),
        Just("z".to_string()),
        Just("7".to_string()),
        Just(" y ".to_string()),
        Just(String::new()),
        Just("\"q,r\"".to_string()),
    ];
    let city = prop_oneof![Just("rome"), Just("oslo"), Just(""), Just("\"la paz\"")];
    prop_oneof![
        8 => (number.clone(), number.clone(), city, label).prop_map(|(a, b, c, y)| format!("{a},{b},{c},{y}").into_bytes()),
        1 => Just(Vec::new()),
        1 => Just(b"\r".to_vec()),
        1 => Just(b"1,2,rome".to_vec()),
        1 => Just(b"1,2,rome,x,9".to_vec()),
        1 => Just(b"1,\"2,rome,x".to_vec()),
        1 => Just(b"1,2,\xff\xfe,x".to_vec()),
        1 => Just(b"1,2,rome,\xffx".to_vec()),
        1 => (MAX_LINE - 2..MAX_LINE + 60).prop_map(|n| format!("1,2,rome,{}", "x".repeat(n)).into_bytes()),
    ]
}

/// One line of NDJSON (keys `a, b, c, y`), good or bad in one of many ways.
fn json_line() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        (-1000i32..1000).prop_map(|v| v.to_string()),
        (-10.0f64..10.0).prop_map(|v| format!("{v:.3}")),
        Just("\"4\"".to_string()),
        Just("null".to_string()),
        Just("[1]".to_string()),
        Just("true".to_string()),
    ];
    let label = prop_oneof![Just("\"x\""), Just("\"z\""), Just("3"), Just("2.5"), Just("null"), Just("\"\"")];
    let city = prop_oneof![Just("\"rome\""), Just("\"oslo\""), Just("null"), Just("4")];
    prop_oneof![
        8 => (value.clone(), value, city, label)
            .prop_map(|(a, b, c, y)| format!(r#"{{"a":{a},"b":{b},"c":{c},"y":{y}}}"#).into_bytes()),
        1 => Just(Vec::new()),
        1 => Just(b"\r".to_vec()),
        1 => Just(br#"{"a":1,"b":2"#.to_vec()),
        1 => Just(b"[1,2]".to_vec()),
        1 => (MAX_LINE - 30..MAX_LINE + 60)
            .prop_map(|n| format!(r#"{{"a":1,"b":2,"c":"rome","y":"{}"}}"#, "x".repeat(n)).into_bytes()),
    ]
}

/// An input: the first line (a header for CSV, a good record for NDJSON), then
/// `lines`, each ended by `\n` or `\r\n`, the last one maybe by nothing.
#[derive(Debug, Clone)]
struct Input {
    format: TextFormat,
    bytes: Vec<u8>,
    gzip: bool,
    /// The reader fails (an I/O error) after this many bytes.
    fail_at: Option<usize>,
    /// With gzip: this byte of the compressed stream is flipped (a corrupt file).
    corrupt: Option<usize>,
}

/// Bytes, then an I/O error in place of the rest.
struct Failing {
    bytes: Cursor<Vec<u8>>,
    left: usize,
}

impl std::io::Read for Failing {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let at_end = self.bytes.position() as usize >= self.bytes.get_ref().len();
        if self.left == 0 && !at_end {
            return Err(std::io::Error::other("the disk is gone"));
        }
        let room = out.len().min(self.left);
        let n = self.bytes.read(&mut out[..room])?;
        self.left -= n;
        Ok(n)
    }
}

fn input(format: TextFormat) -> impl Strategy<Value = Input> {
    let line = match format {
        TextFormat::Csv => csv_line().boxed(),
        TextFormat::Ndjson => json_line().boxed(),
    };
    (
        proptest::collection::vec((line, any::<bool>()), 0..60),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        proptest::option::weighted(0.2, 0usize..2000),
        proptest::option::weighted(0.2, 0usize..2000),
    )
        .prop_map(move |(lines, bom, final_newline, gzip, fail_at, corrupt)| {
            let mut bytes = Vec::new();
            if bom {
                bytes.extend_from_slice(b"\xef\xbb\xbf");
            }
            bytes.extend_from_slice(match format {
                TextFormat::Csv => b"a,b,c,y\n1,2,rome,x\n",
                TextFormat::Ndjson => b"{\"a\":1,\"b\":2,\"c\":\"rome\",\"y\":\"x\"}\n",
            });
            let n = lines.len();
            for (i, (line, crlf)) in lines.into_iter().enumerate() {
                bytes.extend_from_slice(&line);
                if i + 1 < n || final_newline {
                    bytes.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
                }
            }
            Input { format, bytes, gzip, fail_at, corrupt: corrupt.filter(|_| gzip) }
        })
}

/// How the input is read, apart from the threads.
#[derive(Debug, Clone)]
struct Settings {
    batch_size: usize,
    skip: bool,
    declared: bool,
    categorical: bool,
}

fn settings() -> impl Strategy<Value = Settings> {
    (1usize..9, any::<bool>(), any::<bool>(), any::<bool>())
        .prop_map(|(batch_size, skip, declared, categorical)| Settings { batch_size, skip, declared, categorical })
}

fn rejects_path(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-parallel-parse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(format!("{tag}-{:?}.tsv", std::thread::current().id()))
}

/// Everything a reader gives: each batch and the position after it, each error, and
/// the rejects file; `threads: None` is the one-thread reader.
fn read_all(input: &Input, settings: &Settings, threads: Option<(usize, usize)>) -> Vec<String> {
    let rejects = rejects_path(if threads.is_some() { "threads" } else { "one" });
    let _ = std::fs::remove_file(&rejects);
    let options = SourceOptions {
        batch_size: settings.batch_size,
        label_column: Some("y".into()),
        classes: settings.declared.then(|| vec!["x".into(), "z".into(), "y".into()]),
        on_error: if settings.skip { OnError::Skip } else { OnError::Fail },
        rejects: Some(rejects.clone()),
        max_line_bytes: MAX_LINE,
        categorical: if settings.categorical { vec!["c".into()] } else { Vec::new() },
        features: settings.categorical.then(|| vec!["a".into(), "b".into(), "c".into()]),
        threads: threads.map_or(1, |(t, _)| t),
        ..SourceOptions::default()
    };
    let raw = if input.gzip {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&input.bytes).expect("gzip");
        let mut compressed = gz.finish().expect("gzip");
        if let Some(at) = input.corrupt {
            let at = at % compressed.len();
            compressed[at] ^= 0x5a;
        }
        compressed
    } else {
        input.bytes.clone()
    };
    let left = input.fail_at.unwrap_or(usize::MAX);
    let raw = Failing { bytes: Cursor::new(raw), left };
    let reader: Box<dyn std::io::BufRead + Send> = if input.gzip {
        // The size eddy reads a gzip with: on corrupt data the decoder drops what it
        // decoded in the failing call, so both readers must call it alike.
        Box::new(BufReader::with_capacity(1 << 16, flate2::read::MultiGzDecoder::new(raw)))
    } else {
        Box::new(BufReader::with_capacity(5, raw))
    };
    let mut out = Vec::new();
    let source = match TextSource::from_reader("input".into(), reader, input.format, options) {
        Ok(source) => source,
        Err(e) => return vec![format!("open: {e}")],
    };
    let mut source = match threads {
        Some((_, chunk)) => source.parse_on_threads().chunk_bytes(chunk),
        None => source,
    };
    // The position without the class map's index (a hash map, in no fixed order).
    let position = |source: &TextSource| {
        let p = source.position();
        let names = p.labels.as_ref().map(|l| l.names().to_vec());
        (p.records, p.offset, p.line, p.rejected, names, p.checksum, p.rejects_len)
    };
    for _ in 0..1000 {
        match source.next_batch() {
            Ok(Some(batch)) => out.push(format!("{batch:?}\n{:?}", position(&source))),
            Ok(None) => break,
            // A source is not read past its error, and its position after one is not used.
            Err(e) => out.push(format!("error: {e}")),
        }
    }
    out.push(format!("rejected {}", source.rejected()));
    drop(source);
    out.push(std::fs::read_to_string(&rejects).unwrap_or_default());
    let _ = std::fs::remove_file(&rejects);
    out
}

/// The first difference, shown with the input.
fn check(one: &[String], many: &[String], input: &Input) -> Result<(), TestCaseError> {
    let at = one.iter().zip(many).position(|(a, b)| a != b).unwrap_or(one.len().min(many.len()));
    prop_assert!(
        one == many,
        "at {at}:\none thread: {:?}\nthreads:    {:?}\ninput: {:?}",
        one.get(at),
        many.get(at),
        String::from_utf8_lossy(&input.bytes)
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(320))]

    #[test]
    fn text_on_threads_reads_as_one_thread(
        input in prop_oneof![input(TextFormat::Csv), input(TextFormat::Ndjson)],
        settings in settings(),
        threads in 2usize..5,
        chunk in 1usize..200,
    ) {
        let one = read_all(&input, &settings, None);
        let many = read_all(&input, &settings, Some((threads, chunk)));
        check(&one, &many, &input)?;
    }
}

/// A file of many chunks and many batches, larger than the property's inputs.
#[test]
fn a_file_of_many_chunks_reads_alike_on_threads() {
    let mut bytes = b"a,b,c,y\n".to_vec();
    for i in 0..20_000 {
        writeln!(bytes, "{},{}.5,{},{}", i % 97, i % 13, if i % 3 == 0 { "rome" } else { "oslo" }, ["x", "z"][i % 2])
            .expect("write");
    }
    let input = Input { format: TextFormat::Csv, bytes, gzip: false, fail_at: None, corrupt: None };
    let settings = Settings { batch_size: 1000, skip: false, declared: false, categorical: true };
    let one = read_all(&input, &settings, None);
    let many = read_all(&input, &settings, Some((3, 4096)));
    assert_eq!(one.len(), 22, "20 batches, the count and the rejects");
    assert_eq!(one, many);
}
