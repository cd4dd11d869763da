//! The threaded run: one source thread, and a model thread and a sink thread per model.

use super::{finish_snapshots, Labelled, Pictures, PipelineError, PipelineOptions, RunOutcome, RunSummary, Scored};
use crate::checkpoint::{self, Checkpoint, CheckpointOptions, ModelCheckpoint};
use crate::model::Model;
use crate::record::{Batch, SourcePosition};
use crate::sink::LabelSink;
use crate::snapshot::Snapshot;
use crate::source::Source;
use crossbeam_channel::{bounded, Receiver, Sender};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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
    /// Where its drift events go (`--events-out`), when it has a detector.
    pub events: Option<crate::sink::EventsFile>,
    /// The model is one replica of a group's shared model: it publishes what it learns
    /// and takes up the others' ([`crate::sync`]). `model` is then the shared model.
    pub replica: Option<crate::sync::Replica>,
}

/// Stop every stage: `abort` for the pipeline, and the source's `quit`, which a
/// source waiting on a growing file (`--follow`) or on an idle input watches.
fn stop(abort: &AtomicBool, quit: &AtomicBool) {
    abort.store(true, Ordering::Relaxed);
    quit.store(true, Ordering::Relaxed);
}

/// Drawing is best-effort: give the plot thread the lowest scheduling priority,
/// so that on a busy machine it yields to the stream (and skips snapshots)
/// rather than slowing it down.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn lower_priority() {
    // SAFETY: gettid and setpriority take plain integers and touch no memory of ours;
    // on Linux, PRIO_PROCESS with a thread id sets that thread's nice value. If it
    // fails the thread keeps its priority, which is harmless.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

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
) -> Result<RunOutcome, PipelineError> {
    let start = Instant::now();
    let features = source.feature_names().to_vec();
    // Snapshots wait here to be drawn; a model waits when the queue is full, or on a live
    // input skips (see `model_loop`).
    let (snap_tx, snap_rx) = bounded::<Snapshot>(super::SNAPSHOT_QUEUE);
    // Set once the source has read its last batch: what the plot thread draws then is
    // what the run waits for.
    let read_all = AtomicBool::new(false);
    let skipped = AtomicU64::new(0);
    // Errors stop everyone: a stage that fails sets this; the source checks it.
    let abort = AtomicBool::new(false);
    let capacity = options.channel_capacity.max(1);
    let n_models = stages.len();
    let (report_tx, report_rx) = bounded::<Report>(2 * n_models + 1);
    let mut to_models = Vec::new();
    let mut model_ends = Vec::new();
    for s in stages {
        let (tx, rx) = bounded::<Stamped>(capacity);
        let (ltx, lrx) = bounded::<ToSink>(capacity);
        to_models.push(tx);
        let mut scored = Scored::new(s.name, s.model, options, &features)?;
        scored.replica = s.replica.map(|r| Arc::new(Mutex::new(r)));
        model_ends.push((scored, rx, ltx, s.sink, lrx, s.labels_path, s.events));
    }
    // The source's class names, as it meets them, for the plot thread's pictures (the
    // label map stays with the source; only its names are shared, when they change).
    let names: Mutex<Option<Vec<String>>> = Mutex::new(None);
    thread::scope(|scope| {
        let abort = &abort;
        let skipped = &skipped;
        let names = &names;
        let read_all = &read_all;
        let snap_queue = snap_rx.clone();
        let plot_thread = options.snapshots.as_ref().map(|opts| {
            scope.spawn(move || {
                let _guard = QuitOnPanic(abort);
                lower_priority();
                let mut pictures = Pictures::default();
                for mut snap in snap_rx {
                    if let Some(drawing) = options.drawing.as_ref().filter(|_| read_all.load(Ordering::Relaxed)) {
                        drawing(snap_queue.len() + 1);
                    }
                    // Named with the classes the source has met so far.
                    snap.class_names = names.lock().map(|n| n.clone()).unwrap_or_default();
                    pictures.draw(opts, &snap);
                }
                pictures
            })
        });
        let checkpoint_thread = options.checkpoint.as_ref().map(|opts| {
            scope.spawn(move || {
                let _guard = QuitOnPanic(abort);
                let result = coordinate(opts, n_models, &report_rx);
                if result.is_err() {
                    stop(abort, &options.quit);
                }
                result
            })
        });
        let source_thread = scope.spawn(move || {
            let _guard = QuitOnPanic(abort);
            let mut records = 0u64;
            let mut clock = super::CheckpointClock::new(options);
            let (snapshots_on, mut named) = (options.snapshots.is_some(), 0);
            let result = (|| {
                while !abort.load(Ordering::Relaxed) {
                    let Some(batch) = source.next_batch()? else { break };
                    records += batch.len() as u64;
                    if snapshots_on {
                        let known = source.label_map().filter(|m| m.has_names()).map_or(0, |m| m.names().len());
                        if known != named {
                            named = known;
                            if let Ok(mut shared) = names.lock() {
                                *shared = super::class_names(source.as_ref());
                            }
                        }
                    }
                    if let Some(p) = &options.progress {
                        p(batch.len() as u64);
                    }
                    let batch = Arc::new(batch);
                    // The batch that makes a checkpoint due carries the position after it.
                    let due = clock.as_mut().is_some_and(|c| c.due(records));
                    let stamp = if due {
                        // The rejects file is on disk before a checkpoint counts on it.
                        source.sync()?;
                        Some(Arc::new(source.position()))
                    } else {
                        None
                    };
                    for tx in &to_models {
                        if tx.send((Arc::clone(&batch), stamp.clone())).is_err() {
                            // A model stage stopped with an error; it reports it.
                            stop(abort, &options.quit);
                        }
                    }
                }
                Ok::<(), PipelineError>(())
            })();
            drop(to_models);
            read_all.store(true, Ordering::Relaxed);
            if result.is_err() {
                stop(abort, &options.quit);
            }
            (result, records, source)
        });
        let mut workers = Vec::new();
        for (mut scored, rx, ltx, mut sink, lrx, path, mut events) in model_ends {
            let prequential = options.prequential;
            let snap_tx = snap_tx.clone();
            let labels_path = path.clone();
            let model_thread = scope.spawn(move || {
                let _guard = QuitOnPanic(abort);
                let live = options.snapshots.as_ref().is_some_and(|s| s.live);
                let out = Outputs { ltx: &ltx, snap_tx: &snap_tx, skipped, live, events: events.as_mut() };
                let result = model_loop(&mut scored, &rx, out, prequential, &labels_path);
                let finished = events.as_mut().map_or(Ok(()), |e| {
                    let done = e.finish();
                    super::events_error(&scored.name, e, done)
                });
                let result = result.and(finished);
                if result.is_err() {
                    stop(abort, &options.quit);
                }
                (result, scored)
            });
            let name = path.clone();
            let reports = report_tx.clone();
            let index = workers.len();
            let sink_thread = scope.spawn(move || {
                let _guard = QuitOnPanic(abort);
                let result = sink_loop(sink.as_mut(), &lrx, &reports, index);
                // Flush whatever was written, also when something upstream failed.
                let finished = sink.finish();
                let result = result.and(finished).map_err(|e| (name, e));
                if result.is_err() {
                    stop(abort, &options.quit);
                }
                result
            });
            workers.push((model_thread, sink_thread, path));
        }
        drop(snap_tx);
        drop(report_tx);
        let (source_result, records, source) =
            source_thread.join().map_err(|_| PipelineError::Panic("source".into()))?;
        let mut first_error = source_result.err();
        let mut models = Vec::new();
        let mut summaries = Vec::new();
        let mut finished = Vec::new();
        for (model_thread, sink_thread, path) in workers {
            let (result, scored) = model_thread.join().map_err(|_| PipelineError::Panic("model".into()))?;
            let sink_result = sink_thread.join().map_err(|_| PipelineError::Panic("sink".into()))?;
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
            if let Err((_, error)) = sink_result {
                first_error.get_or_insert(PipelineError::Sink {
                    model: scored.name.clone(),
                    path: path.clone(),
                    error,
                });
            }
            summaries.push(scored.summary(path));
            finished.push(scored);
        }
        if let Some(t) = checkpoint_thread {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(_) => return Err(PipelineError::Panic("checkpoint".into())),
            }
        }
        // Every model thread has ended, so the plot thread's queue is closed.
        let mut pictures = match plot_thread.map(|t| t.join()) {
            Some(Ok(pictures)) => pictures,
            Some(Err(_)) => return Err(PipelineError::Panic("plot".into())),
            None => Pictures::default(),
        };
        if let Some(e) = first_error {
            return Err(e);
        }
        let classes = super::class_names(source.as_ref());
        // Snapshots the model threads skipped because the plot thread was busy.
        pictures.stats.skipped += skipped.load(Ordering::Relaxed);
        let snapshots = finish_snapshots(finished.iter(), options, &classes, &mut pictures);
        models.extend(finished.into_iter().map(|s| s.model));
        let seconds = start.elapsed().as_secs_f64();
        Ok(RunOutcome {
            summary: RunSummary {
                records: records + super::resumed_records(options),
                rejected: source.rejected(),
                seconds,
                records_per_second: records as f64 / seconds.max(1e-9),
                interrupted: options.quit.load(Ordering::Relaxed),
                models: summaries,
                classes,
                snapshots: options.snapshots.as_ref().map(|_| pictures.stats),
            },
            models,
            snapshots,
        })
    })
}

