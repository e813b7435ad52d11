//! charts/policyctl (issue 12, item 5). No Helm binary can be installed on the CI machine (not in
//! Debian's archive, none on PyPI or npm), so the chart is written in a small subset of Helm's
//! template language — `.Values`/`.Release`/`.Chart` fields, `include` of `define`d helpers,
//! `toYaml`, `nindent`/`indent`/`quote`, `if`/`else`/`end` with `not` — and this test renders it
//! with a renderer for exactly that subset (trim markers as Go's text/template applies them).
//! Any other construct in the chart fails the test, so the subset cannot drift. The rendered
//! objects must equal admission/'s (the kustomize deployment) with the default values, and
//! pass `policyctl check` with the built-in library.

mod common;
use serde_yaml::Value;
use std::collections::BTreeMap;

const CHART: &str = "charts/policyctl";

#[derive(Debug)]
enum Node {
    Text(String),
    Action(String),
    If(String, Vec<Node>, Vec<Node>),
}

/// Go's text/template tokens: (is_action, text), trim markers applied.
fn tokens(src: &str) -> Vec<(bool, String)> {
    let mut out: Vec<(bool, String)> = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        let mut text = &rest[..open];
        if trim_next {
            text = text.trim_start();
        }
        let mut after = &rest[open + 2..];
        if let Some(a) = after.strip_prefix("- ") {
            after = a;
            text = text.trim_end();
        }
        out.push((false, text.to_string()));
        let close = after.find("}}").expect("unclosed action");
        let mut action = &after[..close];
        trim_next = false;
        if let Some(a) = action.strip_suffix(" -") {
            action = a;
            trim_next = true;
        }
        out.push((true, action.trim().to_string()));
        rest = &after[close + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    out.push((false, text.to_string()));
    out
}

/// Nodes up to `end`/`else` (returned as the stop word).
fn parse(
    toks: &[(bool, String)],
    pos: &mut usize,
    defines: &mut BTreeMap<String, Vec<Node>>,
) -> (Vec<Node>, String) {
    let mut nodes = Vec::new();
    while *pos < toks.len() {
        let (is_action, text) = &toks[*pos];
        *pos += 1;
        if !is_action {
            if !text.is_empty() {
                nodes.push(Node::Text(text.clone()));
            }
            continue;
        }
        if text.starts_with("/*") {
            continue;
        }
        if text == "end" || text == "else" {
            return (nodes, text.clone());
        }
        if let Some(cond) = text.strip_prefix("if ") {
            let (then, stop) = parse(toks, pos, defines);
            let otherwise = if stop == "else" {
                parse(toks, pos, defines).0
            } else {
                Vec::new()
            };
            nodes.push(Node::If(cond.to_string(), then, otherwise));
        } else if let Some(name) = text.strip_prefix("define ") {
            let (body, _) = parse(toks, pos, defines);
            defines.insert(name.trim_matches('"').to_string(), body);
        } else {
            nodes.push(Node::Action(text.clone()));
        }
    }
    (nodes, String::new())
}

struct Ctx {
    values: Value,
    release: (String, String),
    app_version: String,
    defines: BTreeMap<String, Vec<Node>>,
}

impl Ctx {
    fn field(&self, path: &str) -> Value {
        match path {
            ".Release.Name" => Value::from(self.release.0.clone()),
            ".Release.Namespace" => Value::from(self.release.1.clone()),
            ".Chart.AppVersion" => Value::from(self.app_version.clone()),
            _ => {
                let rest = path
                    .strip_prefix(".Values.")
                    .unwrap_or_else(|| panic!("unsupported operand {path}"));
                rest.split('.').fold(self.values.clone(), |v, k| {
                    v.get(k).cloned().unwrap_or(Value::Null)
                })
            }
        }
    }

    fn eval(&self, expr: &str) -> Value {
        let mut stages = expr.split(" | ");
        let first = stages.next().unwrap().trim();
        let mut v = if let Some(rest) = first.strip_prefix("include ") {
            let name = rest.trim_end_matches(" .").trim_matches('"');
            Value::from(
                self.render(
                    self.defines
                        .get(name)
                        .unwrap_or_else(|| panic!("no define {name}")),
                ),
            )
        } else if let Some(rest) = first.strip_prefix("toYaml ") {
            let v = self.field(rest.trim());
            Value::from(
                serde_yaml::to_string(&v)
                    .unwrap()
                    .trim_end_matches('\n')
                    .to_string(),
            )
        } else if let Some(rest) = first.strip_prefix("not ") {
            Value::from(!truth(&self.eval(rest)))
        } else if first.starts_with('.') {
            self.field(first)
        } else {
            panic!("unsupported command {first:?}")
        };
        for stage in stages {
            let mut words = stage.split_whitespace();
            let s = text(&v);
            v = Value::from(match (words.next(), words.next()) {
                (Some("nindent"), Some(n)) => format!("\n{}", indent(&s, n.parse().unwrap())),
                (Some("indent"), Some(n)) => indent(&s, n.parse().unwrap()),
                (Some("quote"), None) => format!("{s:?}"),
                other => panic!("unsupported function {other:?}"),
            });
        }
        v
    }

    fn render(&self, nodes: &[Node]) -> String {
        let mut out = String::new();
        for n in nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action(a) => out.push_str(&text(&self.eval(a))),
                Node::If(c, then, otherwise) => {
                    out.push_str(&self.render(if truth(&self.eval(c)) {
                        then
                    } else {
                        otherwise
                    }));
                }
            }
        }
        out
    }
}

