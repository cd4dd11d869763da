//! `eddy drift`: watch one numeric column with drift detectors and write one NDJSON
//! event per warning or drift.
//!
//! Each line of the events output is
//!
//! ```text
//! {"record":1031,"column":"latency","detector":"adwin","kind":"drift","mean_before":0.98,"mean_after":5.02}
//! ```
//!
//! - `record`: the record's id, as in `eddy run`'s label files (data records count
//!   from 0 in input order).
//! - `detector`: the detector's spec with every parameter that differs from its
//!   default (`adwin`, `page-hinkley(threshold=20)`).
//! - `kind`: `drift`, or `warning` when a detector enters its warning zone (one event
//!   per zone, however long it lasts).
//! - `mean_before` / `mean_after`: for ADWIN's drifts, the means of the part of its
//!   window it dropped and the part it kept; otherwise the mean of the detector's
//!   recent window (`kswin`: `stat_size`; `ddm`, `eddm`: `warm_start`;
//!   `page-hinkley`: `min_instances`; `hddm-w`: `1 / lambda_val`; `hddm-a`: 30
//!   values) and of the values before it back to the previous drift. `null` when
//!   there are none.

use super::run::{check_outputs, quit_on_signal, FormatArg};
use crate::drift::{self, EventKind, Monitor};
use crate::source::{self, SourceError, SourceOptions, TextFormat};
use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

/// Options of `eddy drift`.
#[derive(Debug, Clone, Parser)]
#[command(after_help = short_list(), after_long_help = long_list())]
pub struct DriftArgs {
    /// The input: a .csv/.ndjson/.jsonl file (optionally .gz), a .npy matrix (columns
    /// f0, f1, ...), `-` for standard input (with --format), or a generator (`synth:...`).
    #[arg(required_unless_present = "list")]
    pub input: Option<String>,
    /// The numeric column to watch.
    #[arg(long, required_unless_present = "list")]
    pub column: Option<String>,
    /// A detector in the spec language, e.g. 'adwin(delta=0.002)' or
    /// 'page-hinkley(threshold=20, mode=up)' (default: adwin). Repeat to run several
    /// on the same column. Binary detectors (ddm, eddm, hddm-a, hddm-w) take 0 or 1.
    #[arg(long = "detector", value_name = "SPEC")]
    pub detectors: Vec<String>,
    /// Where the events go, one JSON object per line; `-` is standard output.
    #[arg(long, default_value = "-")]
    pub events_out: String,
    /// Keep reading the file as it grows (like tail -f) until Ctrl-C.
    #[arg(long)]
    pub follow: bool,
    /// Format of standard input (files are known by their extension).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Longest accepted line, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_line_bytes: usize,
    /// Print every detector with its parameters, defaults and allowed values, and exit.
    #[arg(long)]
    pub list: bool,
}

/// The end of `-h`: the detectors' names, from the registry.
fn short_list() -> String {
    format!("Detectors: {} (--help or --list shows their parameters).", drift::registry::names().join(", "))
}

/// The end of `--help`: every detector and parameter, from the registry.
fn long_list() -> String {
    let list = drift::registry::describe(None).unwrap_or_default();
    format!(
        "Detectors (River 0.26.1's semantics, parameter names and defaults):\n\n{list}\n\
         Events: one JSON object per warning or drift: record (its id, from 0), column, detector, \
         kind (warning | drift), mean_before and mean_after (for ADWIN the means of the part of its window \
         it dropped and the part it kept; otherwise of the values before the detector's recent window, back \
         to the previous drift, and of that window).\n\n\
         Examples:\n  \
         eddy drift data.csv --column latency --detector 'adwin(delta=0.002)'\n  \
         eddy drift errors.ndjson --column wrong --detector ddm --detector hddm-w --events-out events.ndjson\n  \
         tail -f log.csv | eddy drift - --format csv --column latency --detector 'page-hinkley(threshold=20)'"
    )
}

/// One line of the events output.
#[derive(Serialize)]
struct EventLine<'a> {
    record: u64,
    column: &'a str,
    detector: &'a str,
    kind: EventKind,
    mean_before: Option<f64>,
    mean_after: Option<f64>,
}

