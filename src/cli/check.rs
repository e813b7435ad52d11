//! `policyctl check`: flags -> policy set + inputs -> pipeline -> rendered Decision.

use crate::eval::Evaluator;
use crate::finding::ExitPolicy;
use crate::input::{Limits, Parser};
use crate::pipeline::{self, InputOptions};
use crate::policy;
use crate::report::{self, Format};
use anyhow::Context;
use std::io::IsTerminal;

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

    /// Policy file or directory (repeatable). Default: `./policy` when it exists (conftest's
    /// default), else the built-in library; name it with `-p builtin` to use it alongside your
    /// own. Remote sets: `oci://REGISTRY/REPO:TAG` (conftest push / policyctl push), an OPA
    /// bundle `bundle.tar.gz` or `https://…/bundle.tar.gz` (docs/policies.md).
    #[arg(
        short = 'p',
        long = "policy",
        value_name = "PATH",
        value_delimiter = ',',
        env = "POLICYCTL_POLICY"
    )]
    pub policy: Vec<String>,

    #[command(flatten)]
    pub policies: super::PolicyArgs,

    /// Force one parser for every input instead of detecting it from the file name.
    #[arg(long, value_enum, env = "POLICYCTL_PARSER")]
    pub parser: Option<Parser>,

    /// Skip input paths matching this regular expression.
    #[arg(long, value_name = "REGEX", env = "POLICYCTL_IGNORE")]
    pub ignore: Option<String>,

    /// Evaluate all inputs as one document: `[{"path": …, "contents": …}]`.
    #[arg(long, env = "POLICYCTL_COMBINE")]
    pub combine: bool,

    /// Output format (`stdout` is accepted for `text`, as conftest names it).
    #[arg(
        short = 'o',
        long = "output",
        value_enum,
        default_value = "text",
        env = "POLICYCTL_OUTPUT"
    )]
    pub output: Format,

    /// Exit 1 on warnings too.
    #[arg(long, env = "POLICYCTL_FAIL_ON_WARN")]
    pub fail_on_warn: bool,

    /// Exit 0 even when policies fail (errors still exit 2).
    #[arg(long, env = "POLICYCTL_NO_FAIL")]
    pub no_fail: bool,

    /// Leave exceptions (rules exempted by an `exception` rule) out of the report; the summary
    /// still counts them (conftest's --suppress-exceptions).
    #[arg(long, env = "POLICYCTL_SUPPRESS_EXCEPTIONS")]
    pub suppress_exceptions: bool,

    /// Text output: findings and errors only, no summary line (conftest's --quiet).
    #[arg(short = 'q', long, env = "POLICYCTL_QUIET")]
    pub quiet: bool,

    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N", env = "POLICYCTL_THREADS")]
    pub threads: Option<usize>,

    /// Refuse input files larger than this many MiB.
    #[arg(
        long,
        value_name = "MIB",
        default_value_t = 16,
        env = "POLICYCTL_MAX_FILE_SIZE"
    )]
    pub max_file_size: u64,

    #[command(flatten)]
    pub registry: super::registry_args::RegistryArgs,

    #[command(flatten)]
    pub remote: super::remote_args::RemotePolicyArgs,

    /// Colour in text output (`NO_COLOR` set means never).
    #[arg(long, value_enum, default_value = "auto", env = "POLICYCTL_COLOR")]
    pub color: Color,

    /// The same as --color never (conftest's spelling).
    #[arg(long, env = "POLICYCTL_NO_COLOR")]
    pub no_color: bool,
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
    let namespaces = args.policies.namespaces()?;
    // conftest's default policy directory, when there is one; else the built-in library.
    let (policy_paths, mut default_label) = if !args.policy.is_empty() {
        (args.policy.clone(), String::new())
    } else if std::path::Path::new("policy").is_dir() {
        (
            vec!["policy".to_string()],
            "./policy (default, as conftest; -p builtin for the built-in library)".to_string(),
        )
    } else {
        (
            vec![policy::BUILTIN_NAME.to_string()],
            "built-in library (default; no ./policy directory)".to_string(),
        )
    };
    let mut load_opts = args.policies.load_options(policy_paths);
    let (fetch_errors, labels) = args
        .remote
        .resolve(&mut load_opts, &args.registry.insecure_registry)?;
    if !labels.is_empty() {
        default_label = labels.join(", ");
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("cannot start worker threads")?;

    let (sources, mut load_errors) = policy::discover(&load_opts);
    load_errors.splice(0..0, fetch_errors);
    let (mut set, errors) = policy::load(sources, &load_opts);
    load_errors.extend(errors);
    load_errors.extend(pipeline::load_inventory(&mut set, &args.policies.inventory));
    let mut evaluator = Evaluator::new(&set, &namespaces)
        .with_engine(args.policies.rego_engine)
        .map_err(|e| anyhow::anyhow!(e))?
        .recording_passes(args.output.reports_passes());
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
    decision.summary.policies = default_label;
    if args.output == Format::Sarif {
        decision.rule_docs = policy::annotations::rule_docs(&set.sources);
    }
    {
        use std::io::Write;
        let mut stderr = std::io::stderr().lock();
        for n in &decision.summary.notices {
            writeln!(stderr, "warning: {n}")?;
        }
        for p in &decision.prints {
            writeln!(stderr, "{p}")?;
        }
    }

    let color = match args.color {
        _ if args.no_color => false,
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let exit = decision.exit_code(ExitPolicy {
        fail_on_warn: args.fail_on_warn,
        no_fail: args.no_fail,
    });
    if args.suppress_exceptions {
        decision
            .findings
            .retain(|f| f.severity != crate::finding::Severity::Exception);
    }
    let mut rendered = report::render(&decision, args.output, color);
    if args.quiet && args.output == Format::Text {
        rendered = report::without_summary(&rendered);
    }
    super::emit(&rendered)?;
    Ok(exit)
}
