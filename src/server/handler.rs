//! `POST /validate`: AdmissionReview in, AdmissionReview out. Bad requests get 4xx with a
//! reason; everything else gets HTTP 200 with the verdict, denying (fail closed) when
//! evaluation errors or runs past the deadline.

use super::AppState;
use crate::finding::Severity;
use crate::input::Document;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kube_core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
use kube_core::DynamicObject;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Kubernetes keeps warnings short: each ≤ 120 characters, all together ≤ 4096.
const WARNING_MAX: usize = 120;
const WARNINGS_TOTAL: usize = 4096;

pub(super) fn bad_request(status: StatusCode, reason: impl Into<String>) -> Response {
    let reason = reason.into();
    tracing::warn!(%status, %reason, "rejected admission request");
    (status, axum::Json(serde_json::json!({"error": reason}))).into_response()
}

/// `?timeout=10s` as the API server appends it (Go duration: `ms`, `s`, `m`).
fn parse_timeout(v: &str) -> Option<Duration> {
    let (num, unit) = v
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((v, "s"), |i| (&v[..i], &v[i..]));
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return None,
    };
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Reads the envelope (uid, kind, user, operation…) through kube-core's types straight from
/// `raw`, without copying it and without the objects: `request.object`/`request.oldObject` are
/// lifted out while it is read and put back after.
fn read_envelope(raw: &mut Json) -> serde_json::Result<AdmissionReview<DynamicObject>> {
    use serde::Deserialize;
    let mut lifted = Vec::new();
    if let Some(Json::Object(request)) = raw.get_mut("request") {
        for key in ["object", "oldObject"] {
            if let Some(v) = request.get_mut(key) {
                lifted.push((key, std::mem::take(v)));
            }
        }
    }
    let review = AdmissionReview::<DynamicObject>::deserialize(&*raw);
    if let Some(Json::Object(request)) = raw.get_mut("request") {
        for (key, v) in lifted {
            if let Some(slot) = request.get_mut(key) {
                *slot = v;
            }
        }
    }
    review
}

/// A parser error without the value it quotes (`invalid type: string "…"`, ``unknown variant
/// `…` ``): a malformed review may carry a Secret, and its values must not reach a response or
/// a log line.
fn scrub_values(msg: &str) -> String {
    static QUOTED: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = QUOTED.get_or_init(|| {
        regex::Regex::new(r#"((?:invalid (?:type|value): string|unknown variant|unknown field) )(?:"(?:[^"\\]|\\.)*"|`[^`]*`)"#)
            .expect("static regex")
    });
    re.replace_all(msg, "${1}[value withheld]").into_owned()
}

/// The values of a Secret under review (`object` and `oldObject`): `data` values as sent (base64)
/// and decoded, and `stringData` values. Values shorter than 4 characters are left alone:
/// redacting `a` would garble every message and hide nothing.
fn secret_values(raw: &Json) -> Vec<String> {
    use base64::Engine as _;
    let mut out = Vec::new();
    for key in ["object", "oldObject"] {
        let Some(obj) = raw.get("request").and_then(|r| r.get(key)) else {
            continue;
        };
        if obj.get("kind").and_then(Json::as_str) != Some("Secret") {
            continue;
        }
        for field in ["data", "stringData"] {
            for v in obj
                .get(field)
                .and_then(Json::as_object)
                .into_iter()
                .flat_map(|m| m.values())
            {
                let Some(text) = v.as_str() else { continue };
                out.push(text.to_string());
                if field == "data" {
                    if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(text) {
                        if let Ok(d) = String::from_utf8(decoded) {
                            out.push(d);
                        }
                    }
                }
            }
        }
    }
    out.retain(|v| v.chars().count() >= 4);
    out.sort_by_key(|v| std::cmp::Reverse(v.len()));
    out.dedup();
    out
}

/// `text` with every Secret value replaced by `[redacted]`.
fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "[redacted]");
        }
    }
    out
}

