//! Policy discovery and loading: `.rego` files (v0 or v1, detected per file), the embedded
//! built-in library, and data documents, compiled into one prepared regorus engine plus an index
//! of the rules each package declares. This module owns "which rules exist and what they mean"
//! (conftest's naming conventions); it must not evaluate inputs.

pub mod annotations;
pub mod gatekeeper;
mod rules;
pub use crate::strict;

pub use rules::{classify, exception_name, RuleKind};

use crate::finding::ToolError;
pub(crate) use crate::rego::prepare_rule;
pub use crate::rego::{add_source, new_engine, rego_error, RegoVersion, Source};
use include_dir::{include_dir, Dir};
use regorus::Engine;
use std::path::{Path, PathBuf};

/// The built-in policy library, compiled into the binary.
pub static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/policies");

/// The name that selects the built-in library in `-p`.
pub const BUILTIN_NAME: &str = "builtin";

/// YAML/JSON files in policy directories are read only when they look like policy documents
/// (Gatekeeper templates and constraints, sigstore image policies), so a conftest policy
/// directory holding other YAML keeps working.
fn is_policy_manifest(text: &str) -> bool {
    text.contains("gatekeeper.sh/") || text.contains("policy.sigstore.dev/")
}

/// A rule conftest conventions make meaningful (`deny*`, `violation*`, `warn*`).
#[derive(Debug, Clone)]
pub struct RuleRef {
    pub name: String,
    pub kind: RuleKind,
    /// `data.<package>.<name>`, ready for `eval_rule`.
    pub path: String,
}

/// A Rego package and the rules it declares across all its files.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub builtin: bool,
    pub rules: Vec<RuleRef>,
    /// `data.<package>.exception` exists.
    pub has_exception: bool,
    /// Any `test_*` / `todo_test_*` rules with their file and line (for `policyctl test`).
    pub tests: Vec<(String, String, usize)>,
}

/// Loaded, compiled and prepared policies. Clone `engine` per task: it is already prepared.
#[derive(Clone)]
pub struct PolicySet {
    pub engine: Engine,
    pub packages: Vec<Package>,
    /// Some policy reads `data.conftest.*`, so per-file data must be injected (slower path).
    pub uses_conftest_data: bool,
    pub sources: Vec<Source>,
    /// Gatekeeper templates and constraints from `-p`.
    pub gatekeeper: gatekeeper::Gatekeeper,
    /// sigstore ClusterImagePolicies from `-p`.
    pub image_policies: Vec<crate::supply::policy::ImagePolicy>,
    /// sigstore TrustRoots from `-p` (offline keys for keyless verification).
    pub trust_roots: Vec<crate::supply::keyless::TrustRoot>,
}

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-p` values; empty means the built-in library.
    pub policy_paths: Vec<String>,
    pub data_paths: Vec<PathBuf>,
    pub rego_version: Option<RegoVersion>,
    /// Load `_test.rego` files too (for `policyctl test`).
    pub include_tests: bool,
    /// Policy sets already fetched from `-p oci://…` and bundle locations (`remote::fetch`).
    pub remote: Vec<crate::remote::RemoteSet>,
    /// Some `-p` named a remote set: never fall back to the built-in library, even when every
    /// remote set failed to fetch.
    pub remote_requested: bool,
    /// Which engine runs Gatekeeper templates that carry both Rego and CEL.
    pub gatekeeper_engine: gatekeeper::TemplateEngine,
}

