//! `policyctl check`: flags -> policy set + inputs -> pipeline -> rendered Decision.

use crate::eval::{Evaluator, Namespaces};
use crate::finding::ExitPolicy;
use crate::input::{Limits, Parser};
use crate::pipeline::{self, InputOptions};
use crate::policy::{self, LoadOptions, RegoVersion};
use crate::report::{self, Format};
use anyhow::Context;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Rules: deny*/violation* are failures, warn* warnings; a result is a string or \
an object with `msg` (`_loc{file,line}` overrides the location). Exceptions: \
`exception contains [\"run_as_root\"]` in the same package exempts deny_run_as_root.\n\n\
Examples:\n  policyctl check testdata/k8s\n  policyctl check -p policy -n 'team.*' deploy/ -o github\n  \
kubectl get deploy -o yaml | policyctl check -"
)]
pub struct Args {
    /// Files or directories to check (recursive; `.git` skipped); `-` reads stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,

    /// Policy file or directory (repeatable). Default: the built-in library; name it with
    /// `-p builtin` to use it alongside your own.
    #[arg(short = 'p', long = "policy", value_name = "PATH")]
    pub policy: Vec<String>,

    /// JSON/YAML file or directory merged into `data` (repeatable).
    #[arg(short = 'd', long = "data", value_name = "PATH")]
    pub data: Vec<PathBuf>,

    /// Package(s) to evaluate, globs allowed (repeatable). Default: `main` plus the built-in
    /// library's packages.
    #[arg(short = 'n', long = "namespace", value_name = "GLOB")]
    pub namespace: Vec<String>,

    /// Kubernetes objects (YAML/JSON file or directory, repeatable) loaded into Gatekeeper's
    /// `data.inventory` for referential constraints and namespaceSelector lookups.
    #[arg(long, value_name = "PATH")]
    pub inventory: Vec<String>,

    /// Evaluate every package.
    #[arg(long, conflicts_with = "namespace")]
    pub all_namespaces: bool,

    /// Force the Rego dialect instead of detecting it per file (v1 first, then v0).
    #[arg(long, value_enum, value_name = "VERSION")]
    pub rego_version: Option<RegoVersion>,

    /// Force one parser for every input instead of detecting it from the file name.
    #[arg(long, value_enum)]
    pub parser: Option<Parser>,

    /// Skip input paths matching this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub ignore: Option<String>,

    /// Evaluate all inputs as one document: `[{"path": …, "contents": …}]`.
    #[arg(long)]
    pub combine: bool,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub output: Format,

    /// Exit 1 on warnings too.
    #[arg(long)]
    pub fail_on_warn: bool,

    /// Exit 0 even when policies fail (errors still exit 2).
    #[arg(long)]
    pub no_fail: bool,

    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Refuse input files larger than this many MiB.
    #[arg(long, value_name = "MIB", default_value_t = 16)]
    pub max_file_size: u64,

    #[command(flatten)]
    pub registry: super::registry_args::RegistryArgs,

    /// Colour in text output.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Color,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

pub(super) fn run(args: Args) -> anyhow::Result<u8> {
    let ignore = args
        .ignore
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .context("--ignore is not a valid regular expression")?;
    let namespaces = if args.all_namespaces {
        Namespaces::All
    } else if args.namespace.is_empty() {
        Namespaces::Default
    } else {
        Namespaces::from_globs(&args.namespace).map_err(anyhow::Error::msg)?
    };
    let load_opts = LoadOptions {
        policy_paths: args.policy.clone(),
        data_paths: args.data.clone(),
        rego_version: args.rego_version,
        include_tests: false,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("cannot start worker threads")?;

    let (sources, mut load_errors) = policy::discover(&load_opts);
    let (mut set, errors) = policy::load(sources, &load_opts);
    load_errors.extend(errors);
    if !args.inventory.is_empty() {
        let (objects, errors) = pipeline::parse_only(&InputOptions {
            paths: args.inventory.clone(),
            ..Default::default()
        });
        load_errors.extend(errors);
        let objects = objects.into_iter().map(|d| d.contents).collect();
        if let Err(e) = set.gatekeeper.set_inventory(objects) {
            load_errors.push(crate::finding::ToolError::new(
                "",
                0,
                format!("cannot load the inventory: {e}"),
            ));
        }
    }
    let mut evaluator = Evaluator::new(&set, &namespaces);
    // Kept alive for the run: image verification does its registry I/O on this runtime.
    let mut _runtime = None;
    if !set.image_policies.is_empty() {
        let (runtime, supply) = args
            .registry
            .supply_chain(set.image_policies.clone(), set.trust_roots.clone())?;
        evaluator = evaluator.with_supply_chain(supply);
        _runtime = Some(runtime);
    }
    if evaluator.rule_count() == 0 && load_errors.is_empty() {
        load_errors.push(crate::finding::ToolError::new(
            "",
            0,
            "no deny/violation/warn rules found in the selected namespaces (check -p and -n; \
             conftest's default namespace is `main`)",
        ));
    }
    let input_opts = InputOptions {
        paths: args.paths.clone(),
        parser: args.parser,
        ignore,
        combine: args.combine,
        limits: Limits {
            max_file_bytes: args.max_file_size.saturating_mul(1024 * 1024),
        },
    };
    let mut decision = pool.install(|| pipeline::check(&evaluator, &input_opts));
    decision.errors.splice(0..0, load_errors);

    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    super::emit(&report::render(&decision, args.output, color))?;
    Ok(decision.exit_code(ExitPolicy {
        fail_on_warn: args.fail_on_warn,
        no_fail: args.no_fail,
    }))
}
