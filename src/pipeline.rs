//! The check pipeline: find input files, parse and evaluate them in parallel (one prepared engine,
//! cloned per task), and fold the per-file outcomes into one [`Decision`]. Files are read and
//! dropped one at a time per worker, so memory is bounded by findings, not by the corpus.

use crate::eval::{Evaluator, Outcome};
use crate::finding::{Decision, ToolError};
use crate::input::{self, Document, Limits, Parser};
use rayon::prelude::*;
use regex::Regex;
use std::io::Read;
use std::path::Path;

/// What `check` reads and how.
#[derive(Debug, Clone, Default)]
pub struct InputOptions {
    /// Files, directories, or `-` for stdin.
    pub paths: Vec<String>,
    /// Forces one parser for every file.
    pub parser: Option<Parser>,
    /// Paths matching this are skipped in directory walks and explicit lists.
    pub ignore: Option<Regex>,
    /// Evaluate all documents as one `[{path, contents}]` input.
    pub combine: bool,
    pub limits: Limits,
}

/// An input file to parse, with the parser chosen for it.
#[derive(Debug, Clone)]
struct Target {
    path: String,
    parser: Parser,
    /// The parser was chosen for the user, not forced with `--parser`.
    detected: bool,
}

/// Expands the input arguments into files. Unknown or missing paths become errors.
fn targets(opts: &InputOptions, errors: &mut Vec<ToolError>) -> Vec<Target> {
    let mut out = Vec::new();
    let ignored = |p: &str| opts.ignore.as_ref().is_some_and(|re| re.is_match(p));
    for arg in &opts.paths {
        if arg == "-" {
            out.push(Target {
                path: "-".into(),
                parser: opts.parser.unwrap_or(Parser::Yaml),
                detected: opts.parser.is_none(),
            });
            continue;
        }
        let path = Path::new(arg);
        if path.is_dir() {
            let walker = walkdir::WalkDir::new(path)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| e.file_name() != ".git");
            for entry in walker {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        errors.push(ToolError::new(
                            arg.as_str(),
                            0,
                            format!("cannot read directory: {e}"),
                        ));
                        continue;
                    }
                };
                if !entry.file_type().is_file() {
                    continue;
                }
                let display = entry.path().to_string_lossy().into_owned();
                if ignored(&display) {
                    continue;
                }
                if let Some(parser) = opts.parser.or_else(|| Parser::detect(entry.path())) {
                    out.push(Target {
                        path: display,
                        parser,
                        detected: opts.parser.is_none(),
                    });
                }
            }
        } else if path.exists() {
            if ignored(arg) {
                continue;
            }
            match opts.parser.or_else(|| Parser::detect(path)) {
                Some(parser) => out.push(Target {
                    path: arg.clone(),
                    parser,
                    detected: opts.parser.is_none(),
                }),
                None => errors.push(ToolError::new(
                    arg.as_str(),
                    0,
                    "cannot tell which parser to use from the file name; pass --parser (see `policyctl check --help`)",
                )),
            }
        } else {
            errors.push(ToolError::new(arg.as_str(), 0, "no such file or directory"));
        }
    }
    out
}

fn read(target: &Target, limits: &Limits) -> Result<String, ToolError> {
    let err = |line, msg: String| ToolError::new(target.path.as_str(), line, msg);
    let mut bytes = Vec::new();
    let cap = limits.max_file_bytes;
    let too_big = || {
        err(0, format!(
            "file is larger than the {} MiB input limit; raise it with --max-file-size or exclude the file with --ignore",
            cap / (1024 * 1024)
        ))
    };
    if target.path == "-" {
        std::io::stdin()
            .take(cap + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| err(0, format!("cannot read standard input: {e}")))?;
    } else {
        // One open, an fstat on it, and a buffer of the file's size: no path lookup twice and
        // no growing reads (measurable over thousands of small manifests).
        let cannot = |e: std::io::Error| err(0, format!("cannot read file: {e}"));
        let file = std::fs::File::open(&target.path).map_err(cannot)?;
        let len = file.metadata().map_err(cannot)?.len();
        if len > cap {
            return Err(too_big());
        }
        bytes.reserve_exact(usize::try_from(len).unwrap_or(0).saturating_add(1));
        file.take(cap + 1).read_to_end(&mut bytes).map_err(cannot)?;
    }
    if bytes.len() as u64 > cap {
        return Err(too_big());
    }
    input::decode(&bytes).map_err(|e| err(e.line, e.message))?;
    // decode() checked UTF-8 already; this conversion cannot fail.
    String::from_utf8(bytes).map_err(|_| err(0, "invalid UTF-8".into()))
}

fn load_documents(target: &Target, limits: &Limits) -> Result<Vec<Document>, ToolError> {
    let text = read(target, limits)?;
    input::parse(&target.path, &text, target.parser)
        .map_err(|e| ToolError::new(target.path.as_str(), e.line, e.message))
}

#[derive(Default)]
struct FileOutcome {
    resources: usize,
    outcome: Outcome,
    notices: Vec<String>,
}

