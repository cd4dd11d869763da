//! Labels in a second stream (`--labels-from FEEDBACK --id-column ID`): the feedback
//! file (CSV or NDJSON, gzip or not, or standard input) is read on its own thread, line
//! by line as it arrives, and the text source takes every line read so far before each
//! event it reads (see [`super::text`]), feeding it to the same join as one stream's
//! feedback.
//!
//! Why a thread: a read of standard input or of a quiet pipe blocks and cannot be
//! interrupted, and the events must not wait for labels. The thread only splits lines;
//! the source decodes them, so the class map, the join and the rejects file stay with it.
//!
//! Two streams are not reproducible: which labels are taken before an event depends on
//! when they were read. Checkpoints are therefore refused with them (see `eddy run`).

use super::text::TextFormat;
use super::{SourceError, SourceOptions};
use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One line of the feedback stream, as read.
#[derive(Debug)]
pub(crate) struct FeedbackLine {
    /// Its line number in the feedback file (from 1).
    pub line_no: u64,
    /// Its bytes (up to the line limit), without the newline.
    pub text: Vec<u8>,
    /// True when bytes beyond `--max-line-bytes` were dropped.
    pub too_long: bool,
}

/// What the reader thread sends.
type Item = io::Result<FeedbackLine>;

/// The feedback stream: lines come from a thread, in arrival order.
pub(crate) struct FeedbackStream {
    /// Its name in errors (`feedback.ndjson`, `<stdin>`).
    pub name: String,
    /// CSV or NDJSON.
    pub format: TextFormat,
    lines: Receiver<Item>,
    /// The thread ended (end of input, or a read error already received).
    ended: bool,
    /// Standard input: a blocked read cannot be told to stop, so an interrupted run does
    /// not wait for its end.
    stdin: bool,
}

impl FeedbackStream {
    /// Open `path` (`-`: standard input) and start reading it.
    pub(crate) fn open(path: &Path, options: &SourceOptions) -> Result<Self, SourceError> {
        let input = path.to_string_lossy().into_owned();
        let stdin = input == "-";
        let name = if stdin { "<stdin>".to_string() } else { input.clone() };
        let io_err = |error| SourceError::Io { source_name: name.clone(), error };
        // Standard input's format is --format's, else CSV, as for the main input.
        let format = match (stdin, TextFormat::from_path(&input), options.format) {
            (true, _, Some(f)) => f,
            (true, _, None) => TextFormat::Csv,
            (false, Some(f), _) => f,
            (false, None, _) => {
                return Err(SourceError::Schema {
                    source_name: name,
                    reason: "unknown file type for --labels-from: name it .csv, .ndjson or .jsonl (optionally .gz)"
                        .into(),
                })
            }
        };
        let reader: Box<dyn Read + Send> = if stdin {
            Box::new(io::stdin())
        } else {
            let mut file = File::open(path).map_err(io_err)?;
            let mut magic = [0u8; 2];
            let n = file.read(&mut magic).map_err(io_err)?;
            if n == 2 && magic == [0x1f, 0x8b] && options.follow {
                return Err(SourceError::Schema {
                    source_name: name,
                    reason: "--follow needs an uncompressed file".into(),
                });
            }
            Box::new(File::open(path).map_err(io_err)?)
        };
        // Bounded: a feedback stream far ahead of the events waits on disk, not in memory.
        let (tx, rx) = crossbeam_channel::bounded::<Item>(4096);
        let (follow, quit, max) = (options.follow && !stdin, Arc::clone(&options.quit), options.max_line_bytes);
        std::thread::Builder::new()
            .name("feedback".into())
            .spawn(move || {
                let mut reader = BufReader::with_capacity(1 << 16, reader);
                // Gzip is told by its first bytes, on the thread: standard input may be slow.
                let gzip = matches!(reader.fill_buf(), Ok(head) if head.starts_with(&[0x1f, 0x8b]));
                let mut lines = if gzip {
                    Lines::new(Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(reader))), follow, quit, max)
                } else {
                    Lines::new(Box::new(reader), follow, quit, max)
                };
                // Ends at the end of input, on a read error, or when the source is gone.
                loop {
                    match lines.next_line() {
                        Ok(Some(line)) => {
                            if tx.send(Ok(line)).is_err() {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            break;
                        }
                    }
                }
            })
            .map_err(io_err)?;
        Ok(Self { name, format, lines: rx, ended: false, stdin })
    }

    /// The next line already read, without waiting; `None` when there is none now.
    pub(crate) fn try_next(&mut self) -> Result<Option<FeedbackLine>, SourceError> {
        if self.ended {
            return Ok(None);
        }
        match self.lines.try_recv() {
            Ok(item) => self.item(item),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => {
                self.ended = true;
                Ok(None)
            }
        }
    }

    /// The next line, waiting for it up to 100 ms; `Ok(None)` on a timeout or at the end
    /// (then [`Self::ended`] is true).
    pub(crate) fn wait_next(&mut self, quit: &AtomicBool) -> Result<Option<FeedbackLine>, SourceError> {
        if self.ended {
            return Ok(None);
        }
        match self.lines.recv_timeout(Duration::from_millis(100)) {
            Ok(item) => self.item(item),
            Err(RecvTimeoutError::Timeout) => {
                // Files are read to their end after an interrupt; standard input may block forever.
                if self.stdin && quit.load(Ordering::Relaxed) {
                    self.ended = true;
                }
                Ok(None)
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.ended = true;
                Ok(None)
            }
        }
    }

    /// True once every line has been taken.
    pub(crate) fn ended(&self) -> bool {
        self.ended
    }

    fn item(&mut self, item: Item) -> Result<Option<FeedbackLine>, SourceError> {
        item.map(Some).map_err(|error| {
            self.ended = true;
            SourceError::Io { source_name: self.name.clone(), error }
        })
    }
}

