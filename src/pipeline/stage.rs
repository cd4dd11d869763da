//! The threaded run: one source thread, and a model thread and a sink thread per model.

use super::{PipelineError, PipelineOptions, RunSummary, Scored};
use crate::model::Model;
use crate::record::Batch;
use crate::sink::LabelSink;
use crate::source::Source;
use crossbeam_channel::{bounded, Receiver, Sender};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

/// A model to run, with where its labels go.
pub struct ModelStage {
    /// Name in the summary and in errors.
    pub name: String,
    /// The model.
    pub model: Model,
    /// Its labels' destination.
    pub sink: Box<dyn LabelSink>,
    /// The destination's path, for the summary.
    pub labels_path: String,
}

/// Labels of one batch, on their way to the sink.
type Labelled = (Arc<Batch>, Vec<i64>);

/// Sets `quit` if the stage ends by panicking, so the others stop.
struct QuitOnPanic<'a>(&'a AtomicBool);

impl Drop for QuitOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

pub(super) fn run_threads(
    mut source: Box<dyn Source>,
    stages: Vec<ModelStage>,
    options: &PipelineOptions,
) -> Result<(RunSummary, Vec<Model>), PipelineError> {
    let start = Instant::now();
    // Errors stop everyone: a stage that fails sets this; the source checks it.
    let abort = AtomicBool::new(false);
    let capacity = options.channel_capacity.max(1);
    let mut to_models = Vec::new();
    let mut model_ends = Vec::new();
    for s in stages {
        let (tx, rx) = bounded::<Arc<Batch>>(capacity);
        let (ltx, lrx) = bounded::<Labelled>(capacity);
        to_models.push(tx);
        model_ends.push((Scored::new(s.name, s.model, options.window), rx, ltx, s.sink, lrx, s.labels_path));
    }
    thread::scope(|scope| {
        let abort = &abort;
        let source_thread = scope.spawn(move || {
            let _guard = QuitOnPanic(abort);
            let mut records = 0u64;
            let result = (|| {
                while !abort.load(Ordering::Relaxed) {
                    let Some(batch) = source.next_batch()? else { break };
                    records += batch.len() as u64;
                    if let Some(p) = &options.progress {
                        p(batch.len() as u64);
                    }
                    let batch = Arc::new(batch);
                    for tx in &to_models {
                        if tx.send(Arc::clone(&batch)).is_err() {
                            // A model stage stopped with an error; it reports it.
                            abort.store(true, Ordering::Relaxed);
                        }
                    }
                }
                Ok::<(), PipelineError>(())
            })();
            drop(to_models);
            if result.is_err() {
                abort.store(true, Ordering::Relaxed);
            }
            (result, records, source)
        });
        let mut workers = Vec::new();
        for (mut scored, rx, ltx, mut sink, lrx, path) in model_ends {
            let prequential = options.prequential;
            let model_thread = scope.spawn(move || {
                let _guard = QuitOnPanic(abort);
                let result = model_loop(&mut scored, &rx, &ltx, prequential);
                if result.is_err() {
                    abort.store(true, Ordering::Relaxed);
                }
                (result, scored)
            });
            let name = path.clone();
            let sink_thread = scope.spawn(move || {
                let _guard = QuitOnPanic(abort);
                let result = sink_loop(sink.as_mut(), &lrx);
                // Flush whatever was written, also when something upstream failed.
                let finished = sink.finish();
                let result = result.and(finished).map_err(|e| (name, e));
                if result.is_err() {
                    abort.store(true, Ordering::Relaxed);
                }
                result
            });
            workers.push((model_thread, sink_thread, path));
        }
        let (source_result, records, source) =
            source_thread.join().map_err(|_| PipelineError::Panic("source".into()))?;
        let mut first_error = source_result.err();
        let mut models = Vec::new();
        let mut summaries = Vec::new();
        for (model_thread, sink_thread, path) in workers {
            let (result, scored) = model_thread.join().map_err(|_| PipelineError::Panic("model".into()))?;
            let sink_result = sink_thread.join().map_err(|_| PipelineError::Panic("sink".into()))?;
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
            if let Err((_, error)) = sink_result {
                first_error.get_or_insert(PipelineError::Sink { model: scored.name.clone(), error });
            }
            summaries.push(scored.summary(path));
            models.push(scored.model);
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        let seconds = start.elapsed().as_secs_f64();
        Ok((
            RunSummary {
                records,
                rejected: source.rejected(),
                seconds,
                records_per_second: records as f64 / seconds.max(1e-9),
                interrupted: options.quit.load(Ordering::Relaxed),
                models: summaries,
                classes: source.label_map().map(|m| m.names().to_vec()),
            },
            models,
        ))
    })
}

fn model_loop(
    scored: &mut Scored,
    rx: &Receiver<Arc<Batch>>,
    ltx: &Sender<Labelled>,
    prequential: super::Prequential,
) -> Result<(), PipelineError> {
    for batch in rx {
        let labels = scored.step(&batch, prequential)?;
        if ltx.send((batch, labels)).is_err() {
            // The sink failed; it reports why.
            break;
        }
    }
    Ok(())
}

fn sink_loop(sink: &mut dyn LabelSink, rx: &Receiver<Labelled>) -> std::io::Result<()> {
    for (batch, labels) in rx {
        sink.write(&batch.ids, &labels)?;
    }
    Ok(())
}