/// Parses and checks an AdmissionReview body: anything that is not a v1 AdmissionReview with a
/// request and an object to review is a 400 with the reason.
#[allow(clippy::result_large_err)]
fn parse_review(body: &Bytes) -> Result<(Json, AdmissionRequest<DynamicObject>), Response> {
    let mut raw: Json = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Err(bad_request(
                StatusCode::BAD_REQUEST,
                format!("malformed JSON: {e}"),
            ))
        }
    };
    if raw.get("kind").and_then(Json::as_str) != Some("AdmissionReview") {
        return Err(bad_request(
            StatusCode::BAD_REQUEST,
            "not an AdmissionReview: the body's kind must be AdmissionReview",
        ));
    }
    match raw.get("apiVersion").and_then(Json::as_str) {
        Some("admission.k8s.io/v1") => {}
        other => {
            return Err(bad_request(
                StatusCode::BAD_REQUEST,
                format!(
                    "unsupported AdmissionReview apiVersion {:?}: policyctl serves admission.k8s.io/v1 \
                     (set admissionReviewVersions: [v1] in the webhook configuration)",
                    other.unwrap_or("")
                ),
            ))
        }
    }
    // The envelope (uid, kind, user, operation…) through kube-core's types; the objects are
    // evaluated from `raw` and only need to be JSON objects, so they are not copied into it.
    for key in ["object", "oldObject"] {
        if let Some(v) = raw.get("request").and_then(|r| r.get(key)) {
            if !v.is_null() && !v.is_object() {
                return Err(bad_request(
                    StatusCode::BAD_REQUEST,
                    format!("invalid AdmissionReview: request.{key} must be an object"),
                ));
            }
        }
    }
    let review: AdmissionReview<DynamicObject> = match read_envelope(&mut raw) {
        Ok(r) => r,
        Err(e) => {
            return Err(bad_request(
                StatusCode::BAD_REQUEST,
                format!("invalid AdmissionReview: {}", scrub_values(&e.to_string())),
            ))
        }
    };
    let request: AdmissionRequest<DynamicObject> = match review.try_into() {
        Ok(r) => r,
        Err(_) => {
            return Err(bad_request(
                StatusCode::BAD_REQUEST,
                "AdmissionReview has no request",
            ))
        }
    };
    if crate::eval::gatekeeper::reviewed_object(&raw).is_none() {
        return Err(bad_request(
            StatusCode::BAD_REQUEST,
            "AdmissionRequest has neither object nor oldObject to review",
        ));
    }
    Ok((raw, request))
}

/// The admission budget: the API server's `?timeout=` (default 10 s) less the margin.
fn budget(state: &AppState, query: &HashMap<String, String>) -> (Duration, Duration) {
    let api_timeout = query
        .get("timeout")
        .and_then(|t| parse_timeout(t))
        .unwrap_or(Duration::from_secs(10));
    let budget = api_timeout
        .saturating_sub(state.opts.deadline_margin)
        .max(Duration::from_millis(100));
    (api_timeout, budget)
}

/// The mutating endpoint: each image the image policies verified (allowed or warned, with a
/// digest) is pinned to that digest by a JSONPatch (`name@sha256:…`), as policy-controller's
/// mutating webhook does, so the kubelet cannot pull something else under the same tag later.
/// It never denies: the validating endpoint decides.
pub async fn mutate(
    State(state): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
    super::body::Body(body): super::body::Body,
) -> Response {
    let (raw, request) = match parse_review(&body) {
        Ok(r) => r,
        Err(response) => return response,
    };
    let (_, budget) = budget(&state, &query);
    let policies = state.current();
    let mut ops = Vec::new();
    let object = raw.pointer("/request/object").filter(|o| o.is_object());
    if let (Some(supply), Some(object)) = (policies.evaluator.supply_chain(), object) {
        let images = crate::supply::container_images(object);
        let refs: Vec<String> = images.iter().map(|c| c.image.clone()).collect();
        let resource = crate::supply::policy::ResourceContext::of(object);
        let verify = supply.verifier.verify_all_for(&refs, Some(&resource));
        if let Ok(verdicts) = tokio::time::timeout(budget, verify).await {
            for (c, v) in images.iter().zip(verdicts) {
                let pinned = pin(&c.image, &v);
                if let Some(value) = pinned {
                    ops.push(
                        serde_json::json!({"op": "replace", "path": c.pointer, "value": value}),
                    );
                }
            }
        }
    }
    let mut review =
        serde_json::to_value(AdmissionResponse::from(&request).into_review()).unwrap_or(Json::Null);
    if !ops.is_empty() {
        use base64::Engine as _;
        let patch = serde_json::to_vec(&ops).unwrap_or_default();
        review["response"]["patchType"] = Json::String("JSONPatch".into());
        review["response"]["patch"] =
            Json::String(base64::engine::general_purpose::STANDARD.encode(patch));
    }
    tracing::info!(
        target: "policyctl::decision",
        uid = %request.uid,
        kind = %request.kind.kind,
        name = %request.name,
        pinned = ops.len(),
        "mutate"
    );
    (StatusCode::OK, axum::Json(review)).into_response()
}

