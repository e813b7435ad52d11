//! `policyctl serve` as the API server sees it: real TLS on loopback, real AdmissionReview
//! bodies; verdicts, warnings, deadlines, bad requests, reloads, metrics, shutdown.

mod common;
use common::oci::{self, Key, Pusher, TestRegistry};
use common::webhook::{client, read_status, review, tls_stream, yaml_file, Ca, Webhook};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

fn response(body: &Value) -> &Value {
    &body["response"]
}

fn fixture(path: &str) -> Value {
    yaml_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
}

#[test]
fn create_update_delete_dry_run_allowed_denied_warned() {
    let gk = "testdata/gatekeeper";
    let w = Webhook::start(&[
        "-p",
        "builtin",
        "-p",
        &format!("{gk}/templates"),
        "-p",
        &format!("{gk}/constraints"),
        "--inventory",
        &format!("{gk}/inventory"),
    ]);
    // Allowed: a compliant Pod and Deployment (in a namespace the constraints know, with the
    // labels they require).
    let mut deployment = fixture("testdata/k8s/allowed/deployment.yaml");
    deployment["metadata"]["namespace"] = json!("prod-shop");
    deployment["metadata"]["labels"]["owner"] = json!("team-web");
    deployment["metadata"]["labels"]["cost-center"] = json!("42");
    for (path, object) in [
        ("pod", fixture("testdata/k8s/allowed/pod.yaml")),
        ("deployment", deployment),
    ] {
        let (status, body) = w.review(&review("CREATE", Some(&object), None, false));
        assert_eq!(status, 200);
        assert_eq!(response(&body)["allowed"], true, "{path}: {body:#}");
        assert_eq!(body["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(body["kind"], "AdmissionReview");
    }
    // Denied with every violation listed, uid echoed, 403.
    let (_, body) = w.review(&review(
        "CREATE",
        Some(&fixture("testdata/k8s/denied/privileged.yaml")),
        None,
        false,
    ));
    let r = response(&body);
    assert_eq!(r["uid"], "uid-create-privileged");
    assert_eq!(r["allowed"], false);
    assert_eq!(r["status"]["code"], 403);
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(msg.contains("[policyctl.k8s.privileged/deny] DaemonSet \"privileged\": container \"app\" is privileged"), "{msg}");
    // Warned: allowed, with warnings within the API server's limits.
    let mut probes = fixture("testdata/k8s/denied/probes.yaml");
    probes["metadata"]["namespace"] = json!("prod-shop");
    probes["metadata"]["labels"]["owner"] = json!("team-web");
    probes["metadata"]["labels"]["cost-center"] = json!("42");
    let (_, body) = w.review(&review("CREATE", Some(&probes), None, false));
    let r = response(&body);
    assert_eq!(r["allowed"], true);
    let warnings = r["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2);
    assert!(warnings
        .iter()
        .all(|w| w.as_str().unwrap().chars().count() <= 120));
    // UPDATE with oldObject: the immutable-label constraint sees both.
    let mut old = fixture("testdata/k8s/allowed/deployment.yaml");
    old["metadata"]["labels"]["owner"] = json!("team-cart");
    let mut new = old.clone();
    new["metadata"]["labels"]["owner"] = json!("team-growth");
    let (_, body) = w.review(&review("UPDATE", Some(&new), Some(&old), false));
    let msg = response(&body)["status"]["message"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        msg.contains("label owner is immutable: team-cart -> team-growth (by alice@example.com)"),
        "{body:#}"
    );
    // DELETE carries only oldObject.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keys", "namespace": "prod-shop", "labels": {"protected": "true"}}});
    let (_, body) = w.review(&review("DELETE", None, Some(&cm), false));
    assert_eq!(response(&body)["allowed"], false);
    assert!(response(&body)["status"]["message"]
        .as_str()
        .unwrap()
        .contains("ConfigMap keys is protected"));
    let unprotected = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tmp", "namespace": "prod-shop"}});
    let (_, body) = w.review(&review("DELETE", None, Some(&unprotected), false));
    assert_eq!(response(&body)["allowed"], true, "{body:#}");
    // dryRun is evaluated the same way.
    let (_, body) = w.review(&review(
        "CREATE",
        Some(&fixture("testdata/k8s/denied/privileged.yaml")),
        None,
        true,
    ));
    assert_eq!(response(&body)["allowed"], false);
    // One decision-log line per request, JSON, without the object.
    let log = w.log();
    let decisions: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "policyctl::decision")
        .collect();
    assert!(decisions.len() >= 8, "{log}");
    assert!(decisions.iter().any(|d| d["decision"] == "deny"
        && d["user"] == "alice@example.com"
        && d["kind"] == "DaemonSet"));
    assert!(!log.contains("securityContext"), "objects are never logged");
}

#[test]
fn bad_requests_get_4xx_with_a_reason_and_the_server_keeps_serving() {
    let w = Webhook::start(&["-p", "builtin"]);
    let c = w.client();
    let post = |body: Vec<u8>| {
        let r = c
            .post(w.url("/validate"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.text().unwrap())
    };
    assert_eq!(oversized_status(&w), 413, "body over 3 MiB");
    let (s, t) = post(b"{not json".to_vec());
    assert_eq!(s, 400);
    assert!(t.contains("malformed JSON"), "{t}");
    let (s, t) = post(serde_json::to_vec(&fixture("testdata/k8s/allowed/pod.yaml")).unwrap());
    assert_eq!(s, 400);
    assert!(t.contains("not an AdmissionReview"), "{t}");
    let mut old = review(
        "CREATE",
        Some(&fixture("testdata/k8s/allowed/pod.yaml")),
        None,
        false,
    );
    old["apiVersion"] = json!("admission.k8s.io/v1beta1");
    let (s, t) = post(serde_json::to_vec(&old).unwrap());
    assert_eq!(s, 400);
    assert!(
        t.contains("unsupported AdmissionReview apiVersion \\\"admission.k8s.io/v1beta1\\\""),
        "{t}"
    );
    let (s, t) = post(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec());
    assert_eq!(s, 400);
    assert!(t.contains("no request"), "{t}");
    let mut not_an_object = review(
        "CREATE",
        Some(&fixture("testdata/k8s/allowed/pod.yaml")),
        None,
        false,
    );
    not_an_object["request"]["object"] = json!("a string");
    let (s, t) = post(serde_json::to_vec(&not_an_object).unwrap());
    assert_eq!(s, 400);
    assert!(t.contains("request.object must be an object"), "{t}");
    // Still serving.
    let (status, body) = w.review(&review(
        "CREATE",
        Some(&fixture("testdata/k8s/allowed/pod.yaml")),
        None,
        false,
    ));
    assert_eq!(
        (status, response(&body)["allowed"].as_bool()),
        (200, Some(true))
    );
    assert_eq!(
        c.get(w.url("/healthz")).send().unwrap().status().as_u16(),
        200
    );
    assert_eq!(
        c.get(w.url("/readyz")).send().unwrap().status().as_u16(),
        200
    );
    let metrics = c.get(w.url("/metrics")).send().unwrap().text().unwrap();
    assert!(
        metrics.contains("policyctl_admission_requests_total{decision=\"allow\",kind=\"Pod\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("policyctl_admission_duration_seconds_count 1"),
        "{metrics}"
    );
    assert_eq!(w.terminate(), Some(0), "SIGTERM drains and exits cleanly");
}

#[test]
fn unsigned_image_denied_through_an_image_policy_and_deadline_respected() {
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg.addr);
    let key = Key::generate();
    let signed = p.image("web/app", "1", "signed");
    p.sign("web/app", &signed, &key);
    p.image("web/app", "unsigned", "unsigned");
    let dir = tempfile::tempdir().unwrap();
    let hung = oci::silent_server(Duration::from_secs(30));
    std::fs::write(
        dir.path().join("cip.yaml"),
        oci::key_policy_yaml("signed", "127.0.0.1:*/**", "enforce", &key.public_pem),
    )
    .unwrap();
    let w = Webhook::start(&[
        "-p",
        dir.path().to_str().unwrap(),
        "--insecure-registry",
        &reg.addr,
        "--insecure-registry",
        &hung,
        "--timeout",
        "30",
    ]);
    let pod = |image: String| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [{"name": "c", "image": image}]}});
    let (_, body) = w.review(&review(
        "CREATE",
        Some(&pod(reg.image("web/app", "1"))),
        None,
        false,
    ));
    assert_eq!(response(&body)["allowed"], true, "{body:#}");
    let (_, body) = w.review(&review(
        "CREATE",
        Some(&pod(reg.image("web/app", "unsigned"))),
        None,
        false,
    ));
    assert_eq!(response(&body)["allowed"], false);
    let msg = response(&body)["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains(
            "[ClusterImagePolicy/signed/image-unsigned] containers[0] (c): image 127.0.0.1:"
        ),
        "{msg}"
    );
    // A registry that never answers: the API server's 3s timeout minus the 1s margin.
    let start = Instant::now();
    let r = w
        .client()
        .post(w.url("/validate?timeout=3s"))
        .json(&review(
            "CREATE",
            Some(&pod(format!("{hung}/app:1"))),
            None,
            false,
        ))
        .send()
        .unwrap();
    let body: Value = r.json().unwrap();
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_millis(2900),
        "answered before the API server gives up: {elapsed:?}"
    );
    assert_eq!(response(&body)["allowed"], false);
    assert!(
        response(&body)["status"]["message"]
            .as_str()
            .unwrap()
            .contains("admission deadline"),
        "{body:#}"
    );
}

