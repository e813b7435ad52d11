//! Flags for policy sets fetched from registries and bundle servers (`-p oci://…`,
//! `-p https://…/bundle.tar.gz`, `-p bundle.tar.gz`), shared by `check`, `test`, `verify-image`
//! and `serve`: who must have signed them, and where they are cached.

use crate::finding::ToolError;
use crate::policy::LoadOptions;
use crate::remote::{FetchOptions, Trust};
use crate::supply::registry::RegistryOptions;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Default, clap::Args)]
pub struct RemotePolicyArgs {
    /// Load remote policy sets only when signed with this key: a cosign public key (PEM) for
    /// `-p oci://…` sets (cosign sign --key), and the key of an OPA bundle's .signatures.json
    /// (PEM public key, or a file holding an HMAC secret, as OPA reads keys).
    #[arg(
        long,
        value_name = "FILE",
        env = "POLICYCTL_POLICY_KEY",
        conflicts_with_all = ["policy_identity", "policy_identity_regexp"]
    )]
    pub policy_key: Option<String>,

    /// Load remote OCI policy sets only when signed keylessly by this identity (certificate SAN:
    /// email or URI), exactly; needs --policy-issuer[-regexp].
    #[arg(
        long,
        value_name = "IDENTITY",
        env = "POLICYCTL_POLICY_IDENTITY",
        conflicts_with = "policy_identity_regexp"
    )]
    pub policy_identity: Option<String>,

    /// Keyless signer identity as a regular expression.
    #[arg(long, value_name = "REGEX", env = "POLICYCTL_POLICY_IDENTITY_REGEXP")]
    pub policy_identity_regexp: Option<String>,

    /// The OIDC issuer of --policy-identity, exactly.
    #[arg(
        long,
        value_name = "URL",
        env = "POLICYCTL_POLICY_ISSUER",
        conflicts_with = "policy_issuer_regexp"
    )]
    pub policy_issuer: Option<String>,

    /// The OIDC issuer as a regular expression.
    #[arg(long, value_name = "REGEX", env = "POLICYCTL_POLICY_ISSUER_REGEXP")]
    pub policy_issuer_regexp: Option<String>,

    /// A Sigstore trusted_root.json, or a policy-controller TrustRoot document, for keyless
    /// policy signatures (default: the public-good root embedded in policyctl).
    #[arg(long, value_name = "FILE", env = "POLICYCTL_POLICY_TRUSTED_ROOT")]
    pub policy_trusted_root: Option<String>,

    /// Cache of fetched policy sets, by digest (default: $POLICYCTL_CACHE_DIR,
    /// $XDG_CACHE_HOME/policyctl or ~/.cache/policyctl).
    #[arg(long, value_name = "DIR", env = "POLICYCTL_POLICY_CACHE")]
    pub policy_cache: Option<PathBuf>,
}

impl RemotePolicyArgs {
    /// The signer remote sets must carry, if any was asked for.
    pub fn trust(&self) -> anyhow::Result<Option<Trust>> {
        let signer = super::signer_args::Signer {
            key: self.policy_key.as_deref(),
            identity: self.policy_identity.as_deref(),
            identity_regexp: self.policy_identity_regexp.as_deref(),
            issuer: self.policy_issuer.as_deref(),
            issuer_regexp: self.policy_issuer_regexp.as_deref(),
            trusted_root: self.policy_trusted_root.as_deref(),
            flags: "--policy-issuer or --policy-issuer-regexp",
        };
        if self.policy_issuer.is_some() || self.policy_issuer_regexp.is_some() {
            anyhow::ensure!(
                self.policy_identity.is_some() || self.policy_identity_regexp.is_some(),
                "--policy-issuer needs --policy-identity or --policy-identity-regexp"
            );
        }
        let bundle_key = match &self.policy_key {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("--policy-key {path}: {e}"))?,
            ),
            None => None,
        };
        let description = match (&self.policy_key, &bundle_key) {
            (Some(path), Some(text)) => format!(
                "the key {path} ({})",
                &crate::remote::cache::digest(text.trim().as_bytes())[..19]
            ),
            _ => {
                let who = self
                    .policy_identity
                    .clone()
                    .or_else(|| {
                        self.policy_identity_regexp
                            .clone()
                            .map(|r| format!("/{r}/"))
                    })
                    .unwrap_or_default();
                let issuer = self
                    .policy_issuer
                    .clone()
                    .or_else(|| self.policy_issuer_regexp.clone().map(|r| format!("/{r}/")))
                    .unwrap_or_default();
                format!("identity {who} issued by {issuer}")
            }
        };
        // An HMAC secret is not a cosign key: only bundles can use it.
        let image_policy = if bundle_key
            .as_deref()
            .is_some_and(|k| !k.contains("-----BEGIN"))
        {
            None
        } else {
            super::signer_args::signer_policy(&signer)?
        };
        Ok(match (image_policy, bundle_key) {
            (Some((image_policy, roots)), bundle_key) => Some(Trust {
                image_policy,
                roots,
                bundle_key,
                description,
            }),
            (None, Some(secret)) => {
                // HMAC: bundles only; an OCI set with this "key" fails verification clearly.
                let doc = serde_json::json!({
                    "apiVersion": "policy.sigstore.dev/v1beta1", "kind": "ClusterImagePolicy",
                    "metadata": {"name": "hmac-secret"},
                    "spec": {"images": [{"glob": "**"}], "authorities": [{"name": "none", "static": {"action": "fail", "message": "--policy-key is an HMAC secret (not a PEM public key): it can verify OPA bundles, not cosign signatures"}}]},
                });
                let image_policy =
                    crate::supply::policy::image_policy(&doc, "<command line>", "", 0)
                        .map_err(|e| anyhow::anyhow!(e.message))?;
                Some(Trust {
                    image_policy,
                    roots: Vec::new(),
                    bundle_key: Some(secret),
                    description,
                })
            }
            (None, None) => None,
        })
    }

    pub fn fetch_options(
        &self,
        insecure: &[String],
        offline_fallback: bool,
    ) -> anyhow::Result<FetchOptions> {
        let defaults = FetchOptions::default();
        Ok(FetchOptions {
            registry: RegistryOptions {
                insecure: insecure.to_vec(),
            },
            cache: self.policy_cache.clone().or(defaults.cache),
            trust: self.trust()?.map(Arc::new),
            public_root: None,
            offline_fallback,
            timeout: Duration::from_secs(60),
        })
    }

    /// Fetches the remote `-p` values of `load` (synchronously) and puts the sets into it;
    /// returns the errors (naming each location) and the labels (`location@digest`) for the
    /// summary.
    pub fn resolve(
        &self,
        load: &mut LoadOptions,
        insecure: &[String],
    ) -> anyhow::Result<(Vec<ToolError>, Vec<String>)> {
        let (local, remote) = crate::remote::split(&load.policy_paths);
        if remote.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let opts = self.fetch_options(insecure, false)?;
        let (_, sets, errors) = crate::remote::fetch_all_blocking(&load.policy_paths, &opts);
        load.policy_paths = local;
        load.remote_requested = true;
        let labels = sets.iter().map(|s| s.label()).collect();
        load.remote = sets;
        Ok((errors, labels))
    }
}
