//! Another program embedding eddy: load a saved model file, verify it, and label records.
//!
//! `cargo run --example embed_model -- [models/sensors-sgd.eddy]`

use eddy::model::Model;
use eddy::model_file::{self, Keys};
use eddy::OnlineClassifier;
use ndarray::array;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "models/sensors-sgd.eddy".into());
    // Pass Keys { signing: Some(Key::read(..)?), .. } for a signed or encrypted file.
    let (header, model): (_, Model) = model_file::load(path.as_ref(), "model", &Keys::default())?;
    println!("{path}: {} records seen, features {:?}", header.records_seen, header.features);
    // The columns must be the model's, in its order.
    let features = ["temperature", "vibration", "load", "error_rate"].map(String::from);
    model_file::check_features(path.as_ref(), &header, &features)?;
    let records = array![[21.0, 0.6, 52.0, 1.1], [36.5, 1.4, 71.0, 3.2], [57.0, 4.2, 96.0, 8.5]];
    let Model::Classifier(classifier) = model else { return Err("expected a classifier".into()) };
    let labels = classifier.predict(records.view())?;
    let names = header.classes.unwrap_or_default();
    for (record, label) in records.outer_iter().zip(labels.iter()) {
        let name = usize::try_from(*label).ok().and_then(|i| names.get(i)).map_or("?", |s| s.as_str());
        println!("{record} -> {label} ({name})");
    }
    Ok(())
}