/// Sends headers announcing a 4 MiB body over a raw TLS connection, then reads the status line:
/// the server must refuse by Content-Length, without waiting for the body.
fn oversized_status(w: &Webhook) -> u16 {
    use std::io::Write;
    let mut tls = tls_stream(w);
    let len = 4 * 1024 * 1024;
    write!(tls, "POST /validate HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n", w.addr).unwrap();
    tls.flush().unwrap();
    read_status(&mut tls).unwrap()
}

/// For every manifest in testdata/k8s, the webhook allows exactly what `check` passes.
#[test]
fn webhook_verdicts_equal_check_verdicts() {
    let w = Webhook::start(&["-p", "builtin"]);
    let mut compared = 0;
    for dir in ["testdata/k8s/allowed", "testdata/k8s/denied"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut files: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let rel = format!("{dir}/{}", file.file_name().unwrap().to_string_lossy());
            let (_, report) = common::check_json(&["check", &rel]);
            let failing_lines: std::collections::BTreeSet<u64> = report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["severity"] == "failure")
                .map(|f| f["line"].as_u64().unwrap())
                .collect();
            // The documents exactly as policies see them, with their lines.
            let out = common::policyctl().args(["parse", &rel]).output().unwrap();
            let text = String::from_utf8(out.stdout).unwrap();
            for chunk in text.split("# ").filter(|c| !c.is_empty()) {
                let (header, json_text) = chunk.split_once('\n').unwrap();
                let line: u64 = header.rsplit(':').next().unwrap().parse().unwrap();
                let object: Value = serde_json::from_str(json_text).unwrap();
                let (_, body) = w.review(&review("CREATE", Some(&object), None, false));
                let allowed = response(&body)["allowed"].as_bool().unwrap();
                assert_eq!(
                    allowed,
                    !failing_lines.contains(&line),
                    "{rel}:{line}: webhook {body:#} vs check {report:#}"
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 25, "{compared}");
}

#[test]
fn certificate_rotation_keeps_connections_and_serves_the_new_certificate() {
    let w = Webhook::start(&["-p", "builtin"]);
    let old_client = w.client();
    let ok = |c: &reqwest::blocking::Client| {
        c.get(w.url("/healthz")).send().map(|r| r.status().as_u16())
    };
    assert_eq!(ok(&old_client).unwrap(), 200);
    // Rotate to a certificate from another CA, as cert-manager would write it.
    let new_ca = Ca::new("rotated CA");
    let (cert, key) = new_ca.server_cert();
    std::fs::write(w.dir.path().join("tls.key"), key).unwrap();
    std::fs::write(w.cert_path(), cert).unwrap();
    let new_client = client(&new_ca.pem);
    let deadline = Instant::now() + Duration::from_secs(10);
    while ok(&new_client).is_err() {
        assert!(
            Instant::now() < deadline,
            "rotated certificate never served: {}",
            w.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The kept-alive connection of the old client still works.
    assert_eq!(ok(&old_client).unwrap(), 200, "existing connection dropped");
    // New connections trusting only the old CA now fail: the new certificate is served.
    assert!(ok(&client(&w.ca.pem)).is_err());
}

#[test]
fn a_broken_policy_written_while_serving_is_refused_and_old_verdicts_continue() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.rego");
    std::fs::write(&policy, "package main\nimport rego.v1\ndeny contains \"team label required\" if not input.metadata.labels.team\n").unwrap();
    let w = Webhook::start(&["-p", dir.path().to_str().unwrap()]);
    let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"}});
    let denied = |w: &Webhook| {
        let (_, body) = w.review(&review("CREATE", Some(&obj), None, false));
        !response(&body)["allowed"].as_bool().unwrap()
    };
    assert!(denied(&w));
    std::fs::write(
        &policy,
        "package main\nimport rego.v1\ndeny contains \"x\" if {\n",
    )
    .unwrap();
    let c = w.client();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = c.get(w.url("/metrics")).send().unwrap().text().unwrap();
        if m.contains("policyctl_reloads_total{what=\"policies\",result=\"failure\"} 1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "reload failure never counted: {m}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(denied(&w), "the last good policies keep serving");
    assert!(w.log().contains("policy reload refused"), "{}", w.log());
    // A good policy is picked up.
    std::fs::write(
        &policy,
        "package main\nimport rego.v1\ndeny contains \"never\" if false\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while denied(&w) {
        assert!(Instant::now() < deadline, "good policy never loaded");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn warn_mode_image_policy_past_its_deadline_allows_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let hung = oci::silent_server(Duration::from_secs(30));
    let key = Key::generate();
    std::fs::write(
        dir.path().join("cip.yaml"),
        oci::key_policy_yaml("soft", "127.0.0.1:*/**", "warn", &key.public_pem),
    )
    .unwrap();
    let w = Webhook::start(&[
        "-p",
        dir.path().to_str().unwrap(),
        "--insecure-registry",
        &hung,
        "--timeout",
        "1",
    ]);
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [{"name": "c", "image": format!("{hung}/app:1")}]}});
    let start = Instant::now();
    let (_, body) = w.review(&review("CREATE", Some(&pod), None, false));
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(response(&body)["allowed"], true, "{body:#}");
    let warning = response(&body)["warnings"][0].as_str().unwrap();
    assert!(
        warning.contains("[ClusterImagePolicy/soft/verification-timeout]"),
        "{warning}"
    );
}

#[test]
fn a_runaway_policy_is_stopped_at_the_deadline_and_denies() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("slow.rego"),
        "package main\nimport rego.v1\ndeny contains \"never\" if {\n  input.kind == \"Pod\"\n  some i in numbers.range(1, 100000)\n  some j in numbers.range(1, 100000)\n  i + j < 0\n}\n",
    )
    .unwrap();
    let w = Webhook::start(&["-p", dir.path().to_str().unwrap()]);
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}});
    let start = Instant::now();
    let r = w
        .client()
        .post(w.url("/validate?timeout=3s"))
        .json(&review("CREATE", Some(&pod), None, false))
        .send()
        .unwrap();
    let body: Value = r.json().unwrap();
    assert!(
        start.elapsed() < Duration::from_millis(2900),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(response(&body)["allowed"], false, "fail closed: {body:#}");
    assert!(
        response(&body)["status"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeded time limit"),
        "{body:#}"
    );
    // Other requests are still answered.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}});
    let (status, body) = w.review(&review("CREATE", Some(&cm), None, false));
    assert_eq!(
        (status, response(&body)["allowed"].as_bool()),
        (200, Some(true))
    );
}

#[test]
fn the_mutating_endpoint_pins_verified_images_to_their_digest() {
    use base64::Engine as _;
    let reg = TestRegistry::start();
    let p = Pusher::new(&reg.addr);
    let key = Key::generate();
    let signed = p.image("pin/app", "1", "pinned");
    p.sign("pin/app", &signed, &key);
    p.image("pin/app", "unsigned", "not signed");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cip.yaml"),
        oci::key_policy_yaml("signed", "127.0.0.1:*/pin/**", "enforce", &key.public_pem),
    )
    .unwrap();
    let w = Webhook::start(&[
        "-p",
        dir.path().to_str().unwrap(),
        "--insecure-registry",
        &reg.addr,
    ]);
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
        "spec": {"template": {"spec": {
            "initContainers": [{"name": "init", "image": reg.image("pin/app", "unsigned")}],
            "containers": [{"name": "app", "image": reg.image("pin/app", "1")},
                           {"name": "pinned", "image": format!("{}/pin/app@{signed}", reg.addr)}]}}}});
    let (status, body) = w.post(
        "/mutate?timeout=10s",
        &review("CREATE", Some(&deployment), None, false),
    );
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(
        response(&body)["allowed"],
        true,
        "the mutating endpoint never denies"
    );
    assert_eq!(response(&body)["patchType"], "JSONPatch", "{body:#}");
    let patch: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(response(&body)["patch"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        patch,
        json!([{"op": "replace", "path": "/spec/template/spec/containers/0/image",
                "value": format!("{}/pin/app@{signed}", reg.addr)}]),
        "only the verified tag is pinned: the unsigned one is left for /validate to deny, the digest one needs nothing"
    );
    // Nothing to pin: no patch.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                     "spec": {"containers": [{"name": "c", "image": reg.image("pin/app", "unsigned")}]}});
    let (_, body) = w.post("/mutate", &review("CREATE", Some(&pod), None, false));
    assert_eq!(response(&body)["allowed"], true);
    assert!(response(&body).get("patch").is_none(), "{body:#}");
    // A bad request is a 400 here too.
    let (status, _) = w.post("/mutate", &json!({"kind": "Pod"}));
    assert_eq!(status, 400);
}

