//! `eddy serve --follow-model redis://.../STREAM` (or `kafka://.../TOPIC`): serve a group's shared model. The
//! model stream is folded as the workers fold it ([`crate::sync`]), and each new version
//! is handed to the learner to serve, so prediction replicas scale apart from learning.

use super::learner::{Control, Job};
use super::ServerError;
use crate::model::Model;
use crate::model_file::{Header, Keys};
use crate::sync::{open_log, SharedModel};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the model stream is looked at for new versions.
const POLL: Duration = Duration::from_millis(200);

/// Fold the model stream at `url`, waiting for its first update if it has none yet.
pub(super) fn start(url: &str, keys: &Keys) -> Result<(Header, Model, SharedModel), ServerError> {
    let shown = crate::source::redis::display_name(url);
    let mut said = false;
    let shared = loop {
        if let Some(shared) = SharedModel::follow(open_log(url)?, keys.clone())? {
            break shared;
        }
        if !said {
            eprintln!("eddy serve: waiting for the first model in {shown}");
            said = true;
        }
        std::thread::sleep(POLL);
    };
    let model = shared.model().clone();
    let header = Header::for_model(&model, shared.features().to_vec(), None);
    let (folded, skipped) = shared.counts();
    eprintln!("eddy serve: following {shown}: {folded} updates folded, {skipped} skipped");
    Ok((header, model, shared))
}

/// A thread that folds new updates and sends each new version to the learner, until `stop`.
pub(super) fn spawn(
    mut shared: SharedModel,
    jobs: tokio::sync::mpsc::Sender<Job>,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, ServerError> {
    std::thread::Builder::new()
        .name("follow-model".into())
        .spawn(move || {
            let mut failing = false;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(POLL);
                let before = shared.position().map(str::to_string);
                match shared.catch_up() {
                    Ok(()) => failing = false,
                    Err(e) => {
                        // The server may come back: keep serving the last version meanwhile.
                        if !failing {
                            eprintln!("eddy serve: {e}; serving the last version meanwhile");
                        }
                        failing = true;
                        continue;
                    }
                }
                if shared.position() != before.as_deref() {
                    let replace = Job::Control(Control::Replace(Box::new(shared.model().clone())));
                    if jobs.blocking_send(replace).is_err() {
                        return;
                    }
                }
            }
        })
        .map_err(ServerError::Runtime)
}
