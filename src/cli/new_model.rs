//! `eddy model new`: an untrained model file, to serve or to start from.

use super::run::ModelFlags;
use crate::model_file::{self, Header, Key, Keys};
use crate::record::LabelMap;
use anyhow::bail;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// `eddy model new` flags (the model's are `eddy run`'s).
#[derive(Debug, Args)]
pub struct NewModelArgs {
    /// The model in the model language, e.g. 'scale | sgd(loss=log_loss)' (`eddy model list`).
    pub spec: String,
    /// The feature names, comma-separated, in the order records will have them.
    #[arg(long, value_delimiter = ',', required = true)]
    pub features: Vec<String>,
    /// The model's settings.
    #[command(flatten)]
    pub model: ModelFlags,
    /// Where the model file goes.
    #[arg(long)]
    pub out: PathBuf,
    /// Sign it with this key; also EDDY_SIGNING_KEY_FILE.
    #[arg(long, env = "EDDY_SIGNING_KEY_FILE", hide_env_values = true)]
    pub signing_key: Option<PathBuf>,
    /// Encrypt it with this key; also EDDY_ENCRYPTION_KEY_FILE.
    #[arg(long, env = "EDDY_ENCRYPTION_KEY_FILE", hide_env_values = true)]
    pub encryption_key: Option<PathBuf>,
}

/// Write the untrained model.
pub fn new_model(args: NewModelArgs) -> anyhow::Result<ExitCode> {
    if args.features.iter().any(|f| f.trim().is_empty()) {
        bail!("--features: a feature name is empty");
    }
    let labels = args.model.classes.as_deref().map(LabelMap::declared);
    let (_, model) = args.model.build(&args.spec, labels.as_ref().and_then(LabelMap::declared_ids))?;
    let keys = Keys {
        signing: args.signing_key.as_deref().map(Key::read).transpose()?,
        encryption: args.encryption_key.as_deref().map(Key::read).transpose()?,
    };
    let header = Header::for_model(&model, args.features, labels.as_ref().and_then(LabelMap::class_names));
    model_file::save(&args.out, &header, &model, &keys)?;
    eprintln!("model: {} ({}, untrained, features {})", args.out.display(), model.spec(), header.features.join(","));
    Ok(ExitCode::SUCCESS)
}
