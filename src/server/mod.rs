//! The validating admission webhook: axum over rustls. `POST /validate` takes an
//! `admission.k8s.io/v1` AdmissionReview and answers with the verdict of the same evaluation
//! `check` runs (`eval::Evaluator`), so CI and admission agree. Also `/healthz`, `/readyz`,
//! `/metrics`; policy and certificate reload; graceful shutdown. This module owns HTTP only.

mod handler;
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
}

/// One loaded policy generation: what a request is evaluated with.
pub struct Policies {
    pub evaluator: Evaluator,
    pub scope: crate::eval::Scope,
    pub verifier: Option<Arc<Verifier>>,
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
}

impl AppState {
    pub fn current(&self) -> Arc<Policies> {
        match self.policies.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// Loads policies (and inventory), or says why not. A set with any error is refused whole:
/// serving half a policy set would silently allow what the missing half denies.
pub fn load_policies(
    opts: &ServeOptions,
    runtime: &tokio::runtime::Handle,
) -> Result<Policies, Vec<ToolError>> {
    let (sources, mut errors) = policy::discover(&opts.load);
    let (mut set, load_errors) = policy::load(sources, &opts.load);
    errors.extend(load_errors);
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
    Ok(Policies {
        evaluator,
        scope,
        verifier,
    })
}

/// The router (without TLS), for tests and for `run`.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/validate", post(handler::validate))
        .route("/mutate", post(handler::mutate))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(handler::readyz))
        .route("/metrics", get(handler::metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        // Refuses by Content-Length before reading the body (413 without waiting for 3 MiB).
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
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
    let policies = {
        let (opts2, rt) = (opts.clone(), handle_rt.clone());
        tokio::task::spawn_blocking(move || load_policies(&opts2, &rt)).await?
    }
    .map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToolError::display).collect();
        anyhow::anyhow!("cannot load policies:\n  {}", lines.join("\n  "))
    })?;
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&opts.tls_cert, &opts.tls_key)
        .await
        .map_err(|e| anyhow::anyhow!("cannot load --tls-cert/--tls-key: {e}"))?;
    let state = Arc::new(AppState {
        policies: RwLock::new(Arc::new(policies)),
        metrics: metrics::Metrics::new(),
        ready: AtomicBool::new(true),
        opts: opts.clone(),
        evaluations: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, |n| n.get()),
        ),
    });
    let handle = axum_server::Handle::new();
    tokio::spawn(watch(state.clone(), tls.clone()));
    tokio::spawn(shutdown_on_signal(handle.clone(), state.clone()));
    tracing::info!(%addr, "policyctl webhook serving");
    // TCP_NODELAY: an admission answer is one small write the API server is waiting for; Nagle
    // must not hold it back.
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls.clone())
        .acceptor(axum_server::accept::NoDelayAcceptor::new());
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
    loop {
        tokio::time::sleep(opts.reload_interval).await;
        if !state.ready.load(Ordering::SeqCst) {
            return; // shutting down
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
        if now != policy_seen {
            policy_seen = now;
            let (o, r) = (opts.clone(), rt.clone());
            match tokio::task::spawn_blocking(move || load_policies(&o, &r)).await {
                Ok(Ok(p)) => {
                    match state.policies.write() {
                        Ok(mut g) => *g = Arc::new(p),
                        Err(poisoned) => *poisoned.into_inner() = Arc::new(p),
                    }
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