/// `eddy drift`.
pub(crate) fn run(args: DriftArgs) -> Result<ExitCode> {
    if args.list {
        std::io::stdout().lock().write_all(drift::registry::describe(None).map_err(|e| anyhow!(e))?.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(input), Some(column)) = (args.input, args.column) else {
        bail!("give an INPUT and --column NAME (or --list)");
    };
    let specs = if args.detectors.is_empty() { vec!["adwin".to_string()] } else { args.detectors };
    let mut monitors: Vec<(String, Monitor)> = Vec::new();
    for spec in &specs {
        let detector = drift::build_text(spec).map_err(|e| anyhow!("--detector: {e}"))?;
        let name = detector.spec();
        if monitors.iter().any(|(n, _)| *n == name) {
            bail!("--detector {name} is given twice");
        }
        monitors.push((name, Monitor::new(detector)));
    }
    check_outputs(&input, None, &[PathBuf::from(&args.events_out)])?;
    let quit = quit_on_signal();
    let options = SourceOptions {
        features: Some(vec![column.clone()]),
        follow: args.follow,
        format: args.format.map(|f| match f {
            FormatArg::Csv => TextFormat::Csv,
            FormatArg::Ndjson => TextFormat::Ndjson,
        }),
        max_line_bytes: args.max_line_bytes,
        quit: std::sync::Arc::clone(&quit),
        ..SourceOptions::default()
    };
    let mut source = source::open(&input, options).map_err(|e| match e {
        // The source speaks of --features; here the column comes from --column.
        SourceError::Schema { source_name, reason } => {
            anyhow!("{source_name}: {}", reason.replace("(in --features)", "(--column)"))
        }
        other => other.into(),
    })?;
    // Text inputs read only the column; .npy and generators name theirs f0, x0, ...
    let names = source.feature_names();
    let at = names
        .iter()
        .position(|n| *n == column)
        .ok_or_else(|| anyhow!("{input}: no column named {column:?} (it has {})", names.join(", ")))?;
    let mut out: Box<dyn Write> = if args.events_out == "-" {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        let file = std::fs::File::create(&args.events_out).with_context(|| format!("creating {}", args.events_out))?;
        Box::new(std::io::BufWriter::new(file))
    };
    let start = std::time::Instant::now();
    let mut records = 0u64;
    while let Some(batch) = source.next_batch()? {
        for (&x, &record) in batch.x.column(at).iter().zip(&batch.ids) {
            for (name, monitor) in &mut monitors {
                monitor
                    .detector()
                    .check_value(x)
                    .map_err(|e| anyhow!("{input}: record {record}, column {column:?}: {e}"))?;
                if let Some(e) = monitor.update(x) {
                    let line = EventLine {
                        record,
                        column: &column,
                        detector: name,
                        kind: e.kind,
                        mean_before: e.mean_before,
                        mean_after: e.mean_after,
                    };
                    serde_json::to_writer(&mut out, &line)?;
                    out.write_all(b"\n")?;
                }
            }
            records += 1;
        }
        // A follower of the events sees each batch's as soon as it is read.
        out.flush().with_context(|| format!("writing {}", args.events_out))?;
    }
    out.flush().with_context(|| format!("writing {}", args.events_out))?;
    let seconds = start.elapsed().as_secs_f64();
    print_summary(&mut std::io::stderr(), records, seconds, quit.load(Ordering::Relaxed), &monitors)?;
    Ok(ExitCode::SUCCESS)
}

/// The summary on standard error: records, events, and each detector's counts.
fn print_summary(
    out: &mut dyn Write,
    records: u64,
    seconds: f64,
    interrupted: bool,
    monitors: &[(String, Monitor)],
) -> std::io::Result<()> {
    let (warnings, drifts) = monitors.iter().fold((0, 0), |(w, d), (_, m)| (w + m.counts().0, d + m.counts().1));
    let interrupted = if interrupted { " (interrupted: stopped early)" } else { "" };
    writeln!(
        out,
        "{records} records, {} events ({warnings} warnings, {drifts} drifts), {seconds:.2} s{interrupted}",
        warnings + drifts
    )?;
    let width = monitors.iter().map(|(name, _)| name.len()).max().unwrap_or(0).max("detector".len());
    writeln!(out, "  {:<width$}  {:>8} {:>8}", "detector", "warnings", "drifts")?;
    for (name, m) in monitors {
        let (w, d) = m.counts();
        writeln!(out, "  {name:<width$}  {w:>8} {d:>8}")?;
    }
    Ok(())
}