/// Reads every policy source named by `-p` (or the built-in library when there is none).
pub fn discover(opts: &LoadOptions) -> (Vec<Source>, Vec<ToolError>) {
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    for set in &opts.remote {
        remote_sources(set, opts.include_tests, &mut sources, &mut errors);
    }
    let defaults = [BUILTIN_NAME.to_string()];
    let paths = if opts.policy_paths.is_empty() && opts.remote.is_empty() && !opts.remote_requested
    {
        &defaults[..]
    } else {
        &opts.policy_paths[..]
    };
    for p in paths {
        if p == BUILTIN_NAME {
            builtin_sources(&BUILTIN, opts.include_tests, &mut sources);
            continue;
        }
        let path = Path::new(p);
        if !path.exists() {
            errors.push(ToolError::new(
                p.as_str(),
                0,
                format!("policy path not found (use -p {BUILTIN_NAME} for the built-in library)"),
            ));
            continue;
        }
        for entry in walkdir::WalkDir::new(path)
            // ConfigMap volumes are symlinks into a hidden `..data` directory.
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()))
        {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    errors.push(ToolError::new(
                        p.as_str(),
                        0,
                        format!("cannot read policy directory: {e}"),
                    ));
                    continue;
                }
            };
            let fp = entry.path();
            let ext = fp.extension().and_then(|x| x.to_str()).unwrap_or("");
            if !entry.file_type().is_file() || !matches!(ext, "rego" | "yaml" | "yml" | "json") {
                continue;
            }
            let display = fp.to_string_lossy().into_owned();
            if !opts.include_tests && display.ends_with("_test.rego") {
                continue;
            }
            match std::fs::read(fp) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) if ext != "rego" && !is_policy_manifest(&text) => {}
                    Ok(text) => sources.push(Source {
                        path: display,
                        text,
                        builtin: false,
                    }),
                    Err(_) => errors.push(ToolError::new(display, 0, "policy is not valid UTF-8")),
                },
                Err(e) => errors.push(ToolError::new(
                    display,
                    0,
                    format!("cannot read policy: {e}"),
                )),
            }
        }
    }
    (sources, errors)
}

/// The policies and policy documents of a fetched set, named `LOCATION/PATH`.
fn remote_sources(
    set: &crate::remote::RemoteSet,
    include_tests: bool,
    sources: &mut Vec<Source>,
    errors: &mut Vec<ToolError>,
) {
    use crate::remote::Role;
    for f in &set.files {
        let name = set.file_name(&f.path);
        if f.role == Role::Raw || (!include_tests && f.path.ends_with("_test.rego")) {
            continue;
        }
        let Ok(text) = std::str::from_utf8(&f.bytes) else {
            errors.push(ToolError::new(name, 0, "policy is not valid UTF-8"));
            continue;
        };
        if f.role == Role::Data && !is_policy_manifest(text) {
            continue; // data: merged by load_remote_data
        }
        sources.push(Source {
            path: name,
            text: text.to_string(),
            builtin: false,
        });
    }
}

