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

    /// A Sigstore `trusted_root.json` to verify keyless signatures against (default: the
    /// public-good root embedded in policyctl).
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<String>,
}