/// `enforcementAction: scoped` in the webhook: it is the `validation.gatekeeper.sh` point, so a
/// constraint that denies only there denies at admission (while `check`, gator's point, passes
/// the same object), and one that warns there returns an admission warning.
#[test]
fn scoped_enforcement_actions_at_the_validation_point() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/gatekeeper/templates/k8srequiredlabels.yaml"),
        dir.path().join("template.yaml"),
    )
    .unwrap();
    let constraint = |name: &str, kind: &str, list: &str| {
        format!("apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sRequiredLabels\nmetadata:\n  name: {name}\nspec:\n  enforcementAction: scoped\n  scopedEnforcementActions: {list}\n  match:\n    kinds: [{{apiGroups: [\"\"], kinds: [{kind}]}}]\n  parameters:\n    labels: [{{key: owner}}]\n")
    };
    std::fs::write(
        dir.path().join("constraints.yaml"),
        format!(
            "{}---\n{}",
            constraint("webhook-only", "Pod", "[{action: deny, enforcementPoints: [{name: validation.gatekeeper.sh}]}]"),
            constraint("warn-here-deny-in-ci", "ConfigMap", "[{action: warn, enforcementPoints: [{name: validation.gatekeeper.sh}]}, {action: deny, enforcementPoints: [{name: gator.gatekeeper.sh}]}]"),
        ),
    )
    .unwrap();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "d"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"}});
    let w = Webhook::start(&["-p", dir.path().to_str().unwrap()]);
    let (_, body) = w.review(&review("CREATE", Some(&pod), None, false));
    assert_eq!(response(&body)["allowed"], false, "{body:#}");
    assert!(
        body.to_string().contains("K8sRequiredLabels/webhook-only"),
        "{body:#}"
    );
    let (_, body) = w.review(&review("CREATE", Some(&cm), None, false));
    assert_eq!(response(&body)["allowed"], true, "{body:#}");
    assert!(
        body.to_string()
            .contains("K8sRequiredLabels/warn-here-deny-in-ci"),
        "a warning: {body:#}"
    );
    // Gatekeeper's metric names and labels, beside policyctl's.
    let m = w.metrics();
    for line in [
        "gatekeeper_validation_request_count_total{admission_status=\"deny\",admission_dryrun=\"false\"} 1",
        "gatekeeper_validation_request_count_total{admission_status=\"allow\",admission_dryrun=\"false\"} 1",
        "gatekeeper_validation_request_duration_seconds_count{admission_status=\"deny\",admission_dryrun=\"false\"} 1",
        "gatekeeper_constraints{enforcement_action=\"scoped\",status=\"active\"} 2",
        "gatekeeper_constraint_templates{status=\"active\"} 1",
        "# TYPE gatekeeper_validation_request_count counter",
        "policyctl_admission_requests_total{decision=\"deny\",kind=\"Pod\"} 1",
        "policyctl_constraint_violations_total{enforcement_action=\"deny\"} 1",
        "policyctl_constraint_violations_total{enforcement_action=\"warn\"} 1",
    ] {
        assert!(m.contains(line), "{line} in:\n{m}");
    }
    // The same objects in CI (gator's point): the Pod passes, the ConfigMap fails.
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("pod.json"), pod.to_string()).unwrap();
    std::fs::write(files.path().join("cm.json"), cm.to_string()).unwrap();
    let (code, report) = common::check_json(&[
        "check",
        "-p",
        dir.path().to_str().unwrap(),
        files.path().to_str().unwrap(),
    ]);
    let policies: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["policy"].as_str().unwrap())
        .collect();
    assert_eq!(
        policies,
        vec!["K8sRequiredLabels/warn-here-deny-in-ci"],
        "{report:#}"
    );
    assert_eq!(code, 1);
}
