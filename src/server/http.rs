//! Routes and handlers.

use super::auth::{Role, Tokens};
use super::body::{self, Columns, Format, Records};
use super::feedback::{self, FeedbackAnswer, PendingInfo};
use super::learner::{Control, Job, Live, Saved};
use super::metrics::Metrics;
use super::{ApiError, ServeOptions};
use crate::error::ModelError;
use crate::model::Model;
use crate::OnlineClassifier;
use arc_swap::ArcSwap;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Mutex, OwnedSemaphorePermit, Semaphore};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    live: Arc<ArcSwap<Live>>,
    /// The pending records' description, as the learner publishes it.
    pending: Arc<ArcSwap<PendingInfo>>,
    jobs: mpsc::Sender<Job>,
    tokens: Option<Arc<ArcSwap<Tokens>>>,
    metrics: Arc<Metrics>,
    max_body: usize,
    max_records: usize,
    timeout: Duration,
    /// The last picture drawn, with the records seen when it was drawn: drawing
    /// costs tens of milliseconds, so one picture serves until the model moves.
    /// The lock also keeps two requests from drawing at once.
    picture: Arc<Mutex<Option<(u64, Bytes)>>>,
    /// The budget of request-body KiB in flight (see [`AppState::records`]).
    bodies: Arc<Semaphore>,
    budget_kib: u32,
}

/// Bodies up to this size are decoded on the async worker that read them.
const INLINE_DECODE_BYTES: usize = 64 << 10;

impl AppState {
    /// The state for `options`.
    pub fn new(
        live: Arc<ArcSwap<Live>>,
        pending: Arc<ArcSwap<PendingInfo>>,
        jobs: mpsc::Sender<Job>,
        tokens: Option<Arc<ArcSwap<Tokens>>>,
        metrics: Arc<Metrics>,
        options: &ServeOptions,
    ) -> Self {
        // Room for four of the largest bodies at once, and never less than 64 MiB.
        let budget = (options.max_body as u64).saturating_mul(4).max(64 << 20);
        let budget_kib = u32::try_from(budget / 1024).unwrap_or(u32::MAX >> 3);
        Self {
            jobs,
            tokens,
            metrics,
            max_body: options.max_body,
            max_records: options.max_records,
            timeout: options.request_timeout,
            picture: Arc::new(Mutex::new(None)),
            bodies: Arc::new(Semaphore::new(budget_kib as usize)),
            budget_kib,
            live,
            pending,
        }
    }

    /// Allow the call when the bearer token's role is at least `needed` (or when
    /// the service runs without tokens).
    fn authorize(&self, headers: &HeaderMap, needed: Role) -> Result<(), ApiError> {
        let Some(tokens) = &self.tokens else { return Ok(()) };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(ApiError::unauthorized)?;
        let role = tokens.load().role_of(presented).ok_or_else(ApiError::unauthorized)?;
        if role < needed {
            return Err(ApiError::forbidden(needed));
        }
        Ok(())
    }

    /// Check the caller's role, then read the records of the body. (A body left unread
    /// by a refusal is discarded by hyper, which keeps the connection for the next request.)
    async fn admit(
        &self,
        headers: &HeaderMap,
        needed: Role,
        body: Body,
        columns: Arc<Columns>,
    ) -> Result<Records, ApiError> {
        match self.admit_with_ids(headers, needed, body, columns).await? {
            (records, None) => Ok(records),
            (_, Some(_)) => Err(ApiError::bad(
                "\"ids\" are for POST /v1/predict (records whose labels come later, by POST /v1/feedback)".into(),
            )),
        }
    }

    /// [`Self::admit`], and the records' ids when the body has them.
    async fn admit_with_ids(
        &self,
        headers: &HeaderMap,
        needed: Role,
        body: Body,
        columns: Arc<Columns>,
    ) -> Result<(Records, Option<Vec<String>>), ApiError> {
        self.authorize(headers, needed)?;
        self.records(headers, body, columns).await
    }