/// `image` pinned to the digest it was verified at: `name@sha256:…`, or `None` when it was
/// denied, matched no policy, or is already a digest reference.
fn pin(image: &str, verdict: &crate::supply::verify::ImageVerdict) -> Option<String> {
    if verdict.verdict == crate::supply::verify::Verdict::Deny
        || verdict
            .policies
            .iter()
            .all(|p| p.name == "<no-match-policy>")
        || image.contains('@')
    {
        return None;
    }
    let digest = verdict.digest.as_deref()?;
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    let name = match image[slash..].rfind(':') {
        Some(colon) => &image[..slash + colon],
        None => image,
    };
    Some(format!("{name}@{digest}"))
}

pub async fn validate(
    State(state): State<Arc<AppState>>,
    Query(query): Query<HashMap<String, String>>,
    super::body::Body(body): super::body::Body,
) -> Response {
    let started = Instant::now();
    let (raw, request) = match parse_review(&body) {
        Ok(r) => r,
        Err(response) => return response,
    };

    // The API server waits `timeout`; answer `margin` before it.
    let (api_timeout, budget) = budget(&state, &query);

    let policies = state.current();
    if let Some(reason) = &policies.unavailable {
        // Nothing loaded: fail closed, never evaluate against an empty policy set.
        let mut response = AdmissionResponse::from(&request)
            .deny(format!("policyctl denied the request: {reason}"));
        response.result.code = 503;
        response.result.reason = "ServiceUnavailable".into();
        tracing::info!(target: "policyctl::decision", uid = %request.uid, decision = "deny", reason = %reason);
        return (StatusCode::OK, axum::Json(response.into_review())).into_response();
    }
    // Values of a Secret under review are redacted from every message policies produce.
    let secrets = secret_values(&raw);
    let doc = Document {
        file: format!("admission:{}", request.uid),
        line: 0,
        resource: None,
        contents: raw,
        anchors: Vec::new(),
    };
    // Image verification is I/O: it runs concurrently and holds no evaluation slot. The object
    // under review is `object`, or `oldObject` on DELETE. Both evaluations borrow the review;
    // neither copies the object.
    let image_subject = policies.evaluator.supply_chain().map(|_| {
        let object = crate::eval::gatekeeper::reviewed_object(&doc.contents).unwrap_or(&Json::Null);
        (doc.naming(object), object)
    });
    let images = async {
        let mut out = crate::eval::Outcome::default();
        if let (Some(supply), Some((meta, object))) =
            (policies.evaluator.supply_chain(), &image_subject)
        {
            supply.evaluate_async(meta, object, &mut out).await;
        }
        out
    };
    let rules = async {
        // Waiting for a core counts against the deadline too.
        let _permit = state.evaluations.acquire().await;
        // Evaluated on this worker: ~0.1 ms of CPU; handing it to a blocking thread cost more
        // (cross-thread frees dominated glibc malloc under load). regorus's execution timer
        // bounds a runaway policy to the request's remaining budget, so it cannot hold a worker.
        let mut scope = policies.scope.clone();
        scope.set_time_limit(
            budget
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(10)),
        );
        Ok::<_, String>(policies.evaluator.evaluate_policies(&scope, &doc))
    };
    let evaluation = async {
        let (rules, images) = tokio::join!(rules, images);
        rules.map(|mut out| {
            out.findings.extend(images.findings);
            out.errors.extend(images.errors);
            out
        })
    };
    let outcome = match tokio::time::timeout(budget, evaluation).await {
        Ok(Ok(o)) => Ok(o),
        Ok(Err(join)) => Err(format!("policy evaluation failed unexpectedly: {join}")),
        Err(_) => Err(format!(
            "policyctl could not finish within the admission deadline ({:.1}s of the API server's {:.0}s)",
            budget.as_secs_f64(),
            api_timeout.as_secs_f64()
        )),
    };

    let mut response = AdmissionResponse::from(&request);
    let mut denials = Vec::new();
    let mut warnings = Vec::new();
    let mut violated = Vec::new();
    let mut policy_errors = false;
    match outcome {
        Ok(out) => {
            for f in &out.findings {
                if policies.constraint_ids.contains(&f.policy) {
                    let action = match f.severity {
                        Severity::Failure => "deny",
                        Severity::Warning => "warn",
                        _ => "dryrun",
                    };
                    state
                        .metrics
                        .violations
                        .get_or_create(&super::metrics::ActionLabels {
                            enforcement_action: action.into(),
                        })
                        .inc();
                }
                let line = format!("[{}/{}] {}", f.policy, f.rule, f.message);
                match f.severity {
                    Severity::Failure => {
                        violated.push(f.policy.clone());
                        denials.push(line);
                    }
                    Severity::Warning => warnings.push(line),
                    Severity::Exception | Severity::Dryrun => {}
                }
            }
            for e in &out.errors {
                // A policy that cannot be evaluated denies: fail closed.
                denials.push(format!("[policyctl error] {}", e.message));
                policy_errors = true;
            }
        }
        Err(reason) => {
            denials.push(reason);
            policy_errors = true;
        }
    }
    if !denials.is_empty() {
        let message = redact(
            &format!("policyctl denied the request:\n- {}", denials.join("\n- ")),
            &secrets,
        );
        response = response.deny(message);
        response.result.code = 403;
        response.result.reason = "Forbidden".into();
    }
    if !warnings.is_empty() {
        let mut kept = Vec::new();
        let mut total = 0;
        for w in &warnings {
            let w = truncate(&redact(w, &secrets), WARNING_MAX);
            if total + w.len() > WARNINGS_TOTAL {
                kept.push(format!(
                    "… and {} more warnings",
                    warnings.len() - kept.len()
                ));
                break;
            }
            total += w.len();
            kept.push(w);
        }
        response.warnings = Some(kept);
    }

    let decision = if !response.allowed {
        "deny"
    } else if response.warnings.is_some() {
        "warn"
    } else {
        "allow"
    };
    let elapsed = started.elapsed();
    state
        .metrics
        .requests
        .get_or_create(&super::metrics::RequestLabels {
            decision: decision.into(),
            kind: request.kind.kind.clone(),
        })
        .inc();
    state.metrics.latency.observe(elapsed.as_secs_f64());
    let gk = super::metrics::GatekeeperRequestLabels {
        admission_status: match decision {
            "deny" if policy_errors => "error",
            "deny" => "deny",
            _ => "allow",
        }
        .into(),
        admission_dryrun: request.dry_run.to_string(),
    };
    state.metrics.gk_requests.get_or_create(&gk).inc();
    state
        .metrics
        .gk_duration
        .get_or_create(&gk)
        .observe(elapsed.as_secs_f64());
    // One decision-log line per request; the object itself is never logged.
    log_decision(&DecisionLine {
        timestamp: Now,
        level: "INFO",
        uid: &request.uid,
        kind: &request.kind.kind,
        namespace: request.namespace.as_deref().unwrap_or(""),
        name: &request.name,
        operation: format!("{:?}", request.operation),
        user: request.user_info.username.as_deref().unwrap_or(""),
        dry_run: request.dry_run,
        policy_set: &policies.label,
        decision,
        violated: format!("{violated:?}"),
        duration_ms: elapsed.as_secs_f64() * 1e3,
        target: DECISION_TARGET,
    });
    (StatusCode::OK, axum::Json(response.into_review())).into_response()
}

