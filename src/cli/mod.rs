//! The `eddy` command line: argument parsing and the subcommands.

mod demo;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// eddy: online machine learning on streams. Learns from records while they flow
/// and labels every record with an int64.
#[derive(Debug, Parser)]
#[command(name = "eddy", version, about, long_about = None)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the main job on generated streams: a classifier on a drifting
    /// multi-class stream and mini-batch k-means on a blob stream. Writes labels
    /// and a summary, and prints where.
    ///
    /// Example: eddy demo --out eddy-demo --records 200000
    Demo {
        /// Directory for the labels and the summary.
        #[arg(long, default_value = "eddy-demo")]
        out: PathBuf,
        /// Records per stream.
        #[arg(long, default_value_t = 200_000)]
        records: usize,
        /// Rows per mini-batch.
        #[arg(long, default_value_t = 1024)]
        batch_size: usize,
        /// Seed of the generated streams and of the models.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

/// Parse the arguments, run the subcommand, and turn the outcome into an exit code.
pub fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Demo { out, records, batch_size, seed } => {
            demo::run(&demo::DemoConfig { out, records, batch_size, seed })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eddy: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
