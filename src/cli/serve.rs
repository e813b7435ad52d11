//! `policyctl serve`: the validating admission webhook.

use super::registry_args::RegistryArgs;
use crate::server::{self, ServeOptions};
use crate::supply::registry::RegistryOptions;
use crate::supply::verify::VerifierOptions;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "POST /validate takes admission.k8s.io/v1 AdmissionReviews; /healthz, /readyz and \
/metrics (Prometheus) are served too. Policies, inventory and the TLS certificate are reloaded when \
their files change; a broken policy set is refused and the last good one keeps serving. Remote \
sets (-p oci://REGISTRY/REPO:TAG, OPA bundle URLs) are polled (--policy-poll) and swapped in \
atomically when their digest changes; with an unreachable registry at start the last verified \
cached copy serves, and with none the webhook is not ready and denies every request. Logs are \
JSON on stderr, one decision line per request.\n\nExample:\n  policyctl serve -p builtin -p /policies \
--tls-cert /tls/tls.crt --tls-key /tls/tls.key"
)]
pub struct Args {
    /// Policy file or directory (repeatable); `builtin` for the built-in library; a remote set
    /// `oci://REGISTRY/REPO:TAG` or an OPA bundle URL, polled every --policy-poll seconds.
    #[arg(short = 'p', long = "policy", value_name = "PATH", required = true)]
    pub policy: Vec<String>,

    #[command(flatten)]
    pub policies: super::PolicyArgs,

    /// PEM certificate (chain) served to the API server; reloaded when it changes.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: PathBuf,

    /// PEM private key of the certificate.
    #[arg(long, value_name = "FILE")]
    pub tls_key: PathBuf,

    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:8443")]
    pub addr: std::net::SocketAddr,

    /// Answer this many seconds before the API server's ?timeout= expires.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub deadline_margin: f64,

    /// How often policy, inventory and certificate files are checked for changes, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub reload_interval: f64,

    #[command(flatten)]
    pub registry: RegistryArgs,

    #[command(flatten)]
    pub remote: super::remote_args::RemotePolicyArgs,

    /// How often remote policy sets (-p oci://…, bundle URLs) are checked for a new digest, in
    /// seconds. A new set is fetched, verified and loaded before it replaces the current one;
    /// a failure keeps the current one (shown in /readyz and the reload metric).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub policy_poll: f64,

    /// Review requests answered at once; past it a request is answered 503 with Retry-After
    /// instead of queueing without bound (each queued request still answers by its deadline).
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_requests: usize,

    /// Open connections; past it requests are answered 503 and their connection closed.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub max_connections: usize,
}

pub(super) fn run(args: Args) -> anyhow::Result<u8> {
    let secs = |v: f64, flag: &str| {
        anyhow::ensure!(
            v.is_finite() && v >= 0.0,
            "{flag} must be a non-negative number of seconds"
        );
        Ok(Duration::from_secs_f64(v))
    };
    let (local, remote) = crate::remote::split(&args.policy);
    let mut fetch = args
        .remote
        .fetch_options(&args.registry.insecure_registry, true)?;
    fetch.timeout = Duration::from_secs(30);
    let opts = ServeOptions {
        load: args.policies.load_options(local),
        namespaces: args.policies.namespaces()?,
        rego_engine: args.policies.rego_engine,
        registry: RegistryOptions {
            insecure: args.registry.insecure_registry.clone(),
        },
        verifier: VerifierOptions {
            deadline: secs(args.registry.timeout, "--timeout")?,
            verdict_ttl: Duration::from_secs(args.registry.cache_ttl),
            no_match: args.registry.no_match_policy,
            ..Default::default()
        },
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        deadline_margin: secs(args.deadline_margin, "--deadline-margin")?,
        reload_interval: secs(args.reload_interval, "--reload-interval")?
            .max(Duration::from_millis(100)),
        inventory: args.policies.inventory.clone(),
        remote,
        fetch,
        policy_poll: secs(args.policy_poll, "--policy-poll")?.max(Duration::from_millis(100)),
        max_requests: args.max_requests.max(1),
        max_connections: args.max_connections.max(1),
    };
    // One worker more than there are evaluation slots (one per core): however long policies
    // take, a worker is always free to accept connections, finish TLS handshakes, read
    // requests, answer /healthz and handle SIGTERM.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores + 1)
        .enable_all()
        .build()?;
    let mut opts = opts;
    opts.verifier.public_root = args.registry.public_root(&runtime)?;
    opts.fetch.public_root = opts.verifier.public_root.clone();
    runtime.block_on(server::run(opts, args.addr))?;
    Ok(0)
}
