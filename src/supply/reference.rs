//! Image references: parsing (Docker Hub normalisation through oci-client) and the fully
//! qualified name policy-controller matches globs against.

use oci_client::Reference;

/// A parsed image reference, with the text the workload wrote.
#[derive(Debug, Clone)]
pub struct ImageRef {
    pub original: String,
    pub reference: Reference,
}

/// References already parsed, by their text. Parsing runs oci-client's reference regex (~5 µs,
/// 4% of a webhook request), and a cluster admits the same few images over and over. Bounded;
/// a parse error is cached too (the same text always gives the same error).
fn parsed() -> &'static moka::sync::Cache<String, Result<ImageRef, String>> {
    static CACHE: std::sync::OnceLock<moka::sync::Cache<String, Result<ImageRef, String>>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(|| moka::sync::Cache::new(10_000))
}

impl ImageRef {
    pub fn parse(image: &str) -> Result<Self, String> {
        if let Some(hit) = parsed().get(image) {
            return hit;
        }
        let result = image
            .parse::<Reference>()
            .map(|reference| ImageRef {
                original: image.to_string(),
                reference,
            })
            .map_err(|e| format!("invalid image reference {image:?}: {e}"));
        parsed().insert(image.to_string(), result.clone());
        result
    }

    /// go-containerregistry's `Name()`: `index.docker.io/library/nginx:latest`,
    /// `registry:5000/repo@sha256:…` — what policy-controller's globs see.
    pub fn glob_name(&self) -> String {
        let registry = match self.reference.registry() {
            "docker.io" => "index.docker.io",
            other => other,
        };
        let repo = self.reference.repository();
        match (self.reference.digest(), self.reference.tag()) {
            (Some(d), _) => format!("{registry}/{repo}@{d}"),
            (None, Some(t)) => format!("{registry}/{repo}:{t}"),
            (None, None) => format!("{registry}/{repo}:latest"),
        }
    }

    pub fn registry(&self) -> &str {
        self.reference.resolve_registry()
    }

    /// The same repository at `digest`.
    pub fn at_digest(&self, digest: &str) -> Reference {
        Reference::with_digest(
            self.reference.registry().to_string(),
            self.reference.repository().to_string(),
            digest.to_string(),
        )
    }

    /// The same repository at `tag`.
    pub fn at_tag(&self, tag: &str) -> Reference {
        Reference::with_tag(
            self.reference.registry().to_string(),
            self.reference.repository().to_string(),
            tag.to_string(),
        )
    }
}

/// cosign's tag for an object attached to `digest`: `sha256-<hex>.<suffix>`.
pub fn cosign_tag(digest: &str, suffix: &str) -> String {
    format!("{}.{suffix}", digest.replace(':', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_is_normalised_as_go_containerregistry_does() {
        assert_eq!(
            ImageRef::parse("nginx").unwrap().glob_name(),
            "index.docker.io/library/nginx:latest"
        );
        assert_eq!(
            ImageRef::parse("acme/app:1").unwrap().glob_name(),
            "index.docker.io/acme/app:1"
        );
        assert_eq!(
            ImageRef::parse("127.0.0.1:5000/team/app@sha256:0123456789012345678901234567890123456789012345678901234567890123").unwrap().glob_name(),
            "127.0.0.1:5000/team/app@sha256:0123456789012345678901234567890123456789012345678901234567890123"
        );
        assert!(ImageRef::parse("app:bad tag!").is_err());
        // A second parse of the same text (a cache hit) gives the same answer.
        assert!(ImageRef::parse("app:bad tag!")
            .unwrap_err()
            .contains("invalid image reference"));
        assert_eq!(
            ImageRef::parse("acme/app:1").unwrap().glob_name(),
            "index.docker.io/acme/app:1"
        );
        assert!(
            ImageRef::parse("team/UPPER").is_err(),
            "repository names are lower case"
        );
    }

    #[test]
    fn cosign_tags() {
        assert_eq!(cosign_tag("sha256:abc", "sig"), "sha256-abc.sig");
    }
}
