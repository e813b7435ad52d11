//! The validating admission webhook: axum over rustls. `POST /validate` takes an
//! `admission.k8s.io/v1` AdmissionReview and answers with the verdict of the same evaluation
//! `check` runs (`eval::Evaluator`), so CI and admission agree. Also `/healthz`, `/readyz`,
//! `/metrics`; policy and certificate reload; graceful shutdown. This module owns HTTP only.

mod body;
mod handler;
mod limits;
pub mod metrics;

use crate::eval::supply_chain::SupplyChain;
use crate::eval::{Evaluator, Namespaces};
use crate::finding::ToolError;
use crate::policy::{self, LoadOptions};
use crate::supply::registry::{Registry, RegistryOptions};
use crate::supply::verify::{Verifier, VerifierOptions};
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// Largest AdmissionReview accepted (the API server's own request limit is 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Everything `serve` is configured with.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub load: LoadOptions,
    pub namespaces: Namespaces,
    pub rego_engine: crate::eval::RegoEngine,
    pub registry: RegistryOptions,
    pub verifier: VerifierOptions,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    /// Answer this long before the API server's `?timeout=`.
    pub deadline_margin: Duration,
    /// How often policy and certificate files are checked for changes.
    pub reload_interval: Duration,
    pub inventory: Vec<String>,
    /// Remote policy sets (`-p oci://…`, bundles), fetched at start and every `policy_poll`.
    pub remote: Vec<crate::remote::Location>,
    pub fetch: crate::remote::FetchOptions,
    pub policy_poll: Duration,
    /// Review requests answered at once; past it, 503 with Retry-After.
    pub max_requests: usize,
    /// Open connections; past it, requests are answered 503 and their connection closed.
    pub max_connections: usize,
}

/// One loaded policy generation: what a request is evaluated with.
pub struct Policies {
    pub evaluator: Evaluator,
    pub scope: crate::eval::Scope,
    pub verifier: Option<Arc<Verifier>>,
    /// Which policy set this is (`location@digest` of remote sets), for decision logs.
    pub label: String,
    /// Why there is no policy set yet (start-up with an unreachable registry and no cached
    /// copy): every request is denied with this reason and /readyz fails.
    pub unavailable: Option<String>,
    /// Gatekeeper constraints by enforcement action, and the number of templates (metrics).
    pub gatekeeper_counts: (Vec<(String, i64)>, i64),
    /// `<Kind>/<name>` of every Gatekeeper constraint: the findings counted as constraint
    /// violations.
    pub constraint_ids: std::collections::HashSet<String>,
}

impl Policies {
    /// Nothing loaded yet: denies every request (fail closed) until a set loads.
    fn unavailable(opts: &ServeOptions, reason: String) -> Policies {
        let set = crate::policy::PolicySet {
            engine: policy::new_engine(),
            packages: Vec::new(),
            uses_conftest_data: false,
            sources: Vec::new(),
            gatekeeper: Default::default(),
            image_policies: Vec::new(),
            trust_roots: Vec::new(),
        };
        let evaluator = Evaluator::new(&set, &opts.namespaces)
            .with_engine(crate::eval::RegoEngine::Interpreter)
            .unwrap_or_else(|_| Evaluator::new(&set, &opts.namespaces));
        let scope = evaluator.scope_for_file("admission");
        Policies {
            evaluator,
            scope,
            verifier: None,
            label: String::new(),
            unavailable: Some(reason),
            gatekeeper_counts: (Vec::new(), 0),
            constraint_ids: Default::default(),
        }
    }
}

/// What /readyz reports about remote policy sets.
#[derive(Debug, Default, Clone)]
pub struct RemoteStatus {
    /// The sets being served (`location@digest`).
    pub serving: Vec<String>,
    /// The last fetch, verification or load that failed, and when (the last good set keeps
    /// serving).
    pub last_error: Option<String>,
}