    /// The body's format, from its Content-Type, and a check of its declared length.
    fn format(&self, headers: &HeaderMap) -> Result<Format, ApiError> {
        let content_type = match headers.get(header::CONTENT_TYPE) {
            Some(v) => Some(v.to_str().map_err(|_| ApiError::unsupported("the Content-Type is not text".into()))?),
            None => None,
        };
        let format = Format::from_content_type(content_type)?;
        let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body as u64) {
            return Err(ApiError::too_large(self.max_body));
        }
        Ok(format)
    }

    /// Read the body (at most `max_body` bytes) and decode it as its Content-Type says.
    async fn records(
        &self,
        headers: &HeaderMap,
        body: Body,
        columns: Arc<Columns>,
    ) -> Result<(Records, Option<Vec<String>>), ApiError> {
        let format = self.format(headers)?;
        // The time limit covers receiving the body only: once a learn call is queued, it
        // is answered with what happened to it, never cut off with its outcome unknown.
        let (bytes, permit) = tokio::time::timeout(self.timeout, self.receive(body))
            .await
            .map_err(|_| ApiError::timeout(self.timeout))??;
        let max_records = self.max_records;
        if bytes.len() <= INLINE_DECODE_BYTES {
            return body::decode_with_ids(format, &bytes, &columns.shape(max_records));
        }
        // A large body takes milliseconds to decode: off the async workers, so that
        // small requests (and /healthz) keep their latency meanwhile. The decoding keeps
        // the body's share of the budget, even if the client hangs up meanwhile.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            body::decode_with_ids(format, &bytes, &columns.shape(max_records))
        })
        .await
        .map_err(|e| ApiError::internal(format!("decoding the body: {e}")))?
    }

    /// Receive a body of at most `max_body` bytes. The bytes received hold their size
    /// of a budget shared by all requests, taken as they arrive: however many
    /// connections send large bodies at once, the memory they take stays bounded, and a
    /// client that announces a large body and sends nothing holds nothing.
    async fn receive(&self, mut body: Body) -> Result<(Vec<u8>, Option<OwnedSemaphorePermit>), ApiError> {
        use http_body_util::BodyExt;
        let mut bytes = Vec::new();
        let (mut permit, mut held) = (None::<OwnedSemaphorePermit>, 0u32);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ApiError::bad(format!("reading the body: {e}")))?;
            let Ok(data) = frame.into_data() else { continue };
            if bytes.len() + data.len() > self.max_body {
                return Err(ApiError::too_large(self.max_body));
            }
            bytes.extend_from_slice(&data);
            let need = u32::try_from(bytes.len() / 1024 + 1).unwrap_or(u32::MAX).min(self.budget_kib);
            if need > held {
                let more = Arc::clone(&self.bodies)
                    .acquire_many_owned(need - held)
                    .await
                    .map_err(|_| ApiError::unavailable())?;
                match &mut permit {
                    Some(p) => p.merge(more),
                    None => permit = Some(more),
                }
                held = need;
            }
        }
        Ok((bytes, permit))
    }
}

/// The routes, with the request timeout and the metrics around every one.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/predict", post(predict))
        .route("/v1/learn", post(learn))
        .route("/v1/feedback", post(feedback_route))
        .route("/v1/model", get(model))
        .route("/v1/snapshot.png", get(snapshot))
        .route("/v1/checkpoint", post(save))
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/events", get(events))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Every route's path and its name in the metrics: a fixed set, so random paths
/// cannot add series. The OpenAPI document describes exactly these (a test checks it).
pub const ROUTES: [(&str, &str); 10] = [
    ("/v1/predict", "predict"),
    ("/v1/learn", "learn"),
    ("/v1/feedback", "feedback"),
    ("/v1/model", "model"),
    ("/v1/snapshot.png", "snapshot"),
    ("/v1/checkpoint", "checkpoint"),
    ("/v1/events", "events"),
    ("/healthz", "healthz"),
    ("/metrics", "metrics"),
    ("/openapi.json", "openapi"),
];

