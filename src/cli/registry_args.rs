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

    /// Refresh the public-good Sigstore root (used by keyless authorities without
    /// trustRootRef) from this TUF mirror at start, e.g. https://tuf-repo-cdn.sigstore.dev;
    /// on any failure the root embedded in policyctl is used (logged). Off by default: no
    /// network access unless asked.
    #[arg(long, value_name = "URL")]
    pub tuf_mirror: Option<String>,

    /// The trusted TUF root.json for --tuf-mirror (default: Sigstore's production TUF root,
    /// embedded).
    #[arg(long, value_name = "FILE", requires = "tuf_mirror")]
    pub tuf_root: Option<String>,

    /// Cache directory for TUF metadata and targets (verified again on every load).
    #[arg(long, value_name = "DIR", requires = "tuf_mirror")]
    pub tuf_cache: Option<std::path::PathBuf>,
}

impl RegistryArgs {
    /// The TUF refresh the flags ask for, if any.
    pub fn tuf_source(&self) -> anyhow::Result<Option<crate::supply::tuf::TufSource>> {
        let Some(mirror) = &self.tuf_mirror else {
            return Ok(None);
        };
        let root = match &self.tuf_root {
            Some(path) => {
                Some(std::fs::read(path).map_err(|e| anyhow::anyhow!("--tuf-root {path}: {e}"))?)
            }
            None => None,
        };
        Ok(Some(crate::supply::tuf::TufSource {
            mirror: mirror.clone(),
            root,
            cache: self.tuf_cache.clone(),
        }))
    }

    /// The public-good root for keyless authorities: refreshed through TUF when asked.
    pub fn public_root(
        &self,
        runtime: &tokio::runtime::Runtime,
    ) -> anyhow::Result<Option<Arc<crate::supply::keyless::TrustRoot>>> {
        let Some(source) = self.tuf_source()? else {
            return Ok(None);
        };
        let root = runtime
            .block_on(crate::supply::tuf::public_root(Some(&source)))
            .map_err(|e| anyhow::anyhow!(e))?;
        Ok(Some(Arc::new(root)))
    }

    pub fn verifier(
        &self,
        policies: Vec<crate::supply::policy::ImagePolicy>,
        roots: Vec<crate::supply::keyless::TrustRoot>,
        public_root: Option<Arc<crate::supply::keyless::TrustRoot>>,
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
            public_root,
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
        let public_root = self.public_root(&runtime)?;
        let verifier = Arc::new(self.verifier(policies, roots, public_root)?);
        let supply = SupplyChain {
            verifier,
            runtime: runtime.handle().clone(),
        };
        Ok((runtime, supply))
    }
}
