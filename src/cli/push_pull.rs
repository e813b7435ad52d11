//! `policyctl push` and `policyctl pull`: policy sets as OCI artifacts in conftest's format, so
//! `conftest pull` reads what `policyctl push` publishes and the reverse.

use crate::remote::{self, Location};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Every .rego file (tests included) becomes a layer of media type \
application/vnd.cncf.openpolicyagent.policy.layer.v1+rego and every JSON/YAML file (data, \
Gatekeeper templates and constraints, ClusterImagePolicies) one of \
application/vnd.cncf.openpolicyagent.data.layer.v1+json, named by its path in DIR; the config is \
application/vnd.cncf.openpolicyagent.config.v1+json. The same files give the same digest. \
Credentials come from the Docker config (docker login, credential helpers).\n\nExamples:\n  \
policyctl push ghcr.io/acme/policies:v1 policy/\n  \
cosign sign --key cosign.key $(policyctl push -q ghcr.io/acme/policies:v1 policy/)\n  \
policyctl check -p oci://ghcr.io/acme/policies:v1 --policy-key cosign.pub deploy/"
)]
pub struct PushArgs {
    /// Where to publish: REGISTRY/REPOSITORY[:TAG] (`oci://` optional; tag `latest` when none).
    #[arg(value_name = "REF")]
    pub reference: String,

    /// The directory to publish (conftest's default: ./policy).
    #[arg(value_name = "DIR", default_value = "policy")]
    pub dir: PathBuf,

    /// Registry reached over plain HTTP instead of TLS, `host[:port]` (repeatable).
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,

    /// Print only the pushed reference pinned by digest (REGISTRY/REPO@sha256:…), for scripts.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Writes the set's files under --out byte for byte (a file name that \
would leave --out is refused). With --policy-key or --policy-identity the set is written only \
when its signature verifies, as -p oci://… loads it.\n\nExamples:\n  \
policyctl pull ghcr.io/acme/policies:v1\n  \
policyctl pull oci://ghcr.io/acme/policies:v1 --out vendor/policy --policy-key cosign.pub\n  \
policyctl pull https://bundles.acme.example/k8s.tar.gz --out k8s"
)]
pub struct PullArgs {
    /// REGISTRY/REPOSITORY[:TAG|@DIGEST] (`oci://` optional), or an OPA bundle URL or file.
    #[arg(value_name = "REF")]
    pub reference: String,

    /// Directory to write the files into (conftest's default: ./policy).
    #[arg(long, value_name = "DIR", default_value = "policy")]
    pub out: PathBuf,

    /// Registry (or bundle server) reached over plain HTTP, `host[:port]` (repeatable).
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,

    #[command(flatten)]
    pub remote: super::remote_args::RemotePolicyArgs,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub(super) fn push(args: PushArgs) -> anyhow::Result<u8> {
    let opts = crate::supply::registry::RegistryOptions {
        insecure: args.insecure_registry.clone(),
    };
    let pushed = runtime()?.block_on(remote::oci::push(&args.reference, &args.dir, &opts));
    let (pinned, files) = match pushed {
        Ok(p) => p,
        Err(e) => {
            writeln!(std::io::stderr(), "error: {}: {e}", args.reference)?;
            return Ok(super::EXIT_ERROR);
        }
    };
    let mut out = String::new();
    if args.quiet {
        out.push_str(&format!("{pinned}\n"));
    } else {
        out.push_str(&format!("pushed {} files to {pinned}\n", files.len()));
        for f in &files {
            let kind = if f.role == remote::Role::Policy {
                "policy"
            } else {
                "data"
            };
            out.push_str(&format!("  {kind:6} {}\n", f.path));
        }
        out.push_str(&format!(
            "sign it so clusters and CI can require it: cosign sign --key cosign.key {pinned}\n"
        ));
    }
    super::emit(&out)?;
    Ok(0)
}

pub(super) fn pull(args: PullArgs) -> anyhow::Result<u8> {
    let location =
        Location::parse(&args.reference).unwrap_or_else(|| Location::Oci(args.reference.clone()));
    let opts = args.remote.fetch_options(&args.insecure_registry, false)?;
    let fetched = runtime()?.block_on(remote::fetch(&location, &opts));
    let set = match fetched {
        Ok(s) => s,
        Err(e) => {
            writeln!(std::io::stderr(), "error: {e}")?;
            return Ok(super::EXIT_ERROR);
        }
    };
    match remote::oci::write_out(&set, &args.out) {
        Ok(written) => {
            let mut out = format!(
                "pulled {} ({} files) into {}\n",
                set.label(),
                written.len(),
                args.out.display()
            );
            if let Some(v) = &set.verified {
                out.push_str(&format!("  signed by {v}\n"));
            }
            super::emit(&out)?;
            Ok(0)
        }
        Err(e) => {
            writeln!(std::io::stderr(), "error: {}: {e}", location.display())?;
            Ok(super::EXIT_ERROR)
        }
    }
}
