//! cosign's signer flags, shared by `verify-blob` and `verify-image`: a managed key, or a
//! keyless certificate identity and OIDC issuer (exact or regular expression), and the Sigstore
//! trusted root to verify against.

#[derive(Debug, Clone, clap::Args)]
pub struct SignerArgs {
    /// A managed public key (PEM), as `cosign verify --key`, instead of a keyless identity.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["certificate_identity", "certificate_identity_regexp"])]
    pub key: Option<String>,

    /// Keyless: the certificate identity (SAN: email or URI), exactly.
    #[arg(
        long,
        value_name = "IDENTITY",
        conflicts_with = "certificate_identity_regexp"
    )]
    pub certificate_identity: Option<String>,

    /// Keyless: the certificate identity, as a regular expression.
    #[arg(long, value_name = "REGEX")]
    pub certificate_identity_regexp: Option<String>,

    /// Keyless: the certificate's OIDC issuer, exactly.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "certificate_oidc_issuer_regexp"
    )]
    pub certificate_oidc_issuer: Option<String>,

    /// Keyless: the certificate's OIDC issuer, as a regular expression.
    #[arg(long, value_name = "REGEX")]
    pub certificate_oidc_issuer_regexp: Option<String>,

    /// A Sigstore `trusted_root.json` (or a policy-controller TrustRoot document) to verify
    /// keyless signatures against (default: the public-good root embedded in policyctl).
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<String>,
}

/// A signer as flags name it: a key file, or a keyless identity and issuer (exact or regular
/// expression), with an optional trusted root.
pub struct Signer<'a> {
    pub key: Option<&'a str>,
    pub identity: Option<&'a str>,
    pub identity_regexp: Option<&'a str>,
    pub issuer: Option<&'a str>,
    pub issuer_regexp: Option<&'a str>,
    pub trusted_root: Option<&'a str>,
    /// The issuer flags, for the message when they are missing.
    pub flags: &'a str,
}

/// The ClusterImagePolicy a signer describes (every image, one authority), and the TrustRoot its
/// trusted root names; `None` without a signer.
pub fn signer_policy(
    s: &Signer<'_>,
) -> anyhow::Result<
    Option<(
        crate::supply::policy::ImagePolicy,
        Vec<crate::supply::keyless::TrustRoot>,
    )>,
> {
    use anyhow::Context;
    use serde_json::json;
    let mut roots = Vec::new();
    let authority = if let Some(path) = s.key {
        let pem = std::fs::read_to_string(path).with_context(|| format!("key {path}"))?;
        json!({"name": "key", "key": {"data": pem}})
    } else if s.identity.is_some() || s.identity_regexp.is_some() {
        let mut identity = serde_json::Map::new();
        match (s.identity, s.identity_regexp) {
            (Some(v), _) => identity.insert("subject".into(), json!(v)),
            (None, Some(r)) => identity.insert("subjectRegExp".into(), json!(r)),
            _ => None,
        };
        match (s.issuer, s.issuer_regexp) {
            (Some(v), _) => identity.insert("issuer".into(), json!(v)),
            (None, Some(r)) => identity.insert("issuerRegExp".into(), json!(r)),
            (None, None) => anyhow::bail!("a keyless signer needs {}", s.flags),
        };
        let mut keyless = json!({"identities": [identity]});
        if let Some(path) = s.trusted_root {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("trusted root {path}"))?;
            roots.push(trusted_root(path, &text)?);
            keyless["trustRootRef"] = json!("command-line");
        }
        json!({"name": "keyless", "keyless": keyless})
    } else {
        return Ok(None);
    };
    let doc = json!({
        "apiVersion": "policy.sigstore.dev/v1beta1", "kind": "ClusterImagePolicy",
        "metadata": {"name": "command-line"},
        "spec": {"images": [{"glob": "**"}], "authorities": [authority]},
    });
    let policy = crate::supply::policy::image_policy(&doc, "<command line>", "", 0)
        .map_err(|e| anyhow::anyhow!(e.message))?;
    Ok(Some((policy, roots)))
}

/// A trusted root file: Sigstore's `trusted_root.json`, or a policy-controller TrustRoot
/// document (YAML/JSON, `kind: TrustRoot`), named `command-line` for the authority that uses it.
fn trusted_root(path: &str, text: &str) -> anyhow::Result<crate::supply::keyless::TrustRoot> {
    let doc: Option<serde_json::Value> = serde_yaml::from_str(text).ok();
    let mut root = match doc {
        Some(d) if d.get("kind").and_then(serde_json::Value::as_str) == Some("TrustRoot") => {
            crate::supply::keyless::trust_root(&d, path, text, 1)
                .map_err(|e| anyhow::anyhow!("{}", e.display()))?
        }
        _ => crate::supply::keyless::TrustRoot::from_trusted_root_json("command-line", text)
            .map_err(|e| anyhow::anyhow!("trusted root {path}: {e}"))?,
    };
    root.name = "command-line".into();
    Ok(root)
}
