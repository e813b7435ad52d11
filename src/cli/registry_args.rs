//! Registry and verification flags shared by `check`, `verify-image` (and `serve`).

use crate::eval::supply_chain::SupplyChain;
use crate::supply::registry::{Registry, RegistryOptions};
use crate::supply::verify::{Verifier, VerifierOptions};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct RegistryArgs {
    /// Registry reached over plain HTTP instead of TLS, `host[:port]` (repeatable).
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,

    /// Deadline for verifying one image, in seconds; past it the image is denied (warn-mode
    /// policies: warned).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub timeout: f64,

    /// How long a verdict for (digest, policy) is reused, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub cache_ttl: u64,

    /// What happens to an image that no loaded ClusterImagePolicy matches (policy-controller's
    /// no-match-policy). Only applies when image policies are loaded at all.
    #[arg(long, value_enum, value_name = "ACTION", default_value = "deny")]
    pub no_match_policy: crate::supply::verify::NoMatch,
}

impl RegistryArgs {
    pub fn verifier(
        &self,
        policies: Vec<crate::supply::policy::ImagePolicy>,
        roots: Vec<crate::supply::keyless::TrustRoot>,
    ) -> anyhow::Result<Verifier> {
        if !(self.timeout > 0.0 && self.timeout.is_finite()) {
            anyhow::bail!("--timeout must be a positive number of seconds");
        }
        let registry = Registry::new(&RegistryOptions {
            insecure: self.insecure_registry.clone(),
        });
        let opts = VerifierOptions {
            deadline: Duration::from_secs_f64(self.timeout),
            verdict_ttl: Duration::from_secs(self.cache_ttl),
            no_match: self.no_match_policy,
            ..Default::default()
        };
        Ok(Verifier::with_trust_roots(registry, policies, roots, &opts))
    }

    /// A runtime plus verifier for synchronous callers (`check`).
    pub fn supply_chain(
        &self,
        policies: Vec<crate::supply::policy::ImagePolicy>,
        roots: Vec<crate::supply::keyless::TrustRoot>,
    ) -> anyhow::Result<(tokio::runtime::Runtime, SupplyChain)> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let verifier = Arc::new(self.verifier(policies, roots)?);
        let supply = SupplyChain {
            verifier,
            runtime: runtime.handle().clone(),
        };
        Ok((runtime, supply))
    }
}