/// Lines of a reader, each cut at the limit, following a growing file when asked.
struct Lines {
    reader: Box<dyn BufRead + Send>,
    follow: bool,
    quit: Arc<AtomicBool>,
    max: usize,
    line_no: u64,
}

impl Lines {
    fn new(reader: Box<dyn BufRead + Send>, follow: bool, quit: Arc<AtomicBool>, max: usize) -> Self {
        Self { reader, follow, quit, max, line_no: 0 }
    }

    /// The next non-blank line; `None` at the end (with `follow`: once interrupted and
    /// read to the end).
    fn next_line(&mut self) -> io::Result<Option<FeedbackLine>> {
        let (mut text, mut dropped) = (Vec::new(), 0usize);
        loop {
            let available = match self.reader.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if self.follow && !self.quit.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                if text.is_empty() && dropped == 0 {
                    return Ok(None);
                }
                // A last line without a newline.
                self.line_no += 1;
                return Ok(Some(self.finish(text, dropped)));
            }
            let (take, complete) = match memchr::memchr(b'\n', available) {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            let keep = take.min((self.max + 2).saturating_sub(text.len()));
            text.extend_from_slice(&available[..keep]);
            dropped += take - keep;
            self.reader.consume(take);
            if complete {
                self.line_no += 1;
                let line = self.finish(std::mem::take(&mut text), std::mem::take(&mut dropped));
                if line.text.iter().all(u8::is_ascii_whitespace) && !line.too_long {
                    continue;
                }
                return Ok(Some(line));
            }
        }
    }

    fn finish(&self, mut text: Vec<u8>, dropped: usize) -> FeedbackLine {
        if text.last() == Some(&b'\n') {
            text.pop();
        }
        if text.last() == Some(&b'\r') {
            text.pop();
        }
        if self.line_no == 1 && text.starts_with(&[0xef, 0xbb, 0xbf]) {
            text.drain(..3);
        }
        let too_long = dropped > 0 || text.len() > self.max;
        FeedbackLine { line_no: self.line_no, text, too_long }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_cut_and_blank_ones_skipped() {
        let input = b"a\n\n  \r\nbbbbbbbbbb\r\nc".to_vec();
        let mut lines = Lines::new(Box::new(io::Cursor::new(input)), false, Arc::new(AtomicBool::new(false)), 4);
        let mut got = Vec::new();
        while let Some(l) = lines.next_line().expect("reads") {
            got.push((l.line_no, String::from_utf8_lossy(&l.text).into_owned(), l.too_long));
        }
        assert_eq!(got, [(1, "a".into(), false), (4, "bbbbbb".into(), true), (5, "c".into(), false)]);
    }
}