/// Shared by every request.
pub struct AppState {
    pub policies: RwLock<Arc<Policies>>,
    pub metrics: metrics::Metrics,
    pub ready: AtomicBool,
    pub opts: ServeOptions,
    /// One permit per core: evaluations are CPU-bound, so running more at once only adds
    /// context switches to every request's latency; the rest wait their turn, in order.
    pub evaluations: tokio::sync::Semaphore,
    pub remote: RwLock<RemoteStatus>,
    /// The remote sets the current policies were loaded from.
    pub remote_sets: RwLock<Vec<crate::remote::RemoteSet>>,
    /// Review requests being answered now.
    pub in_flight: std::sync::atomic::AtomicUsize,
    /// Connections open now (counted by the acceptor).
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl AppState {
    /// The state a server starts with: this policy generation (from these remote sets), ready.
    pub fn new(
        opts: ServeOptions,
        policies: Policies,
        remote_sets: Vec<crate::remote::RemoteSet>,
    ) -> AppState {
        let status = RemoteStatus {
            serving: remote_sets
                .iter()
                .map(crate::remote::RemoteSet::label)
                .collect(),
            last_error: policies.unavailable.clone(),
        };
        AppState {
            policies: RwLock::new(Arc::new(policies)),
            metrics: metrics::Metrics::new(),
            ready: AtomicBool::new(true),
            opts,
            evaluations: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            remote: RwLock::new(status),
            remote_sets: RwLock::new(remote_sets),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            connections: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        }
    }

    pub fn current(&self) -> Arc<Policies> {
        match self.policies.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn remote_status(&self) -> RemoteStatus {
        match self.remote.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_remote(&self, f: impl FnOnce(&mut RemoteStatus)) {
        match self.remote.write() {
            Ok(mut g) => f(&mut g),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    fn swap(&self, p: Policies) {
        match self.policies.write() {
            Ok(mut g) => *g = Arc::new(p),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(p),
        }
    }

    fn current_remote_sets(&self) -> Vec<crate::remote::RemoteSet> {
        match self.remote_sets.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_remote_sets(&self, sets: Vec<crate::remote::RemoteSet>) {
        match self.remote_sets.write() {
            Ok(mut g) => *g = sets,
            Err(poisoned) => *poisoned.into_inner() = sets,
        }
    }
}

/// Loads policies (and inventory), or says why not. A set with any error is refused whole:
/// serving half a policy set would silently allow what the missing half denies.
pub fn load_policies(
    opts: &ServeOptions,
    remote: &[crate::remote::RemoteSet],
    runtime: &tokio::runtime::Handle,
) -> Result<Policies, Vec<ToolError>> {
    let mut load = opts.load.clone();
    load.remote = remote.to_vec();
    load.remote_requested = !opts.remote.is_empty();
    let (sources, mut errors) = policy::discover(&load);
    let (mut set, load_errors) = policy::load(sources, &load);
    errors.extend(load_errors);
    // Gatekeeper's `scoped` constraints: the webhook is the validation enforcement point.
    set.gatekeeper.enforcement_point = policy::gatekeeper::VALIDATION_POINT.into();
    errors.extend(crate::pipeline::load_inventory(&mut set, &opts.inventory));
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut evaluator = Evaluator::new(&set, &opts.namespaces)
        .with_engine(opts.rego_engine)
        .map_err(|e| vec![ToolError::new("", 0, e)])?;
    let mut verifier = None;
    if !set.image_policies.is_empty() {
        let registry = Registry::new(&opts.registry);
        let v = Arc::new(Verifier::with_trust_roots(
            registry,
            set.image_policies.clone(),
            set.trust_roots.clone(),
            &opts.verifier,
        ));
        evaluator = evaluator.with_supply_chain(SupplyChain {
            verifier: v.clone(),
            runtime: runtime.clone(),
        });
        verifier = Some(v);
    }
    if evaluator.rule_count() == 0 {
        return Err(vec![ToolError::new(
            "",
            0,
            "no rules, constraints or image policies to enforce (check -p and -n)",
        )]);
    }
    tracing::info!(
        checks = evaluator.rule_count(),
        compiled = evaluator.is_compiled(),
        "policies loaded"
    );
    let scope = evaluator.scope_for_file("admission");
    let gatekeeper_counts = gatekeeper_counts(&set.gatekeeper);
    let constraint_ids = set
        .gatekeeper
        .constraints
        .iter()
        .map(|c| format!("{}/{}", c.kind, c.name))
        .collect();
    let label = remote
        .iter()
        .map(crate::remote::RemoteSet::label)
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Policies {
        evaluator,
        scope,
        verifier,
        label,
        unavailable: None,
        gatekeeper_counts,
        constraint_ids,
    })
}

/// Constraints by enforcement action (scoped ones by their action at this point) and templates,
/// for `gatekeeper_constraints` / `gatekeeper_constraint_templates`. Everything loaded is active:
/// a set with an error is refused whole.
fn gatekeeper_counts(gk: &policy::gatekeeper::Gatekeeper) -> (Vec<(String, i64)>, i64) {
    use policy::gatekeeper::Action;
    let mut by_action: std::collections::BTreeMap<String, i64> = Default::default();
    for c in &gk.constraints {
        let name = if c.scoped.is_some() {
            "scoped".to_string()
        } else {
            match c.action {
                Action::Deny => "deny",
                Action::Warn => "warn",
                Action::Dryrun => "dryrun",
            }
            .to_string()
        };
        *by_action.entry(name).or_default() += 1;
    }
    (by_action.into_iter().collect(), gk.templates.len() as i64)
}

/// Fetches every remote set; `Err` names each one that failed.
async fn fetch_remote(opts: &ServeOptions) -> Result<Vec<crate::remote::RemoteSet>, String> {
    if opts.remote.is_empty() {
        return Ok(Vec::new());
    }
    let (sets, errors) = crate::remote::fetch_all(&opts.remote, &opts.fetch).await;
    if errors.is_empty() {
        for s in &sets {
            if let Some(why) = &s.stale {
                tracing::warn!(policy_set = %s.label(), reason = %why, "serving a cached policy set");
            }
        }
        Ok(sets)
    } else {
        Err(errors
            .iter()
            .map(ToolError::display)
            .collect::<Vec<_>>()
            .join("; "))
    }
}

/// The router (without TLS), for tests and for `run`.
pub fn app(state: Arc<AppState>) -> Router {
    let reviews = Router::new()
        .route("/validate", post(handler::validate))
        .route("/mutate", post(handler::mutate))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::admit,
        ));
    Router::new()
        .merge(reviews)
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(handler::readyz))
        .route("/metrics", get(handler::metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        // Refuses by Content-Length before reading the body (413 without waiting for 3 MiB);
        // a chunked body past the limit gets its 413 from `body::Body`.
        .layer(axum::middleware::from_fn(body::refuse_announced_oversize))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .with_state(state)
}

fn mtimes(paths: &[PathBuf]) -> Vec<(PathBuf, Option<SystemTime>)> {
    let mut out = Vec::new();
    for p in paths {
        // Follow links: a ConfigMap update swaps the `..data` symlink, not the files' own links.
        for entry in walkdir::WalkDir::new(p)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .flatten()
        {
            if entry.file_type().is_file() {
                let m = std::fs::metadata(entry.path())
                    .ok()
                    .and_then(|m| m.modified().ok());
                out.push((entry.path().to_path_buf(), m));
            }
        }
    }
    out
}

/// Serves until SIGTERM/SIGINT, then drains connections.
pub async fn run(opts: ServeOptions, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let handle_rt = tokio::runtime::Handle::current();
    // A remote set that cannot be fetched at start (and has no verified cached copy) leaves the
    // webhook up but not ready, denying every request, until a poll loads it; local policies that
    // do not load stop the start as before.
    let (policies, remote_sets) = match fetch_remote(&opts).await {
        Ok(sets) => {
            let (opts2, rt, sets2) = (opts.clone(), handle_rt.clone(), sets.clone());
            let p = tokio::task::spawn_blocking(move || load_policies(&opts2, &sets2, &rt))
                .await?
                .map_err(|errors| {
                    let lines: Vec<String> = errors.iter().map(ToolError::display).collect();
                    anyhow::anyhow!("cannot load policies:\n  {}", lines.join("\n  "))
                })?;
            (p, sets)
        }
        Err(reason) => {
            tracing::error!(reason = %reason, "no policy set loaded: not ready, denying every request until a fetch succeeds");
            (
                Policies::unavailable(&opts, format!("no policy set loaded yet: {reason}")),
                Vec::new(),
            )
        }
    };
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&opts.tls_cert, &opts.tls_key)
        .await
        .map_err(|e| anyhow::anyhow!("cannot load --tls-cert/--tls-key: {e}"))?;
    let state = Arc::new(AppState::new(opts.clone(), policies, remote_sets));
    let handle = axum_server::Handle::new();
    tokio::spawn(watch(state.clone(), tls.clone()));
    tokio::spawn(shutdown_on_signal(handle.clone(), state.clone()));
    tracing::info!(%addr, "policyctl webhook serving");
    // TCP_NODELAY: an admission answer is one small write the API server is waiting for; Nagle
    // must not hold it back.
    let acceptor =
        axum_server::tls_rustls::RustlsAcceptor::new(tls.clone()).acceptor(limits::Counting {
            inner: axum_server::accept::NoDelayAcceptor::new(),
            live: state.connections.clone(),
        });
    axum_server::bind(addr)
        .acceptor(acceptor)
        .handle(handle)
        .serve(app(state).into_make_service())
        .await?;
    tracing::info!("policyctl webhook stopped");
    Ok(())
}

async fn shutdown_on_signal(handle: axum_server::Handle, state: Arc<AppState>) {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutdown requested: draining connections");
    state.ready.store(false, Ordering::SeqCst);
    handle.graceful_shutdown(Some(Duration::from_secs(20)));
}

/// Polls policy, inventory and certificate files; reloads what changed. Stops with the server.
async fn watch(state: Arc<AppState>, tls: axum_server::tls_rustls::RustlsConfig) {
    let opts = state.opts.clone();
    let policy_paths: Vec<PathBuf> = opts
        .load
        .policy_paths
        .iter()
        .filter(|p| p.as_str() != policy::BUILTIN_NAME)
        .map(PathBuf::from)
        .chain(opts.load.data_paths.iter().cloned())
        .chain(opts.inventory.iter().map(PathBuf::from))
        .collect();
    let cert_paths = vec![opts.tls_cert.clone(), opts.tls_key.clone()];
    let mut policy_seen = mtimes(&policy_paths);
    let mut cert_seen = mtimes(&cert_paths);
    let rt = tokio::runtime::Handle::current();
    let mut next_poll = tokio::time::Instant::now() + opts.policy_poll;
    loop {
        let wait = if opts.remote.is_empty() {
            opts.reload_interval
        } else {
            opts.reload_interval
                .min(next_poll.saturating_duration_since(tokio::time::Instant::now()))
        };
        tokio::time::sleep(wait).await;
        if !state.ready.load(Ordering::SeqCst) {
            return; // shutting down
        }
        let unavailable = state.current().unavailable.is_some();
        if !opts.remote.is_empty() && (tokio::time::Instant::now() >= next_poll || unavailable) {
            next_poll = tokio::time::Instant::now() + opts.policy_poll;
            poll_remote(&state, &rt).await;
        }
        let now = mtimes(&cert_paths);
        if now != cert_seen {
            cert_seen = now;
            match tls
                .reload_from_pem_file(&opts.tls_cert, &opts.tls_key)
                .await
            {
                Ok(()) => {
                    tracing::info!("TLS certificate reloaded");
                    inc_reload(&state, "certificate", "success");
                }
                Err(e) => {
                    // A half-written pair (key before certificate) is retried on the next change.
                    tracing::error!(error = %e, "TLS certificate reload refused; keeping the current one");
                    inc_reload(&state, "certificate", "failure");
                }
            }
        }
        let now = mtimes(&policy_paths);
        if now != policy_seen && !unavailable {
            policy_seen = now;
            let (o, r, sets) = (opts.clone(), rt.clone(), state.current_remote_sets());
            match tokio::task::spawn_blocking(move || load_policies(&o, &sets, &r)).await {
                Ok(Ok(p)) => {
                    state.swap(p);
                    tracing::info!("policies reloaded");
                    inc_reload(&state, "policies", "success");
                }
                Ok(Err(errors)) => {
                    let lines: Vec<String> = errors.iter().map(ToolError::display).collect();
                    tracing::error!(errors = ?lines, "policy reload refused; the last good policies keep serving");
                    inc_reload(&state, "policies", "failure");
                }
                Err(e) => {
                    tracing::error!(error = %e, "policy reload failed");
                    inc_reload(&state, "policies", "failure");
                }
            }
        }
    }
}

/// Fetches the remote sets again; when any digest changed (or nothing is loaded yet), loads
/// the new generation and swaps it in atomically. A failed fetch, verification or load keeps the
/// last good set; it is logged, counted and shown in /readyz.
async fn poll_remote(state: &Arc<AppState>, rt: &tokio::runtime::Handle) {
    let opts = &state.opts;
    let failed = |state: &AppState, reason: String| {
        tracing::error!(reason = %reason, "policy set update refused; the last good set keeps serving");
        inc_reload(state, "remote_policies", "failure");
        let when = jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .unwrap_or(jiff::Timestamp::now());
        state.set_remote(|r| r.last_error = Some(format!("{when}: {reason}")));
    };
    let sets = match fetch_remote(opts).await {
        Ok(s) => s,
        Err(reason) => return failed(state, reason),
    };
    let current = state.current_remote_sets();
    let digests =
        |v: &[crate::remote::RemoteSet]| v.iter().map(|s| s.digest.clone()).collect::<Vec<_>>();
    if state.current().unavailable.is_none() && digests(&current) == digests(&sets) {
        state.set_remote(|r| r.last_error = None);
        return;
    }
    let (o, r, s2) = (opts.clone(), rt.clone(), sets.clone());
    match tokio::task::spawn_blocking(move || load_policies(&o, &s2, &r)).await {
        Ok(Ok(p)) => {
            let label = p.label.clone();
            state.swap(p);
            state.set_remote_sets(sets.clone());
            state.set_remote(|r| {
                r.serving = sets.iter().map(crate::remote::RemoteSet::label).collect();
                r.last_error = None;
            });
            tracing::info!(policy_set = %label, "policy set updated");
            inc_reload(state, "remote_policies", "success");
        }
        Ok(Err(errors)) => {
            let lines: Vec<String> = errors.iter().map(ToolError::display).collect();
            failed(
                state,
                format!("new policy set does not load: {}", lines.join("; ")),
            );
        }
        Err(e) => failed(state, format!("policy load failed: {e}")),
    }
}

fn inc_reload(state: &AppState, what: &str, result: &str) {
    state
        .metrics
        .reloads
        .get_or_create(&metrics::ReloadLabels {
            what: what.into(),
            result: result.into(),
        })
        .inc();
}