/// Where a model stage sends what it makes.
struct Outputs<'a> {
    ltx: &'a Sender<ToSink>,
    snap_tx: &'a Sender<Snapshot>,
    skipped: &'a AtomicU64,
    /// Skip a snapshot when the queue is full, rather than wait.
    live: bool,
    events: Option<&'a mut crate::sink::EventsFile>,
}

fn model_loop(
    scored: &mut Scored,
    rx: &Receiver<Stamped>,
    mut out: Outputs<'_>,
    prequential: super::Prequential,
    labels_path: &str,
) -> Result<(), PipelineError> {
    let (ltx, snap_tx, skipped) = (out.ltx, out.snap_tx, out.skipped);
    for (batch, stamp) in rx {
        let Some((batch, labels)) = scored.accept(batch, prequential)? else {
            // Rows held back (a clusterer not started yet): no checkpoint here.
            continue;
        };
        super::write_events(scored, out.events.as_deref_mut())?;
        let room = !out.live || !snap_tx.is_full();
        match scored.due_snapshot(room) {
            // Another model may have filled the queue since: a live input still skips.
            Ok(Some(snap)) if out.live => {
                if let Err(crossbeam_channel::TrySendError::Full(_)) = snap_tx.try_send(snap) {
                    skipped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(Some(snap)) => {
                // Fails only when the plot thread has stopped (it panicked, and the run stops).
                let _ = snap_tx.send(snap);
            }
            Err(()) => {
                skipped.fetch_add(1, Ordering::Relaxed);
            }
            Ok(None) => {}
        }
        if ltx.send(ToSink::Labels((batch, labels))).is_err() {
            // The sink failed; it reports why.
            break;
        }
        // The state (a copy of the model) only where a checkpoint is due.
        if let Some((position, mut state)) = stamp.and_then(|p| Some((p, scored.checkpoint_state(labels_path)?))) {
            if let Some(events) = out.events.as_deref_mut() {
                let synced = events.sync();
                state.events_len = super::events_error(&scored.name, events, synced)?;
            }
            if ltx.send(ToSink::Barrier(position, Box::new(state))).is_err() {
                break;
            }
        }
    }
    scored.finish()
}

fn sink_loop(
    sink: &mut dyn LabelSink,
    rx: &Receiver<ToSink>,
    reports: &Sender<Report>,
    index: usize,
) -> std::io::Result<()> {
    for msg in rx {
        match msg {
            ToSink::Labels(labelled) => {
                let keys = labelled.0.keys.as_deref().filter(|_| labelled.0.roles.is_none());
                sink.write_keyed(&super::delayed::labelled_ids(&labelled), keys, &labelled.1)?;
                // Caught up with the stream (it is slow, or followed): make the labels visible now.
                if rx.is_empty() {
                    sink.flush()?;
                }
            }
            ToSink::Barrier(position, mut state) => {
                // Every label before the barrier is written: make them durable, note their length.
                state.labels_len = sink.sync()?;
                // No checkpoint thread (it failed and reported): nothing to do.
                let _ = reports.send(Report { position, index, state: *state });
            }
        }
    }
    Ok(())
}

/// A batch, and the source's position after it when a checkpoint is due there.
type Stamped = (Arc<Batch>, Option<Arc<SourcePosition>>);

/// What a sink receives: labels, or a model's state at a checkpoint.
enum ToSink {
    Labels(Labelled),
    Barrier(Arc<SourcePosition>, Box<ModelCheckpoint>),
}

/// A model's state with its labels durable, on its way to the checkpoint writer.
struct Report {
    position: Arc<SourcePosition>,
    index: usize,
    state: ModelCheckpoint,
}

/// Collect every model's report for a position, then write the checkpoint. Older
/// incomplete positions (a model that held rows then) are dropped.
fn coordinate(options: &CheckpointOptions, n_models: usize, reports: &Receiver<Report>) -> Result<(), PipelineError> {
    let mut pending: std::collections::BTreeMap<u64, (Arc<SourcePosition>, Vec<Option<ModelCheckpoint>>)> =
        std::collections::BTreeMap::new();
    for r in reports {
        let key = r.position.records;
        let entry = pending.entry(key).or_insert_with(|| (Arc::clone(&r.position), vec![None; n_models]));
        if let Some(slot) = entry.1.get_mut(r.index) {
            *slot = Some(r.state);
        }
        if entry.1.iter().all(Option::is_some) {
            if let Some((position, states)) = pending.remove(&key) {
                let checkpoint = Checkpoint {
                    settings: Vec::new(),
                    position: (*position).clone(),
                    models: states.into_iter().flatten().collect(),
                };
                checkpoint::write(options, &checkpoint).map_err(PipelineError::Checkpoint)?;
            }
            pending.retain(|&k, _| k > key);
        }
    }
    Ok(())
}
