//! `policyctl verify-blob`: a Sigstore bundle against a file (or its sha256 digest), with
//! cosign's flags, offline against the embedded public-good root or `--trusted-root`.

use crate::supply::bundle::{self, Expect, Signer, Subject};
use anyhow::Context;
use std::io::Write;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "The same flags as `cosign verify-blob`. Keyless bundles need the signer's identity \
(--certificate-identity or --certificate-identity-regexp) and OIDC issuer \
(--certificate-oidc-issuer or --certificate-oidc-issuer-regexp); managed-key bundles need --key. \
Verification is offline: against the public-good Sigstore root embedded in policyctl, or \
the trusted_root.json given with --trusted-root.\n\n\
Examples:\n  policyctl verify-blob --bundle app.sigstore.json \\\n      \
--certificate-identity https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.0 \\\n      \
--certificate-oidc-issuer https://token.actions.githubusercontent.com app.tar.gz\n  \
policyctl verify-blob --bundle b.json --key cosign.pub sha256:4ea5c5…\n\n\
Exit codes: 0 verified, 1 not verified (the reason is printed), 2 could not run (missing file, \
bad flag, unreadable trusted root)."
)]
pub struct Args {
    /// The file whose signature is checked, or `sha256:<hex>` of it (then the file is not needed).
    #[arg(value_name = "FILE|sha256:HEX")]
    pub artifact: String,

    /// The Sigstore bundle (`cosign sign-blob --bundle`, `.sigstore.json`).
    #[arg(long, value_name = "FILE")]
    pub bundle: String,

    #[command(flatten)]
    pub signer: super::signer_args::SignerArgs,
}

fn expect(exact: &Option<String>, regexp: &Option<String>, what: &str) -> anyhow::Result<Expect> {
    match (exact, regexp) {
        (Some(e), _) => Ok(Expect::Exact(e.clone())),
        (None, Some(r)) => Ok(Expect::Regex(regex::Regex::new(r).with_context(|| {
            format!("--{what}-regexp is not a valid regular expression")
        })?)),
        (None, None) => anyhow::bail!(
            "a keyless bundle needs --{what} or --{what}-regexp (or --key for a managed key)"
        ),
    }
}

pub(super) fn run(args: Args) -> anyhow::Result<u8> {
    let signer = match &args.signer.key {
        Some(path) => {
            Signer::Key(std::fs::read_to_string(path).with_context(|| format!("--key {path}"))?)
        }
        None => Signer::Keyless {
            identity: expect(
                &args.signer.certificate_identity,
                &args.signer.certificate_identity_regexp,
                "certificate-identity",
            )?,
            issuer: expect(
                &args.signer.certificate_oidc_issuer,
                &args.signer.certificate_oidc_issuer_regexp,
                "certificate-oidc-issuer",
            )?,
        },
    };
    let root = match &args.signer.trusted_root {
        Some(path) => bundle::trusted_root(
            &std::fs::read_to_string(path).with_context(|| format!("--trusted-root {path}"))?,
        )
        .map_err(|e| anyhow::anyhow!("--trusted-root {path}: {e}"))?,
        None => bundle::production_root().map_err(|e| anyhow::anyhow!(e))?,
    };
    let bundle_json = std::fs::read_to_string(&args.bundle)
        .with_context(|| format!("--bundle {}", args.bundle))?;
    let bytes;
    let subject = match args.artifact.strip_prefix("sha256:") {
        Some(hex) => Subject::Sha256(hex.to_string()),
        None => {
            bytes = std::fs::read(&args.artifact)
                .with_context(|| format!("artifact {}", args.artifact))?;
            Subject::Bytes(&bytes)
        }
    };
    let mut stderr = std::io::stderr();
    match bundle::verify(&bundle_json, subject, &signer, &root) {
        Ok(v) => {
            match (v.identity, v.issuer) {
                (Some(id), Some(iss)) => {
                    super::emit(format!("Verified OK ({id}, issuer {iss})\n"))?
                }
                _ => super::emit("Verified OK\n")?,
            }
            Ok(0)
        }
        Err((code, reason)) => {
            writeln!(stderr, "error: not verified [{code}]: {reason}")?;
            Ok(1)
        }
    }
}
