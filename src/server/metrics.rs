//! Prometheus metrics of the webhook: requests by decision and kind, latency, image-verdict
//! cache hits, registry errors, policy reloads — and, beside them, Gatekeeper's own metric names
//! and labels where they mean the same thing (`gatekeeper_validation_request_count`,
//! `gatekeeper_validation_request_duration_seconds`, `gatekeeper_constraints`,
//! `gatekeeper_constraint_templates`), so Gatekeeper dashboards and alerts keep working.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub decision: String,
    pub kind: String,
}

/// Gatekeeper's webhook labels: `admission_status` allow|deny|error, `admission_dryrun`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GatekeeperRequestLabels {
    pub admission_status: String,
    pub admission_dryrun: String,
}

/// `gatekeeper_constraints` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConstraintLabels {
    pub enforcement_action: String,
    pub status: String,
}

/// `gatekeeper_constraint_templates` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    pub what: String,
    pub result: String,
}

/// Seconds; the same buckets for policyctl's and Gatekeeper's latency histograms.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Histogram,
    pub reloads: Family<ReloadLabels, Counter>,
    /// Image verdict lookups served from the cache / verified afresh (set at scrape time).
    pub image_cache_hits: Gauge,
    pub image_verifications: Gauge,
    pub registry_errors: Gauge,
    /// Requests answered 503 because the webhook was at a limit (--max-requests,
    /// --max-connections).
    pub shed: Counter,
    /// Connections open now (set at scrape time).
    pub connections: Gauge,
    pub gk_requests: Family<GatekeeperRequestLabels, Counter>,
    pub gk_duration: Family<GatekeeperRequestLabels, Histogram>,
    pub gk_constraints: Family<ConstraintLabels, Gauge>,
    pub gk_templates: Family<StatusLabels, Gauge>,
    /// Gatekeeper constraint violations found at admission, by the action taken.
    pub violations: Family<ActionLabels, Counter>,
}

/// `enforcement_action` deny|warn|dryrun.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub enforcement_action: String,
}

impl Metrics {
    pub fn new() -> Self {
        let mut root = Registry::default();
        let gatekeeper = root.sub_registry_with_prefix("gatekeeper");
        let gk_requests = Family::<GatekeeperRequestLabels, Counter>::default();
        gatekeeper.register(
            "validation_request_count",
            "The number of requests that are routed to validation webhook",
            gk_requests.clone(),
        );
        let gk_duration =
            Family::<GatekeeperRequestLabels, Histogram>::new_with_constructor(|| {
                Histogram::new(LATENCY_BUCKETS)
            });
        gatekeeper.register(
            "validation_request_duration_seconds",
            "The validation webhook response time in seconds",
            gk_duration.clone(),
        );
        let gk_constraints = Family::<ConstraintLabels, Gauge>::default();
        gatekeeper.register(
            "constraints",
            "Current number of known constraints",
            gk_constraints.clone(),
        );
        let gk_templates = Family::<StatusLabels, Gauge>::default();
        gatekeeper.register(
            "constraint_templates",
            "Number of observed constraint templates",
            gk_templates.clone(),
        );
        let registry = root.sub_registry_with_prefix("policyctl");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "admission_requests",
            "Admission requests by decision and kind",
            requests.clone(),
        );
        let latency = Histogram::new(LATENCY_BUCKETS);
        registry.register(
            "admission_duration_seconds",
            "Time to answer an admission request",
            latency.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "reloads",
            "Policy and certificate reloads by result",
            reloads.clone(),
        );
        let image_cache_hits = Gauge::default();
        registry.register(
            "image_verdict_cache_hits",
            "Image verdict lookups answered from the cache",
            image_cache_hits.clone(),
        );
        let image_verifications = Gauge::default();
        registry.register(
            "image_verifications",
            "Image verifications run against registries (cache misses)",
            image_verifications.clone(),
        );
        let registry_errors = Gauge::default();
        registry.register(
            "registry_errors",
            "Registry requests that failed",
            registry_errors.clone(),
        );
        let violations = Family::<ActionLabels, Counter>::default();
        registry.register(
            "constraint_violations",
            "Gatekeeper constraint violations found at admission, by enforcement action \
             (Gatekeeper's gatekeeper_violations is an audit gauge; policyctl has no audit)",
            violations.clone(),
        );
        let shed = Counter::default();
        registry.register(
            "shed_requests",
            "Requests answered 503 at the request or connection limit",
            shed.clone(),
        );
        let connections = Gauge::default();
        registry.register("connections", "Connections open", connections.clone());
        Metrics {
            registry: root,
            gk_requests,
            violations,
            gk_duration,
            gk_constraints,
            gk_templates,
            shed,
            connections,
            requests,
            latency,
            reloads,
            image_cache_hits,
            image_verifications,
            registry_errors,
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
