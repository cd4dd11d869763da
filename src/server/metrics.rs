//! The service's own metrics, in the Prometheus/OpenMetrics text format (`GET /metrics`).

use crate::pipeline::Metrics as Scores;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// The label set of a request: its route (one of a fixed few, so a scan of
/// random paths cannot grow the metrics) and its status code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

/// The label set of a drift event: warning or drift.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DriftLabels {
    kind: &'static str,
}

/// The label set of the pending records' counts: what became of them.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The label set of a delay quantile.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QuantileLabels {
    quantile: &'static str,
}

/// Every metric the service keeps.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    predicted: Counter,
    learned: Counter,
    connections_refused: Counter,
    open_connections: Gauge,
    checkpoints: Counter,
    records_seen: Gauge,
    accuracy: Gauge<f64, AtomicU64>,
    rolling_accuracy: Gauge<f64, AtomicU64>,
    mean_inertia: Gauge<f64, AtomicU64>,
    drift_events: Family<DriftLabels, Counter>,
    pending_records: Gauge,
    pending_max: Gauge,
    pending_outcomes: Family<OutcomeLabels, Gauge>,
    delayed_accuracy: Gauge<f64, AtomicU64>,
    delay_records: Family<QuantileLabels, Gauge>,
    delay_seconds: Family<QuantileLabels, Gauge<f64, AtomicU64>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        // 50 µs to ~26 s, doubling.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
        });
        let mut m = Self {
            registry: Registry::with_prefix("eddy"),
            requests,
            latency,
            predicted: Counter::default(),
            learned: Counter::default(),
            connections_refused: Counter::default(),
            open_connections: Gauge::default(),
            checkpoints: Counter::default(),
            records_seen: Gauge::default(),
            accuracy: Gauge::default(),
            rolling_accuracy: Gauge::default(),
            mean_inertia: Gauge::default(),
            drift_events: Family::default(),
            pending_records: Gauge::default(),
            pending_max: Gauge::default(),
            pending_outcomes: Family::default(),
            delayed_accuracy: Gauge::default(),
            delay_records: Family::default(),
            delay_seconds: Family::default(),
        };
        m.registry.register(
            "pending_records",
            "Records predicted with ids that wait for their labels",
            m.pending_records.clone(),
        );
        m.registry.register("pending_max_records", "--max-pending", m.pending_max.clone());
        m.registry.register(
            "pending_outcomes",
            "Records predicted with ids, by what became of them (learned, expired_ttl, expired_capacity), and labels \
             answered late or unknown, and ids refused as duplicates; kept across restarts by --checkpoint",
            m.pending_outcomes.clone(),
        );
        m.registry.register(
            "model_delayed_accuracy",
            "Accuracy of the predictions made at arrival of the records learned by /v1/feedback",
            m.delayed_accuracy.clone(),
        );
        m.registry.register(
            "label_delay_records",
            "Label delay of the records learned by /v1/feedback, in records predicted with ids (median, p99)",
            m.delay_records.clone(),
        );
        m.registry.register(
            "label_delay_seconds",
            "Label delay of the records learned by /v1/feedback, in seconds (median, p99)",
            m.delay_seconds.clone(),
        );
        m.registry.register(
            "drift_events",
            "Events signalled beside the model, by kind: the --drift detector's warnings and drifts, cluster events, a forest's replaced trees",
            m.drift_events.clone(),
        );
        m.registry.register("http_requests", "HTTP requests answered, by route and status", m.requests.clone());
        m.registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its answer",
            m.latency.clone(),
        );
        m.registry.register("records_predicted", "Records labelled by /v1/predict", m.predicted.clone());
        m.registry.register("records_learned", "Records learned by /v1/learn", m.learned.clone());
        m.registry.register(
            "connections_refused",
            "Connections closed at once because --max-connections were open",
            m.connections_refused.clone(),
        );
        m.registry.register("open_connections", "Connections open now", m.open_connections.clone());
        m.registry.register("checkpoints", "Checkpoints written", m.checkpoints.clone());
        m.registry.register(
            "model_records_seen",
            "Records the model has learned over its life",
            m.records_seen.clone(),
        );
        m.registry.register(
            "model_accuracy",
            "Prequential accuracy of the records learned (classifiers; kept across restarts by --checkpoint)",
            m.accuracy.clone(),
        );
        m.registry.register(
            "model_rolling_accuracy",
            "Prequential accuracy over the last --window records (classifiers)",
            m.rolling_accuracy.clone(),
        );
        m.registry.register(
            "model_mean_inertia",
            "Mean squared distance to the assigned centre (k-means; kept across restarts by --checkpoint)",
            m.mean_inertia.clone(),
        );
        m
    }

    /// Count an answered request.
    pub fn request(&self, route: &'static str, status: u16, seconds: f64) {
        self.requests.get_or_create(&RequestLabels { route, status }).inc();
        self.latency.get_or_create(&RouteLabels { route }).observe(seconds);
    }

    /// Count predicted records.
    pub fn predicted(&self, n: u64) {
        self.predicted.inc_by(n);
    }

    /// Count learned records.
    pub fn learned(&self, n: u64) {
        self.learned.inc_by(n);
    }

    /// Count a drift detector's (or the cluster watch's) event.
    pub fn drift_event(&self, kind: crate::pipeline::RunEventKind) {
        self.drift_events.get_or_create(&DriftLabels { kind: kind.name() }).inc();
    }

    /// Count a written checkpoint.
    pub fn checkpointed(&self) {
        self.checkpoints.inc();
    }

    /// Count a connection refused over the limit.
    pub fn refused(&self) {
        self.connections_refused.inc();
    }

    /// A connection opened (`+1`) or closed (`-1`).
    pub fn connections(&self, delta: i64) {
        self.open_connections.inc_by(delta);
    }

    /// The model's state after a batch.
    pub fn model(&self, records_seen: u64, scores: &Scores) {
        self.records_seen.set(i64::try_from(records_seen).unwrap_or(i64::MAX));
        match scores {
            Scores::Classifier { accuracy, rolling_accuracy, .. } => {
                self.accuracy.set(accuracy.unwrap_or(f64::NAN));
                self.rolling_accuracy.set(rolling_accuracy.unwrap_or(f64::NAN));
            }
            Scores::Clusterer { inertia, .. } => {
                self.mean_inertia.set(inertia.unwrap_or(f64::NAN));
            }
        }
    }

    /// The pending records' state.
    pub fn pending(&self, info: &super::feedback::PendingInfo) {
        let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.pending_records.set(int(info.pending));
        self.pending_max.set(int(info.max_pending as u64));
        for (outcome, n) in [
            ("learned", info.learned),
            ("expired_ttl", info.expired_ttl),
            ("expired_capacity", info.expired_capacity),
            ("late", info.late),
            ("unknown", info.unknown),
            ("duplicate", info.duplicates),
        ] {
            self.pending_outcomes.get_or_create(&OutcomeLabels { outcome }).set(int(n));
        }
        self.delayed_accuracy.set(info.accuracy.unwrap_or(f64::NAN));
        if let Some(d) = &info.delay {
            for (quantile, records, seconds) in
                [("0.5", d.records.median, d.seconds.median), ("0.99", d.records.p99, d.seconds.p99)]
            {
                self.delay_records.get_or_create(&QuantileLabels { quantile }).set(int(records));
                self.delay_seconds.get_or_create(&QuantileLabels { quantile }).set(seconds);
            }
        }
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