fn check_file(evaluator: &Evaluator, target: &Target, limits: &Limits) -> FileOutcome {
    let mut out = FileOutcome::default();
    let docs = match load_documents(target, limits) {
        Ok(d) => d,
        Err(e) => {
            out.outcome.errors.push(e);
            return out;
        }
    };
    let docs = if docs.is_empty() {
        // conftest evaluates a file with no document once, with `input` null: a rule that does
        // not read its input still decides, and the file is never silently a pass.
        vec![Document {
            file: target.path.clone(),
            line: 1,
            resource: None,
            contents: serde_json::Value::Null,
            anchors: Vec::new(),
        }]
    } else {
        docs
    };
    if target.path == "-" && target.detected {
        if let Some(doc) = docs.iter().find(|d| d.contents.is_string()) {
            out.notices.push(format!(
                "-:{}: standard input parsed as YAML gives a bare string; the input is probably \
                 another format — pass --parser (e.g. --parser hcl2, --parser dockerfile)",
                doc.line
            ));
        }
    }
    let scope = evaluator.scope_for_file(&target.path);
    for doc in docs {
        let o = evaluator.evaluate(&scope, &doc);
        out.resources += 1;
        out.outcome.passed += o.passed;
        out.outcome.passes.extend(o.passes);
        out.outcome.findings.extend(o.findings);
        out.outcome.errors.extend(o.errors);
        out.outcome.prints.extend(o.prints);
    }
    out
}

/// Runs the whole check: every input file against every selected rule, in parallel on the
/// current rayon pool.
pub fn check(evaluator: &Evaluator, opts: &InputOptions) -> Decision {
    let mut decision = Decision::default();
    let targets = targets(opts, &mut decision.errors);
    decision.summary.files = targets.len();

    let outcomes: Vec<FileOutcome> = if opts.combine {
        vec![check_combined(evaluator, &targets, &opts.limits)]
    } else {
        targets
            .par_iter()
            .map(|t| check_file(evaluator, t, &opts.limits))
            .collect()
    };
    for o in outcomes {
        decision.summary.notices.extend(o.notices);
        decision.summary.resources += o.resources;
        decision.summary.passed += o.outcome.passed;
        decision.passes.extend(o.outcome.passes);
        decision.findings.extend(o.outcome.findings);
        decision.errors.extend(o.outcome.errors);
        decision.prints.extend(o.outcome.prints);
    }
    decision.recount();
    decision.sort();
    decision
}

/// `--combine`: one input `[{path, contents}]`; a multi-document file's contents is the list of
/// its documents, a single document is itself (as conftest does).
fn check_combined(evaluator: &Evaluator, targets: &[Target], limits: &Limits) -> FileOutcome {
    let mut out = FileOutcome::default();
    let parsed: Vec<Result<Vec<Document>, ToolError>> = targets
        .par_iter()
        .map(|t| load_documents(t, limits))
        .collect();
    let mut combined = Vec::new();
    for (target, result) in targets.iter().zip(parsed) {
        match result {
            Ok(mut docs) => {
                let contents = if docs.len() == 1 {
                    docs.remove(0).contents
                } else {
                    serde_json::Value::Array(docs.into_iter().map(|d| d.contents).collect())
                };
                combined.push(serde_json::json!({"path": target.path, "contents": contents}));
            }
            Err(e) => out.outcome.errors.push(e),
        }
    }
    let doc = Document {
        file: "combined".into(),
        line: 0,
        resource: None,
        contents: serde_json::Value::Array(combined),
        anchors: Vec::new(),
    };
    let scope = evaluator.scope_for_file("combined");
    // Only conftest-style rules: a combined list is not an object Gatekeeper could review.
    let o = evaluator.evaluate_rego(&scope, &doc, regorus::Value::from(doc.contents.clone()));
    out.resources = 1;
    out.outcome.passed = o.passed;
    out.outcome.passes = o.passes;
    out.outcome.findings = o.findings;
    out.outcome.errors.extend(o.errors);
    out.outcome.prints = o.prints;
    out
}

/// Loads `--inventory` objects into the Gatekeeper templates of `set` (check and serve share it).
pub fn load_inventory(set: &mut crate::policy::PolicySet, paths: &[String]) -> Vec<ToolError> {
    if paths.is_empty() {
        return Vec::new();
    }
    let (objects, mut errors) = parse_only(&InputOptions {
        paths: paths.to_vec(),
        ..Default::default()
    });
    let objects = objects.into_iter().map(|d| d.contents).collect();
    if let Err(e) = set.gatekeeper.set_inventory(objects) {
        errors.push(ToolError::new(
            "",
            0,
            format!("cannot load the inventory: {e}"),
        ));
    }
    errors
}

/// `policyctl parse`: the documents exactly as policies see them.
pub fn parse_only(opts: &InputOptions) -> (Vec<Document>, Vec<ToolError>) {
    let mut errors = Vec::new();
    let mut docs = Vec::new();
    for t in targets(opts, &mut errors) {
        match load_documents(&t, &opts.limits) {
            Ok(d) => docs.extend(d),
            Err(e) => errors.push(e),
        }
    }
    (docs, errors)
}
