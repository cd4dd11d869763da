//! A client of `eddy serve`: label records, teach the model, read its state.
//!
//! Start a service, then call it:
//!
//! ```text
//! cargo run --release -- serve --model models/sensors-sgd.eddy --listen 127.0.0.1:8080 &
//! cargo run --release --example service_client -- http://127.0.0.1:8080
//! ```
//!
//! A second argument is the bearer token (or set `EDDY_TOKEN`); it needs the
//! `learn` role for the learning step.

use serde_json::{json, Value};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let token = std::env::args().nth(2).or_else(|| std::env::var("EDDY_TOKEN").ok());
    // Error statuses come back as answers with a JSON body saying what was wrong.
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    // GET without a body, POST with one.
    let call = |path: &str, body: Option<Value>| -> Result<Value, Box<dyn std::error::Error>> {
        let url = format!("{base}{path}");
        let auth = token.as_ref().map(|t| format!("Bearer {t}"));
        let mut response = match body {
            Some(body) => {
                let mut req = agent.post(&url).header("Content-Type", "application/json");
                if let Some(a) = &auth {
                    req = req.header("Authorization", a);
                }
                req.send(body.to_string().as_bytes())?
            }
            None => {
                let mut req = agent.get(&url);
                if let Some(a) = &auth {
                    req = req.header("Authorization", a);
                }
                req.call()?
            }
        };
        let status = response.status();
        let answer: Value = serde_json::from_str(&response.body_mut().read_to_string()?)?;
        if !status.is_success() {
            return Err(format!("{path}: {status}: {}", answer["error"]).into());
        }
        Ok(answer)
    };

    let model = call("/v1/model", None)?;
    println!("serving {} on features {}, {} records seen", model["spec"], model["features"], model["records_seen"]);
    let names: Vec<String> = serde_json::from_value(model["class_names"].clone()).unwrap_or_default();
    let name = |id: &Value| id.as_u64().and_then(|i| names.get(i as usize)).cloned().unwrap_or_else(|| id.to_string());

    // Label three records: the answer has a label per record (and probabilities for a log-loss model).
    let records = json!([[21.0, 0.6, 52.0, 1.1], [36.5, 1.4, 71.0, 3.2], [57.0, 4.2, 96.0, 8.5]]);
    let predicted = call("/v1/predict", Some(records.clone()))?;
    for (record, label) in
        records.as_array().into_iter().flatten().zip(predicted["labels"].as_array().into_iter().flatten())
    {
        println!("predict {record} -> {label} ({})", name(label));
    }

    // Teach it: each record is predicted first, then learned (prequential labels come back).
    let labels = if names.is_empty() { json!([0, 1, 2]) } else { json!(names.iter().take(3).collect::<Vec<_>>()) };
    let learned = call("/v1/learn", Some(json!({ "features": records, "labels": labels })))?;
    println!("learn   labels before learning {} -> records seen {}", learned["labels"], learned["records_seen"]);
    Ok(())
}