const DECISION_TARGET: &str = "policyctl::decision";

/// A decision-log line: the fields in the order the server's JSON log layer writes them.
#[derive(serde::Serialize)]
struct DecisionLine<'a> {
    timestamp: Now,
    level: &'static str,
    uid: &'a str,
    kind: &'a str,
    namespace: &'a str,
    name: &'a str,
    operation: String,
    user: &'a str,
    dry_run: bool,
    policy_set: &'a str,
    decision: &'a str,
    violated: String,
    duration_ms: f64,
    target: &'static str,
}

/// The time it is serialized at, as the log layer writes it (RFC 3339, microseconds, UTC).
struct Now;

impl serde::Serialize for Now {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
    }
}

/// Writes a decision line to stderr as the server's JSON log layer would (one line, one write)
/// when `POLICYCTL_LOG` enables `policyctl::decision` at info. Formatted here rather than by
/// the layer, which visits every field through `Debug` and a map serializer: that cost ~4% of a
/// request's CPU.
fn log_decision(line: &DecisionLine) {
    use std::io::Write as _;
    if !tracing::enabled!(target: DECISION_TARGET, tracing::Level::INFO) {
        return;
    }
    let _ = std::io::stderr().write_all(&decision_json(line));
}

fn decision_json(line: &DecisionLine) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    // Serializing plain strings, numbers and booleans into memory cannot fail.
    let _ = serde_json::to_writer(&mut out, line);
    out.push(b'\n');
    out
}

