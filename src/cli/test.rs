//! `policyctl test`: Rego unit tests (opa test parity) over files and directories.

use crate::policy::{self, LoadOptions, RegoVersion};
use crate::testing::{self, report, RunOptions, Status};
use anyhow::Context;
use std::io::Write;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Tests are rules named test_* (todo_test_* are skipped); undefined or \
non-true is FAIL, an evaluation error is ERROR.\n\nExamples:\n  policyctl test policies/\n  \
policyctl test -v -r 'privileged' policies/\n  policyctl test --coverage --threshold 90 policies/"
)]
pub struct Args {
    /// Policy and test files or directories (recursive); `builtin` for the built-in library.
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<String>,

    /// JSON/YAML file or directory merged into `data` (repeatable).
    #[arg(short = 'd', long = "data", value_name = "PATH")]
    pub data: Vec<std::path::PathBuf>,

    /// Show every test, not only failures, with its print() output.
    #[arg(short, long)]
    pub verbose: bool,

    /// Only run tests whose full name (data.pkg.test_x) matches this regex.
    #[arg(short = 'r', long = "run", value_name = "REGEX")]
    pub run: Option<String>,

    /// Report line coverage per policy file (test files excluded) and in total.
    #[arg(short = 'c', long)]
    pub coverage: bool,

    /// Fail when total coverage is below this percentage (implies --coverage).
    #[arg(long, value_name = "PCT")]
    pub threshold: Option<f64>,

    /// Force the Rego dialect instead of detecting it per file.
    #[arg(long, value_enum, value_name = "VERSION")]
    pub rego_version: Option<RegoVersion>,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub output: Format,

    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Registry (or bundle server) reached over plain HTTP, `host[:port]` (repeatable).
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,

    #[command(flatten)]
    pub remote: super::remote_args::RemotePolicyArgs,

    #[command(flatten)]
    pub gatekeeper: super::GatekeeperEngineArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Junit,
}

pub(super) fn run(args: Args) -> anyhow::Result<u8> {
    let filter = args
        .run
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .context("--run is not a valid regular expression")?;
    let mut opts = LoadOptions {
        policy_paths: args.paths.clone(),
        data_paths: args.data.clone(),
        rego_version: args.rego_version,
        include_tests: true,
        gatekeeper_engine: args.gatekeeper.gatekeeper_engine,
        ..Default::default()
    };
    let (fetch_errors, _) = args.remote.resolve(&mut opts, &args.insecure_registry)?;
    let (sources, mut errors) = policy::discover(&opts);
    errors.splice(0..0, fetch_errors);
    let (set, load_errors) = policy::load(sources, &opts);
    errors.extend(load_errors);
    if !errors.is_empty() {
        let mut stderr = std::io::stderr();
        for e in &errors {
            writeln!(stderr, "error: {}", e.display())?;
        }
        return Ok(super::EXIT_ERROR);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()?;
    let coverage = args.coverage || args.threshold.is_some();
    let run = pool.install(|| testing::run(&set, &RunOptions { filter, coverage }));
    let rendered = match args.output {
        Format::Text => report::text(&run, args.verbose),
        Format::Json => report::json(&run),
        Format::Junit => report::junit(&run),
    };
    super::emit(&rendered)?;
    if run.tests.is_empty() {
        // As `check` does for no rules: nothing ran, so nothing was shown to pass.
        writeln!(
            std::io::stderr(),
            "error: no tests found (no test_* rules{} and no gator Suite in {})",
            if args.run.is_some() {
                " matching --run"
            } else {
                ""
            },
            args.paths.join(", ")
        )?;
        return Ok(super::EXIT_ERROR);
    }
    let failed = run.count(Status::Fail) + run.count(Status::Error) > 0;
    let below = match (args.threshold, run.coverage_percent()) {
        (Some(min), Some(actual)) if actual < min => {
            writeln!(
                std::io::stderr(),
                "coverage {actual:.2}% is below the threshold {min}%"
            )?;
            true
        }
        _ => false,
    };
    Ok(u8::from(failed || below))
}