/// A fetched set's data: conftest-style data layers merged at the root (as `-d` merges a file),
/// OPA bundle data at its directory's path.
fn load_remote_data(
    engine: &mut Engine,
    sets: &[crate::remote::RemoteSet],
    errors: &mut Vec<ToolError>,
) {
    use crate::remote::Role;
    for set in sets {
        for f in &set.files {
            let Ok(text) = std::str::from_utf8(&f.bytes) else {
                continue;
            };
            if f.role != Role::Data || is_policy_manifest(text) {
                continue;
            }
            let name = set.file_name(&f.path);
            let parser = if f.path.ends_with(".json") {
                crate::input::Parser::Json
            } else {
                crate::input::Parser::Yaml
            };
            match crate::input::parse(&name, text, parser) {
                Ok(docs) => {
                    for doc in docs {
                        if let Err(e) = engine.add_data(regorus::Value::from(doc.contents)) {
                            errors.push(ToolError::new(
                                name.as_str(),
                                doc.line,
                                format!("cannot merge data: {e}"),
                            ));
                        }
                    }
                }
                Err(e) => errors.push(ToolError::new(name.as_str(), e.line, e.message)),
            }
        }
        for (name, value) in &set.data {
            if let Err(e) = engine.add_data(regorus::Value::from(value.clone())) {
                errors.push(ToolError::new(
                    name.as_str(),
                    0,
                    format!("cannot merge data: {e}"),
                ));
            }
        }
    }
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

fn builtin_sources(dir: &Dir<'static>, include_tests: bool, out: &mut Vec<Source>) {
    let mut files: Vec<_> = dir.files().collect();
    files.sort_by_key(|f| f.path());
    for f in files {
        let path = f.path().to_string_lossy();
        let is_rego = path.ends_with(".rego");
        if !is_rego || (!include_tests && path.ends_with("_test.rego")) {
            continue;
        }
        if let Some(text) = f.contents_utf8() {
            out.push(Source {
                path: format!("{BUILTIN_NAME}:/{path}"),
                text: text.to_string(),
                builtin: true,
            });
        }
    }
    let mut dirs: Vec<_> = dir.dirs().collect();
    dirs.sort_by_key(|d| d.path());
    for d in dirs {
        builtin_sources(d, include_tests, out);
    }
}

/// Reads `-d` data files (JSON or YAML; directories recursively) into one merged document.
fn load_data(engine: &mut Engine, paths: &[PathBuf], errors: &mut Vec<ToolError>) {
    for root in paths {
        if !root.exists() {
            errors.push(ToolError::new(
                root.to_string_lossy(),
                0,
                "data path not found",
            ));
            continue;
        }
        for entry in walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .flatten()
        {
            let p = entry.path();
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !entry.file_type().is_file() || !matches!(ext, "json" | "yaml" | "yml") {
                continue;
            }
            let display = p.to_string_lossy().into_owned();
            let parsed = std::fs::read(p)
                .map_err(|e| {
                    crate::input::ParseError::new(0, format!("cannot read data file: {e}"))
                })
                .and_then(|b| crate::input::decode(&b).map(str::to_string))
                .and_then(|text| {
                    let parser = if ext == "json" {
                        crate::input::Parser::Json
                    } else {
                        crate::input::Parser::Yaml
                    };
                    crate::input::parse(&display, &text, parser)
                });
            match parsed {
                Ok(docs) => {
                    for doc in docs {
                        if let Err(e) = engine.add_data(regorus::Value::from(doc.contents)) {
                            errors.push(ToolError::new(
                                display.as_str(),
                                doc.line,
                                format!("cannot merge data: {e}"),
                            ));
                        }
                    }
                }
                Err(e) => errors.push(ToolError::new(display.as_str(), e.line, e.message)),
            }
        }
    }
}

/// Compiles sources and data into a prepared [`PolicySet`]. Broken files are reported and left
/// out; everything else still loads, so one bad policy does not hide the others' findings.
pub fn load(sources: Vec<Source>, opts: &LoadOptions) -> (PolicySet, Vec<ToolError>) {
    let (sources, manifests): (Vec<Source>, Vec<Source>) =
        sources.into_iter().partition(Source::is_rego);
    let (gatekeeper, (image_policies, trust_roots), mut errors) = load_manifests(&manifests);
    let gatekeeper = gatekeeper::Gatekeeper {
        engine: opts.gatekeeper_engine,
        ..gatekeeper
    };
    let (mut set, rego_errors) = load_rego(sources, opts);
    errors.extend(rego_errors);
    set.gatekeeper = gatekeeper;
    set.image_policies = image_policies;
    set.trust_roots = trust_roots;
    set.sources.extend(manifests);
    (set, errors)
}

/// Reads Gatekeeper templates and constraints, and sigstore image policies, from policy
/// manifests (YAML/JSON).
type ImagePolicies = (
    Vec<crate::supply::policy::ImagePolicy>,
    Vec<crate::supply::keyless::TrustRoot>,
);

fn load_manifests(manifests: &[Source]) -> (gatekeeper::Gatekeeper, ImagePolicies, Vec<ToolError>) {
    use crate::supply::policy as image_policy;
    let mut images = Vec::new();
    let mut roots = Vec::new();
    let mut gk = gatekeeper::Gatekeeper::default();
    let mut errors = Vec::new();
    for m in manifests {
        let parser = if m.path.ends_with(".json") {
            crate::input::Parser::Json
        } else {
            crate::input::Parser::Yaml
        };
        let docs = match crate::input::parse(&m.path, &m.text, parser) {
            Ok(d) => d,
            Err(e) => {
                errors.push(ToolError::new(m.path.as_str(), e.line, e.message));
                continue;
            }
        };
        for doc in docs {
            if gatekeeper::is_template(&doc.contents) {
                match gatekeeper::template(&doc.contents, &m.path, &m.text, doc.line, None) {
                    Ok(t) => {
                        if let Some(prev) = gk.templates.get(&t.kind) {
                            errors.push(ToolError::new(
                                m.path.as_str(),
                                doc.line,
                                format!(
                                    "ConstraintTemplate {} defines kind {} again (first in {})",
                                    t.name, t.kind, prev.file
                                ),
                            ));
                        } else {
                            gk.templates.insert(t.kind.clone(), t);
                        }
                    }
                    Err(e) => errors.push(e),
                }
            } else if gatekeeper::is_constraint(&doc.contents) {
                match gatekeeper::constraint(&doc.contents, &m.path, &m.text, doc.line) {
                    Ok(c) => gk.constraints.push(c),
                    Err(e) => errors.push(e),
                }
            } else if gatekeeper::is_expansion(&doc.contents) {
                match gatekeeper::expansion(&doc.contents, &m.path, &m.text, doc.line) {
                    Ok(e) => gk.expansions.push(e),
                    Err(e) => errors.push(e),
                }
            } else if image_policy::is_image_policy(&doc.contents) {
                match image_policy::image_policy(&doc.contents, &m.path, &m.text, doc.line) {
                    Ok(p) => images.push(p),
                    Err(e) => errors.push(e),
                }
            } else if image_policy::is_trust_root(&doc.contents) {
                match crate::supply::keyless::trust_root(&doc.contents, &m.path, &m.text, doc.line)
                {
                    Ok(r) => roots.push(r),
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    errors.extend(gk.orphans());
    let known: std::collections::BTreeSet<String> = gk.templates.keys().cloned().collect();
    gk.constraints.retain(|c| known.contains(&c.kind));
    // Parameters against the template's schema, as the API server checks a constraint.
    let texts: std::collections::BTreeMap<&str, &str> = manifests
        .iter()
        .map(|m| (m.path.as_str(), m.text.as_str()))
        .collect();
    let templates = &gk.templates;
    gk.constraints.retain(|c| {
        let Some(t) = templates.get(&c.kind) else {
            return false;
        };
        let problems = t.check_parameters(&c.parameters);
        for (field, problem) in &problems {
            let text = texts.get(c.file.as_str()).copied().unwrap_or("");
            let line = strict::locate(text, c.line, &strict::path(field));
            errors.push(ToolError::new(
                c.file.as_str(),
                line,
                format!(
                    "{}/{}: {field}: {problem} (ConstraintTemplate {} openAPIV3Schema; the API server would reject this constraint)",
                    c.kind, c.name, t.name
                ),
            ));
        }
        problems.is_empty()
    });
    (gk, (images, roots), errors)
}

fn load_rego(sources: Vec<Source>, opts: &LoadOptions) -> (PolicySet, Vec<ToolError>) {
    let mut errors = Vec::new();
    let mut excluded: Vec<String> = Vec::new();
    // Each pass either prepares cleanly or removes the one file its error names; bounded by the
    // number of files.
    for _ in 0..=sources.len() {
        let mut engine = new_engine();
        let mut kept = Vec::new();
        for src in &sources {
            if excluded.contains(&src.path) {
                continue;
            }
            match add_source(&mut engine, src, opts.rego_version) {
                Ok(()) => kept.push(src.clone()),
                Err(e) => {
                    excluded.push(src.path.clone());
                    errors.push(e);
                }
            }
        }
        let problematic = rules::if_without_contains(&mut engine);
        if !problematic.is_empty() {
            for (file, line, rule) in problematic {
                if !excluded.contains(&file) {
                    excluded.push(file.clone());
                }
                errors.push(ToolError::new(
                    file,
                    line,
                    format!(
                        "rule is using 'if' keyword without 'contains' keyword: under rego.v1 `{rule}[x] if {{ … }}` \
                         defines an object, not the set of messages conftest reads; write `{rule} contains x if {{ … }}`"
                    ),
                ));
            }
            continue;
        }
        let mut data_errors = Vec::new();
        load_data(&mut engine, &opts.data_paths, &mut data_errors);
        load_remote_data(&mut engine, &opts.remote, &mut data_errors);
        let packages = rules::index(&mut engine, &kept);
        match prepare(&mut engine, &packages) {
            Ok(()) => {
                errors.extend(data_errors);
                let uses_conftest_data = kept.iter().any(|s| s.text.contains("data.conftest"));
                let set = PolicySet {
                    engine,
                    packages,
                    uses_conftest_data,
                    sources: kept,
                    gatekeeper: Default::default(),
                    image_policies: Vec::new(),
                    trust_roots: Vec::new(),
                };
                return (set, errors);
            }
            Err(msg) => {
                let err = rego_error("", &msg);
                match kept.iter().find(|s| s.path == err.file) {
                    Some(bad) => {
                        excluded.push(bad.path.clone());
                        errors.push(err);
                    }
                    None => {
                        errors.push(ToolError::new(
                            err.file,
                            err.line,
                            format!("cannot compile policies: {}", err.message),
                        ));
                        errors.extend(data_errors);
                        let set = PolicySet {
                            engine: new_engine(),
                            packages: Vec::new(),
                            uses_conftest_data: false,
                            sources: Vec::new(),
                            gatekeeper: Default::default(),
                            image_policies: Vec::new(),
                            trust_roots: Vec::new(),
                        };
                        return (set, errors);
                    }
                }
            }
        }
    }
    unreachable!("the loop removes one source per failed pass")
}

/// Runs regorus's lazy preparation once, so clones of this engine start prepared (otherwise
/// every clone redoes the analysis: ~3x slower per evaluation). Compile errors (unsafe
/// variables, unknown functions, conflicting rules) surface here, with a position.
fn prepare(engine: &mut Engine, packages: &[Package]) -> Result<(), String> {
    let first = packages.iter().find_map(|p| {
        p.rules
            .first()
            .map(|r| r.path.clone())
            .or_else(|| p.tests.first().map(|t| format!("data.{}.{}", p.name, t.0)))
    });
    match first {
        Some(path) => prepare_rule(engine, &path),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(path: &str, text: &str) -> Source {
        Source {
            path: path.into(),
            text: text.into(),
            builtin: false,
        }
    }

    #[test]
    fn v0_and_v1_side_by_side() {
        let sources = vec![
            src(
                "v0.rego",
                "package main\ndeny[msg] { input.a; msg := \"a\" }\n",
            ),
            src(
                "v1.rego",
                "package main\ndeny_b contains msg if { input.b; msg := \"b\" }\n",
            ),
        ];
        let (set, errors) = load(sources, &LoadOptions::default());
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<_> = set.packages[0]
            .rules
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, vec!["deny", "deny_b"]);
    }

    #[test]
    fn syntax_error_names_file_line_and_others_still_load() {
        let sources = vec![
            src(
                "bad.rego",
                "package main\n\ndeny contains msg if {\n  msg := \n}\n",
            ),
            src(
                "good.rego",
                "package main\nwarn contains \"w\" if { input.a }\n",
            ),
        ];
        let (set, errors) = load(sources, &LoadOptions::default());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].file, "bad.rego");
        assert!(errors[0].line >= 4, "{:?}", errors[0]);
        assert_eq!(set.packages[0].rules[0].name, "warn");
    }

    #[test]
    fn http_send_is_refused() {
        let sources = vec![src(
            "h.rego",
            "package main\ndeny contains \"x\" if {\n  http.send({\"url\": \"u\"})\n}\n",
        )];
        let (_, errors) = load(sources, &LoadOptions::default());
        assert_eq!((errors[0].file.as_str(), errors[0].line), ("h.rego", 3));
    }

    #[test]
    fn builtin_library_loads_cleanly() {
        let (sources, errs) = discover(&LoadOptions::default());
        assert!(errs.is_empty());
        let (set, errors) = load(sources, &LoadOptions::default());
        assert!(errors.is_empty(), "{errors:?}");
        assert!(set.packages.iter().filter(|p| !p.rules.is_empty()).count() >= 21);
    }
}
