//! The command line: argv -> a verb -> the library pipeline -> an exit code. This is the only
//! layer that knows about flags; it must not contain evaluation logic.

mod check;
mod config;
mod meta;
mod parse;
mod push_pull;
mod registry_args;
mod remote_args;
mod serve;
mod signer_args;
mod test;
mod verify_blob;
mod verify_image;

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::io::Write;

/// Exit code when policyctl itself could not do its job (usage, policy load, input parse).
pub const EXIT_ERROR: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "policyctl",
    version,
    long_version = meta::LONG_VERSION,
    about = "Policy-as-code and supply-chain checks: one engine for CI, admission and policy tests",
    long_about = "policyctl evaluates Rego policies (conftest conventions: deny*/violation*/warn*), \
Gatekeeper ConstraintTemplates and sigstore ClusterImagePolicies against configuration files \
(check), images (verify-image) and admission requests (serve), and tests policies (test).\n\n\
Exit codes: 0 pass, 1 policy failures, 2 policyctl could not do its job (bad flag, broken policy, \
unreadable input).",
    after_help = "Examples:\n  policyctl check testdata/k8s                 # built-in library\n  \
policyctl check -p policy/ deploy/ -o sarif    # your conftest policies, SARIF for code scanning\n  \
policyctl parse deploy/app.yaml               # what policies see as `input`"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check configuration files against policies (the CI gate).
    Check(check::Args),
    /// Print documents exactly as policies see them (`input`), as JSON.
    Parse(parse::Args),
    /// Run Rego unit tests (test_* rules) and gator suites.
    Test(test::Args),
    /// Verify image signatures and attestations against ClusterImagePolicies.
    VerifyImage(verify_image::Args),
    /// Verify a Sigstore bundle for a file or digest (cosign verify-blob's flags).
    VerifyBlob(verify_blob::Args),
    /// Serve the validating admission webhook (HTTPS).
    Serve(serve::Args),
    /// Publish a policy directory to an OCI registry (conftest's artifact format).
    Push(push_pull::PushArgs),
    /// Download a policy set (OCI artifact or OPA bundle) into a directory.
    Pull(push_pull::PullArgs),
    /// Print shell completions for bash, zsh, fish, powershell or elvish.
    Completion(meta::CompletionArgs),
    /// Print the policyctl(1) man page, or write every page (one per verb) with --out.
    Man(meta::ManArgs),
    /// Print policyctl's version, git commit and the engine versions it was built with.
    Version,
}

/// Parses argv and runs the verb; returns the process exit code.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if let Err(e) = config::apply(&args) {
        let _ = writeln!(std::io::stderr(), "error: {e:#}");
        return EXIT_ERROR;
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    init_tracing(matches!(cli.command, Command::Serve(_)));
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::VerifyBlob(args) => verify_blob::run(args),
        Command::Parse(args) => parse::run(args),
        Command::Test(args) => test::run(args),
        Command::VerifyImage(args) => verify_image::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Push(args) => push_pull::push(args),
        Command::Pull(args) => push_pull::pull(args),
        Command::Completion(args) => meta::completion(args),
        Command::Man(args) => meta::man(args),
        Command::Version => meta::version(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            EXIT_ERROR
        }
    }
}

/// Logs to stderr, filtered by POLICYCTL_LOG; the server logs JSON at info (decision lines).
fn init_tracing(server: bool) {
    let default = if server { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("POLICYCTL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if server {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

/// Policy-selection flags shared by `check` and `serve` (`-p` differs: its default and help).
#[derive(Debug, Clone, clap::Args)]
pub struct PolicyArgs {
    /// JSON/YAML file or directory merged into `data` (repeatable).
    #[arg(
        short = 'd',
        long = "data",
        value_name = "PATH",
        value_delimiter = ',',
        env = "POLICYCTL_DATA"
    )]
    pub data: Vec<std::path::PathBuf>,

    /// Package(s) to evaluate, globs allowed (repeatable). Default: `main` plus the built-in
    /// library's packages.
    #[arg(
        short = 'n',
        long = "namespace",
        value_name = "GLOB",
        value_delimiter = ',',
        env = "POLICYCTL_NAMESPACE"
    )]
    pub namespace: Vec<String>,

    /// Evaluate every package.
    #[arg(long, conflicts_with = "namespace", env = "POLICYCTL_ALL_NAMESPACES")]
    pub all_namespaces: bool,

    /// Force the Rego dialect instead of detecting it per file (v1 first, then v0).
    #[arg(
        long,
        value_enum,
        value_name = "VERSION",
        env = "POLICYCTL_REGO_VERSION"
    )]
    pub rego_version: Option<crate::policy::RegoVersion>,

    /// Kubernetes objects (YAML/JSON file or directory, repeatable) loaded into Gatekeeper's
    /// `data.inventory` for referential constraints and namespaceSelector lookups.
    #[arg(
        long,
        value_name = "PATH",
        value_delimiter = ',',
        env = "POLICYCTL_INVENTORY"
    )]
    pub inventory: Vec<String>,

    /// How Rego runs: `auto` compiles each document's rules for regorus's VM when its compiler
    /// accepts the policies (several times faster, same verdicts; docs/policies.md "Writing
    /// fast policies"), else interprets; `interpreter` always interprets; `compiled` only
    /// compiles (refuses policies the compiler cannot take, reports a runtime error instead of
    /// re-running the document on the interpreter) — for checking parity.
    #[arg(
        long,
        value_enum,
        value_name = "ENGINE",
        default_value = "auto",
        env = "POLICYCTL_REGO_ENGINE"
    )]
    pub rego_engine: crate::eval::RegoEngine,

    #[command(flatten)]
    pub gatekeeper: GatekeeperEngineArg,
}

/// `--gatekeeper-engine`, shared by `check`, `serve` (through `PolicyArgs`) and `test`.
#[derive(Debug, Clone, clap::Args)]
pub struct GatekeeperEngineArg {
    /// Which engine runs Gatekeeper ConstraintTemplates that carry both Rego and CEL
    /// (`code` entries `Rego` and `K8sNativeValidation`), as Gatekeeper's engine preference
    /// does: `rego` (the default) or `cel`. A template with one source runs it in either mode.
    #[arg(
        long,
        value_enum,
        value_name = "ENGINE",
        default_value = "rego",
        env = "POLICYCTL_GATEKEEPER_ENGINE"
    )]
    pub gatekeeper_engine: crate::policy::gatekeeper::TemplateEngine,
}

impl PolicyArgs {
    pub fn namespaces(&self) -> anyhow::Result<crate::eval::Namespaces> {
        use crate::eval::Namespaces;
        Ok(if self.all_namespaces {
            Namespaces::All
        } else if self.namespace.is_empty() {
            Namespaces::Default
        } else {
            Namespaces::from_globs(&self.namespace).map_err(anyhow::Error::msg)?
        })
    }

    pub fn load_options(&self, policy_paths: Vec<String>) -> crate::policy::LoadOptions {
        crate::policy::LoadOptions {
            policy_paths,
            data_paths: self.data.clone(),
            rego_version: self.rego_version,
            include_tests: false,
            gatekeeper_engine: self.gatekeeper.gatekeeper_engine,
            ..Default::default()
        }
    }
}

/// Writes a rendered report to stdout; a closed pipe (`| head`) is not an error.
pub(crate) fn emit(text: impl AsRef<[u8]>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_ref()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
