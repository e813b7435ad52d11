//! Prometheus metrics of the webhook: requests by decision and kind, latency, image-verdict
//! cache hits, registry errors, policy reloads.

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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    pub what: String,
    pub result: String,
}

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
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("policyctl");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "admission_requests",
            "Admission requests by decision and kind",
            requests.clone(),
        );
        let buckets = [
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let latency = Histogram::new(buckets);
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
        let shed = Counter::default();
        registry.register(
            "shed_requests",
            "Requests answered 503 at the request or connection limit",
            shed.clone(),
        );
        let connections = Gauge::default();
        registry.register("connections", "Connections open", connections.clone());
        Metrics {
            registry,
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