fn truth(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::Sequence(s) => !s.is_empty(),
        Value::Mapping(m) => !m.is_empty(),
        Value::Tagged(_) => true,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => serde_yaml::to_string(other).unwrap(),
    }
}

fn indent(s: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    s.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Renders every template with `overrides` merged over values.yaml: the objects, in file order.
fn render_chart(release: &str, namespace: &str, overrides: &[(&str, Value)]) -> Vec<Value> {
    let mut values: Value =
        serde_yaml::from_str(&std::fs::read_to_string(format!("{CHART}/values.yaml")).unwrap())
            .unwrap();
    for (path, v) in overrides {
        let mut slot = &mut values;
        for k in path.split('.') {
            slot = slot.get_mut(k).unwrap_or_else(|| panic!("no value {path}"));
        }
        *slot = v.clone();
    }
    let chart: Value =
        serde_yaml::from_str(&std::fs::read_to_string(format!("{CHART}/Chart.yaml")).unwrap())
            .unwrap();
    let mut defines = BTreeMap::new();
    let helpers = std::fs::read_to_string(format!("{CHART}/templates/_helpers.tpl")).unwrap();
    parse(&tokens(&helpers), &mut 0, &mut defines);
    let ctx = Ctx {
        values,
        release: (release.into(), namespace.into()),
        app_version: chart["appVersion"].as_str().unwrap().into(),
        defines,
    };
    let mut files: Vec<_> = std::fs::read_dir(format!("{CHART}/templates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut objects = Vec::new();
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap();
        let (nodes, _) = parse(&tokens(&src), &mut 0, &mut BTreeMap::new());
        let rendered = ctx.render(&nodes);
        for doc in serde_yaml::Deserializer::from_str(&rendered) {
            let v = Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: {e}\n{rendered}", f.display()));
            if !v.is_null() {
                objects.push(v);
            }
        }
    }
    objects
}

use serde::Deserialize;

fn key(v: &Value) -> (String, String) {
    (
        v["kind"].as_str().unwrap().to_string(),
        v["metadata"]["name"].as_str().unwrap().to_string(),
    )
}

/// admission/'s objects (the kustomize deployment), namespace set as kustomize sets it.
fn admission() -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir("admission").unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|e| e != "yaml") || p.ends_with("kustomization.yaml") {
            continue;
        }
        for doc in serde_yaml::Deserializer::from_str(&std::fs::read_to_string(&p).unwrap()) {
            let v = Value::deserialize(doc).unwrap();
            if v.is_null() || v["kind"] == "Namespace" {
                continue;
            }
            out.insert(key(&v), v);
        }
    }
    out
}

#[test]
fn default_values_render_admissions_objects() {
    let chart: BTreeMap<_, _> = render_chart("policyctl", "policyctl-system", &[])
        .into_iter()
        .map(|v| (key(&v), v))
        .collect();
    let expected = admission();
    assert_eq!(
        chart.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (k, want) in &expected {
        let got = &chart[k];
        // kustomize sets the image tag from its `images:`; the rest is compared whole.
        assert_eq!(
            got,
            want,
            "{k:?} differs from admission/:\n{}",
            serde_yaml::to_string(got).unwrap()
        );
    }
}

#[test]
fn a_provided_secret_replaces_cert_manager() {
    let objects = render_chart(
        "guard",
        "platform",
        &[
            ("tls.certManager", Value::from(false)),
            ("tls.secretName", Value::from("guard-tls")),
            ("tls.caBundle", Value::from("Q0EgUEVN")),
            ("webhook.mutating", Value::from(false)),
            ("autoscaling.enabled", Value::from(false)),
        ],
    );
    let kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert!(
        !kinds.contains(&"Certificate") && !kinds.contains(&"Issuer"),
        "{kinds:?}"
    );
    assert!(
        !kinds.contains(&"MutatingWebhookConfiguration")
            && !kinds.contains(&"HorizontalPodAutoscaler"),
        "{kinds:?}"
    );
    let webhook = objects
        .iter()
        .find(|o| o["kind"] == "ValidatingWebhookConfiguration")
        .unwrap();
    assert_eq!(
        webhook["webhooks"][0]["clientConfig"]["caBundle"],
        "Q0EgUEVN"
    );
    assert_eq!(
        webhook["webhooks"][0]["clientConfig"]["service"]["namespace"],
        "platform"
    );
    assert!(
        webhook["metadata"].get("annotations").is_none(),
        "{webhook:?}"
    );
    let excluded = &webhook["webhooks"][0]["namespaceSelector"]["matchExpressions"][0]["values"];
    assert_eq!(
        excluded,
        &serde_yaml::from_str::<Value>("[kube-system, platform]").unwrap()
    );
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    let volumes = deployment["spec"]["template"]["spec"]["volumes"]
        .as_sequence()
        .unwrap();
    assert!(
        volumes
            .iter()
            .any(|v| v["secret"]["secretName"] == "guard-tls"),
        "{volumes:?}"
    );
}

#[test]
fn the_rendered_chart_passes_policyctl_check() {
    let dir = tempfile::tempdir().unwrap();
    let yaml: String = render_chart("policyctl", "policyctl-system", &[])
        .iter()
        .map(|o| format!("---\n{}", serde_yaml::to_string(o).unwrap()))
        .collect();
    let path = dir.path().join("chart.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = common::policyctl()
        .args([
            "check",
            "-p",
            "builtin",
            "--color",
            "never",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