/// The API's OpenAPI 3.1 description, written by hand beside the handlers and served
/// at `GET /openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// [`OPENAPI`] as served for this model: the record schemas name its features (a
/// record is exactly that many values, numbers then categories, or an object with
/// those keys; `null` too where the model fills missing values), the label schema
/// lists the classes it knows, and the text bodies get patterns of well-formed
/// records; so a client that generates requests from the document sends records this
/// model takes. A clusterer learns from the bodies it predicts on (labels optional).
/// `known` holds the categories the model knows, per categorical column, as examples.
pub fn openapi_for(
    columns: &Columns,
    known: &[(String, Vec<String>)],
    info: Option<(&[i64], Option<&[String]>)>,
) -> String {
    use serde_json::{json, Value};
    let mut doc: Value = serde_json::from_str(OPENAPI).expect("OPENAPI is JSON (a unit test parses it)");
    let (features, categorical) = (&columns.features, &columns.categorical);
    let all: Vec<String> = features.iter().chain(categorical).cloned().collect();
    let n = all.len().max(1);
    let schemas = &mut doc["components"]["schemas"];
    let nullable = |schema: Value| {
        if columns.missing {
            json!({ "anyOf": [schema, { "$ref": "#/components/schemas/Missing" }] })
        } else {
            schema
        }
    };
    let category_of = |name: &String| {
        let mut schema = json!({ "$ref": "#/components/schemas/Category" });
        if let Some((_, cats)) = known.iter().find(|(c, _)| c == name).filter(|(_, cats)| !cats.is_empty()) {
            schema = json!({ "allOf": [schema], "examples": cats.iter().take(20).collect::<Vec<_>>() });
        }
        nullable(schema)
    };
    let value_schemas: Vec<Value> = features
        .iter()
        .map(|_| nullable(json!({ "$ref": "#/components/schemas/Value" })))
        .chain(categorical.iter().map(category_of))
        .collect();
    let properties: serde_json::Map<String, Value> = all.iter().cloned().zip(value_schemas.iter().cloned()).collect();
    schemas["Record"]["oneOf"][0]["minItems"] = n.into();
    schemas["Record"]["oneOf"][0]["maxItems"] = n.into();
    if !categorical.is_empty() || columns.missing {
        // Each position its own kind: numbers first, then categories.
        schemas["Record"]["oneOf"][0]["prefixItems"] = value_schemas.into();
        schemas["Record"]["oneOf"][0]["items"] = false.into();
    }
    schemas["Record"]["oneOf"][1]["properties"] = properties.clone().into();
    schemas["Record"]["oneOf"][1]["required"] = all.clone().into();
    let mut labelled = properties;
    labelled.insert("label".into(), json!({ "$ref": "#/components/schemas/Label" }));
    schemas["LabelledRecord"]["properties"] = labelled.into();
    let mut required = all.clone();
    required.push("label".into());
    schemas["LabelledRecord"]["required"] = required.into();
    // Labels it knows: ids, and names that need no escaping in CSV or JSON.
    let (ids, names): (Vec<i64>, Vec<String>) = match info {
        Some((ids, names)) if !ids.is_empty() => {
            (ids.to_vec(), names.unwrap_or_default().iter().filter(|n| is_plain(n)).cloned().collect())
        }
        // No class yet: integers decide the label kind for good; ids from 0.
        _ => ((0..10).collect(), Vec::new()),
    };
    let mut label_values: Vec<Value> = ids.iter().map(|&i| i.into()).collect();
    label_values.extend(names.iter().map(|n| Value::from(n.as_str())));
    schemas["Label"] = label_schema(label_values, info);
    let number = r"-?[0-9]{1,6}(\.[0-9]{1,4})?";
    // A category: one the model knows (plain ones), or a new one that cannot be read
    // as a missing value (it starts with `c`).
    let categories = |name: &String| {
        let mut alternatives: Vec<String> = known
            .iter()
            .find(|(c, _)| c == name)
            .map(|(_, cats)| cats.iter().filter(|c| is_plain(c)).take(20).map(|c| regex_escape(c)).collect())
            .unwrap_or_default();
        alternatives.push("c[a-z0-9_]{0,7}".into());
        format!("({})", alternatives.join("|"))
    };
    let row = |sep: &str, quote: &str| {
        let cells: Vec<String> = features
            .iter()
            .map(|_| number.to_string())
            .chain(categorical.iter().map(|c| format!("{quote}{}{quote}", categories(c))))
            .collect();
        if cells.is_empty() {
            number.to_string()
        } else {
            cells.join(sep)
        }
    };
    let mut label_alternatives: Vec<String> = ids.iter().map(i64::to_string).collect();
    label_alternatives.extend(names.iter().map(|n| regex_escape(n)));
    let label = label_alternatives.join("|");
    let mut json_labels: Vec<String> = ids.iter().map(i64::to_string).collect();
    json_labels.extend(names.iter().map(|n| format!("\"{}\"", regex_escape(n))));
    let json_label = json_labels.join("|");
    schemas["CsvRecords"]["pattern"] = format!(r"^({}\n)+$", row(",", "")).into();
    schemas["CsvLabelledRecords"]["pattern"] = format!(r"^({},({label})\n)+$", row(",", "")).into();
    schemas["NdjsonRecords"]["pattern"] = format!(r"^(\[{}\]\n)+$", row(", ?", "\"")).into();
    schemas["NdjsonLabelledRecords"]["pattern"] =
        format!(r#"^(\{{"features": ?\[{}\], ?"label": ?({json_label})\}}\n)+$"#, row(", ?", "\"")).into();
    if info.is_none() {
        doc["components"]["requestBodies"]["Learn"] = doc["components"]["requestBodies"]["Predict"].clone();
    }
    doc.to_string()
}

/// A name that needs no escaping in CSV or JSON, and is no missing value.
fn is_plain(text: &str) -> bool {
    !text.is_empty()
        && !matches!(text, "NA" | "NaN" | "nan")
        && text.chars().all(|c| c.is_alphanumeric() || "_-. ".contains(c))
}

/// `text` with the characters special in a regular expression escaped.
fn regex_escape(text: &str) -> String {
    text.chars().fold(String::new(), |mut out, c| {
        if r"\.+*?()|[]{}^$-".contains(c) {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

/// The labels a learn or feedback call may bring: the known ones (listed first, so
/// generated requests use them), and every other one the service takes as a new class
/// (refused only past --max-classes, 422). The document must admit all the service
/// takes, or a client checking it sees valid-looking answers to invalid requests.
fn label_schema(known: Vec<serde_json::Value>, info: Option<(&[i64], Option<&[String]>)>) -> serde_json::Value {
    use serde_json::json;
    // Any id but the reserved i64::MIN (no prediction).
    let new_id = json!({ "type": "integer", "minimum": i64::MIN + 1, "maximum": i64::MAX });
    let new_name = json!({ "type": "string", "maxLength": super::learner::MAX_NAME_CHARS });
    let new = match info {
        // Names: any new name; an id only as one of the names' (listed).
        Some((ids, Some(_))) if !ids.is_empty() => vec![new_name],
        // Integers: any id, also written as text.
        Some((ids, None)) if !ids.is_empty() => {
            vec![new_id, json!({ "type": "string", "pattern": "^[+-]?[0-9]+$" })]
        }
        // No class yet: the first label decides integers or names for good.
        _ => vec![new_id, new_name],
    };
    let mut any = vec![json!({ "enum": known })];
    any.extend(new);
    json!({
        "anyOf": any,
        "description": "A class id or name: one the model knows, or a new one, learned as a new class (up to --max-classes). Names are at most 256 characters."
    })
}

/// [`openapi_for`] the live model.
fn served_openapi(live: &Live) -> String {
    let classes = match &live.model {
        Model::Classifier(_) => Some((live.info.classes.as_slice(), live.info.class_names.as_deref())),
        Model::Clusterer(_) => None,
    };
    let known: Vec<(String, Vec<String>)> =
        live.info.categorical.iter().map(|c| (c.name.clone(), c.categories.clone().unwrap_or_default())).collect();
    openapi_for(&live.columns, &known, classes)
}

fn route_name(path: &str) -> &'static str {
    ROUTES.iter().find(|(p, _)| *p == path).map_or("other", |(_, name)| name)
}

/// Metrics around every request; a handler that panics is answered 500 and its
/// connection stays usable (the panic is contained in the handler's own task).
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = route_name(request.uri().path());
    let response = match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(e) if e.is_panic() => ApiError::internal(
            "the call failed inside eddy (a bug, reported on its standard error); nothing was changed".into(),
        )
        .into_response(),
        Err(_) => ApiError::unavailable().into_response(),
    };
    state.metrics.request(route, response.status().as_u16(), start.elapsed().as_secs_f64());
    response
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(request.uri().path())
}

/// The answer to predict and learn.
#[derive(Serialize)]
struct Labels {
    labels: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    probabilities: Option<Vec<Vec<f64>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    classes: Option<Vec<i64>>,
    /// The name of each label in `labels`, in order, when the model's classes have
    /// names (`null` for a record the model could not label yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    class_names: Option<Vec<Option<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    records_seen: Option<u64>,
}

/// The name of each of a classifier's `labels`, when `live`'s classes have names.
fn names_of(live: &Live, labels: &[i64]) -> Option<Vec<Option<String>>> {
    let Model::Classifier(_) = &live.model else { return None };
    let names = live.info.class_names.as_ref()?;
    Some(labels.iter().map(|&l| usize::try_from(l).ok().and_then(|i| names.get(i).cloned())).collect())
}

async fn predict(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Json<Labels>, ApiError> {
    let live = state.live.load_full();
    let (records, ids) = state.admit_with_ids(&headers, Role::Read, body, Arc::clone(&live.columns)).await?;
    if ids.is_some() && matches!(live.model, Model::Clusterer(_)) {
        return Err(ApiError::unprocessable(
            "\"ids\" keep records for labels that come later: a clusterer learns without labels (POST /v1/learn)"
                .into(),
        ));
    }
    let refused = |e: ModelError| match e {
        ModelError::NotFitted(_) => ApiError::conflict(format!("the model cannot predict yet: {e}")),
        e => ApiError::unprocessable(e.to_string()),
    };
    let (x, cats) = (records.x.view(), &records.cats);
    super::learner::injected_fault(&records.x, super::learner::PANIC_IN_PREDICT);
    let answer = match &live.model {
        Model::Classifier(m) => {
            let labels = m.predict_with(x, cats).map_err(refused)?.to_vec();
            let probabilities =
                m.predict_proba_with(x, cats).map_err(refused)?.map(|p| p.outer_iter().map(|r| r.to_vec()).collect());
            let classes = probabilities.is_some().then(|| m.classes().to_vec());
            let class_names = names_of(&live, &labels);
            Labels { labels, probabilities, classes, class_names, records_seen: None }
        }
        Model::Clusterer(m) => Labels {
            labels: m.predict_with(x, cats).map_err(refused)?.to_vec(),
            probabilities: None,
            classes: None,
            class_names: None,
            records_seen: None,
        },
    };
    if let Some(ids) = ids {
        // Kept by the learner, in the queue's order (see `feedback`); answered once kept.
        let (reply, kept) = oneshot::channel();
        let job = Job::Pend { ids, x: records.x, cats: records.cats, predictions: answer.labels.clone(), reply };
        state.jobs.send(job).await.map_err(|_| ApiError::unavailable())?;
        kept.await.map_err(|_| ApiError::unavailable())??;
    }
    state.metrics.predicted(answer.labels.len() as u64);
    Ok(Json(answer))
}

/// `POST /v1/feedback`: labels for records predicted with ids.
async fn feedback_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<FeedbackAnswer>, ApiError> {
    state.authorize(&headers, Role::Learn)?;
    if state.format(&headers)? != Format::Json {
        return Err(ApiError::unsupported("a feedback body is JSON: {\"ids\": [...], \"labels\": [...]}".into()));
    }
    let (bytes, permit) = tokio::time::timeout(state.timeout, state.receive(body))
        .await
        .map_err(|_| ApiError::timeout(state.timeout))??;
    let max = state.max_records;
    let (ids, labels) = if bytes.len() <= INLINE_DECODE_BYTES {
        feedback::decode_feedback(&bytes, max)?
    } else {
        // Off the async workers, as large record bodies are (see `records`).
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            feedback::decode_feedback(&bytes, max)
        })
        .await
        .map_err(|e| ApiError::internal(format!("decoding the body: {e}")))??
    };
    let (reply, answer) = oneshot::channel();
    state.jobs.send(Job::Feedback { ids, labels, reply }).await.map_err(|_| ApiError::unavailable())?;
    Ok(Json(answer.await.map_err(|_| ApiError::unavailable())??))
}

async fn learn(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Json<Labels>, ApiError> {
    let columns = Arc::clone(&state.live.load().columns);
    let records = state.admit(&headers, Role::Learn, body, columns).await?;
    let (reply, answer) = oneshot::channel();
    state.jobs.send(Job::Learn { records, reply }).await.map_err(|_| ApiError::unavailable())?;
    let (labels, records_seen) = answer.await.map_err(|_| ApiError::unavailable())??;
    // The learner publishes before it answers, so the names include any this batch brought.
    let class_names = names_of(&state.live.load(), &labels);
    Ok(Json(Labels { labels, probabilities: None, classes: None, class_names, records_seen: Some(records_seen) }))
}

async fn model(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    state.authorize(&headers, Role::Read)?;
    /// The model's description and the pending records'.
    #[derive(Serialize)]
    struct Described<'a> {
        #[serde(flatten)]
        info: &'a super::learner::ModelInfo,
        pending: &'a PendingInfo,
    }
    let (live, pending) = (state.live.load(), state.pending.load());
    Ok(Json(Described { info: &live.info, pending: &pending }).into_response())
}

/// Ask the learner for a checkpoint (`Ok(None)`: skipped, nothing changed).
pub async fn checkpoint(jobs: &mpsc::Sender<Job>, only_if_changed: bool) -> Result<Option<Saved>, ApiError> {
    let (reply, answer) = oneshot::channel();
    jobs.send(Job::Control(Control::Checkpoint { only_if_changed, reply }))
        .await
        .map_err(|_| ApiError::unavailable())?;
    answer.await.map_err(|_| ApiError::unavailable())?
}

async fn save(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Saved>, ApiError> {
    state.authorize(&headers, Role::Admin)?;
    let saved = checkpoint(&state.jobs, false).await?;
    saved.map(Json).ok_or_else(|| ApiError::internal("the checkpoint was skipped".into()))
}

async fn snapshot(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    state.authorize(&headers, Role::Read)?;
    let mut picture = state.picture.lock().await;
    let seen = state.live.load().info.records_seen;
    let png = match &*picture {
        Some((at, png)) if *at == seen => png.clone(),
        _ => {
            let (reply, answer) = oneshot::channel();
            state.jobs.send(Job::Control(Control::Snapshot { reply })).await.map_err(|_| ApiError::unavailable())?;
            let snap = answer
                .await
                .map_err(|_| ApiError::unavailable())?
                .ok_or_else(|| ApiError::conflict("nothing to draw yet: the model has learned nothing".into()))?;
            let png = tokio::task::spawn_blocking(move || crate::plot::render_png(&snap))
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?
                .map_err(|e| ApiError::internal(e.to_string()))?;
            let png = Bytes::from(png);
            *picture = Some((seen, png.clone()));
            png
        }
    };
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("image/png"))], png).into_response())
}

