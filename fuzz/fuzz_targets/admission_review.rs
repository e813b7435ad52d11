//! The webhook's `/validate` and `/mutate` in process: bytes as the request body, the built-in
//! library loaded. Every input gets an HTTP answer (4xx with a reason, or 200 with a verdict);
//! none panics or hangs.
#![no_main]
use libfuzzer_sys::fuzz_target;
use policyctl::server::{self, AppState, ServeOptions};
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    state: Arc<AppState>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let opts = ServeOptions {
            load: policyctl::policy::LoadOptions {
                policy_paths: vec!["builtin".into()],
                ..Default::default()
            },
            namespaces: policyctl::eval::Namespaces::Default,
            rego_engine: policyctl::eval::RegoEngine::Auto,
            registry: Default::default(),
            verifier: Default::default(),
            tls_cert: "unused".into(),
            tls_key: "unused".into(),
            deadline_margin: std::time::Duration::from_millis(500),
            reload_interval: std::time::Duration::from_secs(3600),
            inventory: Vec::new(),
            remote: Vec::new(),
            fetch: Default::default(),
            policy_poll: std::time::Duration::from_secs(3600),
            max_requests: 1024,
            max_connections: 4096,
        };
        let policies = server::load_policies(&opts, &[], runtime.handle()).unwrap_or_else(|e| panic!("{e:?}"));
        let state = Arc::new(AppState::new(opts, policies, Vec::new()));
        Fixture { runtime, state }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    for path in ["/validate?timeout=2s", "/mutate?timeout=2s"] {
        let req = axum::http::Request::post(path)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(data.to_vec()))
            .unwrap();
        let app = server::app(f.state.clone());
        let resp = f.runtime.block_on(app.oneshot(req)).unwrap();
        let status = resp.status().as_u16();
        assert!(status == 200 || (400..500).contains(&status), "status {status}");
    }
});