/// 200 `ready` when a policy set is loaded; with remote sets, one line per set served and the
/// last failed update. 503 while shutting down or before any policy set has loaded.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if !state.ready.load(std::sync::atomic::Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    let remote = state.remote_status();
    if let Some(reason) = &state.current().unavailable {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        )
            .into_response();
    }
    if state.opts.remote.is_empty() {
        return (StatusCode::OK, "ready").into_response();
    }
    let mut body = String::from("ready\n");
    for s in &remote.serving {
        body.push_str(&format!("serving {s}\n"));
    }
    if let Some(e) = &remote.last_error {
        body.push_str(&format!(
            "last update failed (the sets above keep serving): {e}\n"
        ));
    }
    (StatusCode::OK, body).into_response()
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    state
        .metrics
        .connections
        .set(state.connections.load(std::sync::atomic::Ordering::Relaxed) as i64);
    let p = state.current();
    state.metrics.gk_constraints.clear();
    for (action, n) in &p.gatekeeper_counts.0 {
        state
            .metrics
            .gk_constraints
            .get_or_create(&super::metrics::ConstraintLabels {
                enforcement_action: action.clone(),
                status: "active".into(),
            })
            .set(*n);
    }
    state
        .metrics
        .gk_templates
        .get_or_create(&super::metrics::StatusLabels {
            status: "active".into(),
        })
        .set(p.gatekeeper_counts.1);
    if let Some(v) = &p.verifier {
        state
            .metrics
            .image_cache_hits
            .set(v.lookups().saturating_sub(v.verifications()) as i64);
        state
            .metrics
            .image_verifications
            .set(v.verifications() as i64);
        state
            .metrics
            .registry_errors
            .set(v.registry().errors() as i64);
    }
    (
        StatusCode::OK,
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The decision line written by hand is the one the JSON log layer wrote for the same
    /// event: same keys, same order, same value formats (only the timestamp's value differs).
    #[test]
    fn decision_lines_are_written_as_the_json_log_layer_wrote_them() {
        #[derive(Clone, Default)]
        struct Buf(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .json()
            .flatten_event(true)
            .finish();
        let operation = kube_core::admission::Operation::Create;
        let violated = vec!["k8s-no-latest".to_string(), "a \"quoted\" one".to_string()];
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                target: "policyctl::decision",
                uid = %"705ab4f5-6393",
                kind = %"Deployment",
                namespace = "team-a",
                name = %"web",
                operation = ?operation,
                user = "system:serviceaccount:kube-system:deployment-controller",
                dry_run = false,
                policy_set = %"sha256:abc",
                decision = "deny",
                violated = ?violated,
                duration_ms = 0.1 + 0.2,
            );
        });
        let mine = decision_json(&DecisionLine {
            timestamp: Now,
            level: "INFO",
            uid: "705ab4f5-6393",
            kind: "Deployment",
            namespace: "team-a",
            name: "web",
            operation: format!("{operation:?}"),
            user: "system:serviceaccount:kube-system:deployment-controller",
            dry_run: false,
            policy_set: "sha256:abc",
            decision: "deny",
            violated: format!("{violated:?}"),
            duration_ms: 0.1 + 0.2,
            target: DECISION_TARGET,
        });
        let theirs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let mine = String::from_utf8(mine).unwrap();
        let without_time = |s: &str| {
            let v: Json = serde_json::from_str(s).unwrap();
            let ts = v["timestamp"].as_str().unwrap().to_string();
            assert!(
                ts.len() == 27 && ts.ends_with('Z') && ts.as_bytes()[19] == b'.',
                "{ts}"
            );
            s.replacen(&ts, "T", 1)
        };
        assert_eq!(without_time(&mine), without_time(&theirs));
        assert!(mine.ends_with("}\n"));
    }

    #[test]
    fn api_server_timeouts() {
        assert_eq!(parse_timeout("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_timeout("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_timeout("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_timeout("soon"), None);
        assert_eq!(truncate(&"x".repeat(200), 120).chars().count(), 120);
    }
}
