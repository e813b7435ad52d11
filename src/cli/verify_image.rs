//! `policyctl verify-image`: images against sigstore ClusterImagePolicies, without manifests.

use super::registry_args::RegistryArgs;
use crate::policy::{self, LoadOptions};
use crate::supply::keyless::TrustRoot;
use crate::supply::verify::Verdict;
use std::io::Write;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Policies are sigstore ClusterImagePolicy documents (policy.sigstore.dev/v1beta1 \
or v1alpha1). Each image is resolved to a digest once and every signature and attestation is \
verified against that digest. Without a policy file, cosign's flags make one on the spot: \
--key for a managed key, or --certificate-identity[-regexp] with \
--certificate-oidc-issuer[-regexp] for keyless signatures (cosign v3 bundles or .sig tags), \
verified against the embedded public-good Sigstore root or --trusted-root.\n\nExamples:\n  \
policyctl verify-image -p policies/images ghcr.io/acme/app:1.2.0\n  \
policyctl verify-image -p cip.yaml --insecure-registry 127.0.0.1:5000 127.0.0.1:5000/app:dev -o json\n  \
policyctl verify-image --key cosign.pub ghcr.io/acme/app:1.2.0\n  \
policyctl verify-image --certificate-identity-regexp '^https://github.com/acme/' \\\n      \
--certificate-oidc-issuer https://token.actions.githubusercontent.com ghcr.io/acme/app:1.2.0\n\n\
A policy with spec.match applies to every image unless --resource names the workload the \
images run in; with --resource, spec.match selects policies by that object and spec.policy's \
includeSpec/includeObjectMeta/includeTypeMeta read it, as policy-controller does at admission.\n\n\
Exit codes: 0 allowed (or only warned), 1 denied, 2 could not decide (registry fault, timeout, \
bad policy) — so CI can tell a flaky registry from an unsigned image."
)]
pub struct Args {
    /// Images to verify.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,

    /// ClusterImagePolicy file or directory (repeatable). Required unless --key or
    /// --certificate-identity[-regexp] give the signer on the command line.
    #[arg(short = 'p', long = "policy", value_name = "PATH", required_unless_present_any = ["key", "certificate_identity", "certificate_identity_regexp"])]
    pub policy: Vec<String>,

    #[command(flatten)]
    pub signer: super::signer_args::SignerArgs,

    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "text")]
    pub output: Format,

    /// The workload (YAML/JSON, first document) the images run in: for spec.match and for
    /// spec.policy's includeSpec/includeObjectMeta/includeTypeMeta.
    #[arg(long, value_name = "FILE")]
    pub resource: Option<String>,

    #[command(flatten)]
    pub registry: RegistryArgs,

    #[command(flatten)]
    pub remote: super::remote_args::RemotePolicyArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// The ClusterImagePolicy cosign's flags describe (every image, one authority), and the
/// TrustRoot `--trusted-root` names; `None` without such flags.
fn command_line_policy(
    args: &Args,
) -> anyhow::Result<Option<(crate::supply::policy::ImagePolicy, Vec<TrustRoot>)>> {
    let s = &args.signer;
    super::signer_args::signer_policy(&super::signer_args::Signer {
        key: s.key.as_deref(),
        identity: s.certificate_identity.as_deref(),
        identity_regexp: s.certificate_identity_regexp.as_deref(),
        issuer: s.certificate_oidc_issuer.as_deref(),
        issuer_regexp: s.certificate_oidc_issuer_regexp.as_deref(),
        trusted_root: s.trusted_root.as_deref(),
        flags: "--certificate-oidc-issuer or --certificate-oidc-issuer-regexp",
    })
}

pub(super) fn run(args: Args) -> anyhow::Result<u8> {
    let mut opts = LoadOptions {
        policy_paths: args.policy.clone(),
        ..Default::default()
    };
    let (fetch_errors, _) = args
        .remote
        .resolve(&mut opts, &args.registry.insecure_registry)?;
    let (sources, mut errors) = if args.policy.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        policy::discover(&opts)
    };
    errors.splice(0..0, fetch_errors);
    let (mut set, load_errors) = policy::load(sources, &opts);
    errors.extend(load_errors);
    if let Some((policy, roots)) = command_line_policy(&args)? {
        set.image_policies.push(policy);
        set.trust_roots.extend(roots);
    }
    if set.image_policies.is_empty() && errors.is_empty() {
        errors.push(crate::finding::ToolError::new(
            "",
            0,
            "no ClusterImagePolicy found in the -p paths",
        ));
    }
    if !errors.is_empty() {
        let mut stderr = std::io::stderr();
        for e in &errors {
            writeln!(stderr, "error: {}", e.display())?;
        }
        return Ok(super::EXIT_ERROR);
    }
    let resource_object = match &args.resource {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("--resource {path}: {e}"))?;
            let parser = if path.ends_with(".json") {
                crate::input::Parser::Json
            } else {
                crate::input::Parser::Yaml
            };
            let docs = crate::input::parse(path, &text, parser)
                .map_err(|e| anyhow::anyhow!("{path}:{}: {}", e.line, e.message))?;
            let doc = docs
                .into_iter()
                .find(|d| d.contents.is_object())
                .ok_or_else(|| {
                    anyhow::anyhow!("--resource {path}: no Kubernetes object in the file")
                })?;
            Some(doc.contents)
        }
    };
    let resource = resource_object
        .as_ref()
        .map(crate::supply::policy::ResourceContext::of);
    let (runtime, supply) = args
        .registry
        .supply_chain(set.image_policies, set.trust_roots)?;
    let verdicts = runtime.block_on(
        supply
            .verifier
            .verify_all_for(&args.images, resource.as_ref()),
    );
    let rendered = match args.output {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&serde_json::json!({ "images": verdicts }))?;
            s.push('\n');
            s
        }
        Format::Text => {
            let mut s = String::new();
            for v in &verdicts {
                let verdict = format!("{:?}", v.verdict).to_uppercase();
                s.push_str(&format!(
                    "{verdict} {} {}\n",
                    v.image,
                    v.digest.as_deref().unwrap_or("")
                ));
                if v.policies.is_empty() {
                    s.push_str("  no ClusterImagePolicy matches this image\n");
                }
                for p in &v.policies {
                    s.push_str(&format!(
                        "  {}: {}\n",
                        p.name,
                        format!("{:?}", p.verdict).to_lowercase()
                    ));
                    for r in &p.reasons {
                        s.push_str(&format!("    - {r}\n"));
                    }
                }
            }
            s
        }
    };
    super::emit(&rendered)?;
    drop(runtime);
    // A denial that stands on its own is 1; a denial only because the registry could not be
    // read (or the deadline passed) is 2: policyctl could not decide.
    let denials = verdicts
        .iter()
        .flat_map(|v| &v.policies)
        .filter(|p| p.verdict == Verdict::Deny);
    let (undecided, decided): (Vec<_>, Vec<_>) = denials.partition(|p| p.undecided);
    Ok(if !decided.is_empty() {
        1
    } else if !undecided.is_empty() {
        super::EXIT_ERROR
    } else {
        0
    })
}