async fn health(State(state): State<AppState>) -> Response {
    let records_seen = state.live.load().info.records_seen;
    if state.jobs.is_closed() {
        // The learner thread is gone (a bug made it panic): learning and checkpoints
        // cannot work, whatever predictions still do. Say so to the load balancer.
        let body = serde_json::json!({ "status": "learner stopped", "records_seen": records_seen });
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    Json(serde_json::json!({ "status": "ok", "records_seen": records_seen })).into_response()
}

/// The latest events (`--drift`, `--cluster-events`), oldest first.
async fn events(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    state.authorize(&headers, Role::Read)?;
    let live = state.live.load();
    Ok(Json(serde_json::json!({ "detector": live.info.drift.as_ref().map(|d| &d.detector), "events": live.events }))
        .into_response())
}

/// The document for the model as it is now (its classes grow as it learns).
async fn openapi(State(state): State<AppState>) -> Response {
    let document = served_openapi(&state.live.load());
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], document).into_response()
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    state.authorize(&headers, Role::Read)?;
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], state.metrics.encode()).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_describes_every_route_and_only_those() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("the document is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented: Vec<&str> = doc["paths"].as_object().expect("paths").keys().map(String::as_str).collect();
        let mut routed: Vec<&str> = ROUTES.iter().map(|(p, _)| *p).collect();
        documented.sort_unstable();
        routed.sort_unstable();
        assert_eq!(documented, routed);
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("methods") {
                let role = operation["x-eddy-role"].as_str().unwrap_or_else(|| panic!("{method} {path}: no role"));
                assert!(["none", "read", "learn", "admin"].contains(&role), "{method} {path}: {role}");
                // An operation open to all says so; every other one documents 401 and 403.
                let open = operation.get("security").is_some_and(|s| s.as_array().is_some_and(Vec::is_empty));
                assert_eq!(open, role == "none", "{method} {path}");
                let responses = operation["responses"].as_object().expect("responses");
                if !open {
                    assert!(responses.contains_key("401") && responses.contains_key("403"), "{method} {path}");
                }
            }
        }
        let numeric = Columns { features: vec!["a".into(), "b".into()], ..Columns::default() };
        let served: serde_json::Value =
            serde_json::from_str(&openapi_for(&numeric, &[], Some((&[0, 1], None)))).expect("JSON");
        let record = &served["components"]["schemas"]["Record"]["oneOf"];
        assert_eq!((record[0]["minItems"].as_u64(), record[0]["maxItems"].as_u64()), (Some(2), Some(2)));
        assert_eq!(record[1]["required"], serde_json::json!(["a", "b"]));
        assert!(record[0].get("prefixItems").is_none(), "numbers only: every item a Value");
        let csv = served["components"]["schemas"]["CsvRecords"]["pattern"].as_str().expect("a pattern");
        assert!(!csv.contains("c[a-z0-9_]"), "{csv}");
        // A categorical column: a string at its place, its known categories as examples;
        // missing values allowed as null when the model fills them.
        let mixed = Columns { features: vec!["a".into()], categorical: vec!["city".into()], missing: true };
        let known = [("city".to_string(), vec!["paris".to_string(), "rome".into()])];
        let served: serde_json::Value = serde_json::from_str(&openapi_for(&mixed, &known, None)).expect("JSON");
        let schemas = &served["components"]["schemas"];
        let record = &schemas["Record"]["oneOf"];
        assert_eq!((record[0]["minItems"].as_u64(), record[0]["maxItems"].as_u64()), (Some(2), Some(2)));
        let value = serde_json::json!({ "$ref": "#/components/schemas/Value" });
        let missing = serde_json::json!({ "$ref": "#/components/schemas/Missing" });
        assert_eq!(record[0]["prefixItems"][0], serde_json::json!({ "anyOf": [value, missing] }));
        let city = &record[1]["properties"]["city"]["anyOf"];
        assert_eq!(city[0]["examples"], serde_json::json!(["paris", "rome"]));
        assert_eq!(city[0]["allOf"][0]["$ref"], "#/components/schemas/Category");
        assert_eq!(city[1], missing);
        assert_eq!(record[1]["required"], serde_json::json!(["a", "city"]));
        assert_eq!(schemas["LabelledRecord"]["required"], serde_json::json!(["a", "city", "label"]));
        let csv = schemas["CsvRecords"]["pattern"].as_str().expect("a pattern");
        assert!(csv.ends_with(r",(paris|rome|c[a-z0-9_]{0,7})\n)+$"), "{csv}");
        let ndjson = schemas["NdjsonRecords"]["pattern"].as_str().expect("a pattern");
        assert!(ndjson.contains(r#", ?"(paris|rome|c[a-z0-9_]{0,7})""#), "{ndjson}");
        // Every reference resolves.
        let text = OPENAPI;
        for reference in text.split("\"$ref\": \"#/").skip(1) {
            let pointer = format!("/{}", &reference[..reference.find('"').expect("a closing quote")]);
            assert!(doc.pointer(&pointer).is_some(), "{pointer} does not resolve");
        }
    }

    /// The document's `Label` admits exactly the labels the service takes (but for
    /// --max-classes): checked on label maps of names, of integers and not yet decided.
    #[test]
    fn label_schema_admits_what_the_service_takes() {
        use super::super::body::Label;
        use super::super::learner::label_id;
        use crate::record::LabelMap;
        use serde_json::{json, Value};
        fn admits(schema: &Value, label: &Value) -> bool {
            schema["anyOf"].as_array().expect("anyOf").iter().any(|s| {
                if let Some(values) = s["enum"].as_array() {
                    return values.contains(label);
                }
                match (s["type"].as_str(), label) {
                    (Some("integer"), Value::Number(n)) => n.as_i64().is_some_and(|v| {
                        s["minimum"].as_i64().is_none_or(|m| v >= m) && s["maximum"].as_i64().is_none_or(|m| v <= m)
                    }),
                    (Some("string"), Value::String(text)) => {
                        s["maxLength"].as_u64().is_none_or(|m| text.chars().count() as u64 <= m)
                            && s["pattern"]
                                .as_str()
                                .is_none_or(|p| regex::Regex::new(p).expect("a regex").is_match(text))
                    }
                    _ => false,
                }
            })
        }
        let names = ["ok".to_string(), "warn".into(), "fail".into()];
        let candidates: Vec<Value> = vec![
            json!(0),
            json!(2),
            json!(3),
            json!(-7),
            json!(i64::MAX),
            json!(i64::MIN),
            json!("ok"),
            json!("fail"),
            json!("__not_in_enum__"),
            json!(""),
            json!("12"),
            json!("+12"),
            json!("-3"),
            json!("1.5"),
            json!(" 4"),
            json!("é".repeat(256)),
            json!("é".repeat(257)),
            json!("n".repeat(300)),
        ];
        let ids = [0, 1, 2];
        let maps = [
            ("names", LabelMap::resume(Some(&names)), Some((&ids[..], Some(&names[..])))),
            ("integers", LabelMap::resume(None), Some((&ids[..], None))),
            ("undecided", LabelMap::discover(), None),
        ];
        for (kind, map, info) in maps {
            let served: Value = serde_json::from_str(&openapi_for(&Columns::default(), &[], info)).expect("JSON");
            let schema = &served["components"]["schemas"]["Label"];
            for candidate in &candidates {
                let label: Label = serde_json::from_value(candidate.clone()).expect("a number or a string");
                let taken = label_id(&mut map.clone(), &label).is_ok();
                assert_eq!(admits(schema, candidate), taken, "{kind}: {candidate}");
            }
        }
    }
}
