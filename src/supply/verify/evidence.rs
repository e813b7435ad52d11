//! What the registry holds for one digest, fetched at most once per verification and shared
//! by every authority that reads the same signature source: cosign `.sig`/`.att` layers (under
//! `source[].oci`/`tagPrefix` when set), Sigstore bundles attached as OCI referrers, and image
//! configs for `spec.policy.fetchConfigFile`. Fetching only; checks live beside.

use super::super::attestation::Envelope;
use super::super::failure::{fault, Failure};
use super::super::policy::SignatureSource;
use super::super::reference::{cosign_tag, ImageRef};
use super::super::registry::{layers, RegistryError};
use super::super::signature::{BundleLayer, SigLayer};
use super::{Verifier, BUNDLE_ARTIFACT, DSSE, SIGNATURE_ANNOTATION, SIMPLESIGNING};
use oci_client::manifest::OciDescriptor;
use serde_json::Value as Json;
use tokio::sync::OnceCell;

/// What the registry holds for one digest, fetched at most once per verification.
pub(super) struct Evidence {
    pub(super) image: ImageRef,
    pub(super) digest: String,
    /// Where signatures and attestations are read (`source[].oci`, `tagPrefix`).
    pub(super) source: SignatureSource,
    /// The repository they are read from: the image's, or `source[].oci`.
    pub(super) store: ImageRef,
    pub(super) signatures: OnceCell<Result<Vec<SigLayer>, Failure>>,
    pub(super) attestations: OnceCell<Result<Vec<(String, Envelope)>, Failure>>,
    /// DSSE envelopes of cosign's newer bundle format (OCI referrers), fetched only when the
    /// `.sig`/`.att` tags do not settle the question.
    pub(super) bundles: OnceCell<Result<Vec<BundleLayer>, Failure>>,
}

impl Verifier {
    /// policy-controller's `config`: each platform's OCI image config, keyed
    /// `os/architecture[/variant]`.
    pub(super) async fn config_files(
        &self,
        image: &ImageRef,
        digest: &str,
    ) -> Result<Json, Failure> {
        let reference = image.at_digest(digest);
        let manifest = self
            .registry
            .manifest(&reference)
            .await
            .map_err(|e| fault("the image manifest", image, e))?;
        let mut manifests = Vec::new();
        if let Some(list) = manifest.get("manifests").and_then(Json::as_array) {
            for m in list {
                let Some(d) = m.get("digest").and_then(Json::as_str) else {
                    continue;
                };
                let child = self
                    .registry
                    .manifest(&image.at_digest(d))
                    .await
                    .map_err(|e| fault("a platform manifest", image, e))?;
                manifests.push(child);
            }
        } else {
            manifests.push(manifest);
        }
        let mut out = serde_json::Map::new();
        for m in manifests {
            let Some(desc) = m.get("config") else {
                continue;
            };
            let desc: OciDescriptor = serde_json::from_value(desc.clone()).map_err(|e| {
                Failure::new(
                    "image-config",
                    format!("image manifest has an unreadable config descriptor: {e}"),
                )
            })?;
            let blob = self
                .registry
                .blob(&reference, &desc)
                .await
                .map_err(|e| fault("the image config", image, e))?;
            let cfg: Json = serde_json::from_slice(&blob).map_err(|e| {
                Failure::new(
                    "image-config",
                    format!("image config {} is not JSON: {e}", desc.digest),
                )
            })?;
            let field = |k: &str| cfg.get(k).and_then(Json::as_str).unwrap_or("").to_string();
            let mut platform = format!("{}/{}", field("os"), field("architecture"));
            if !field("variant").is_empty() {
                platform = format!("{platform}/{}", field("variant"));
            }
            out.insert(platform, cfg);
        }
        Ok(Json::Object(out))
    }

    pub(super) async fn signatures<'a>(&self, ev: &'a Evidence) -> Result<&'a [SigLayer], Failure> {
        ev.signatures
            .get_or_init(|| self.fetch_signatures(ev))
            .await
            .as_ref()
            .map(Vec::as_slice)
            .map_err(Clone::clone)
    }

    /// The layers of one media type under cosign's `sha256-<hex>.<suffix>` tag, with their
    /// blobs; no tag means no layers.
    pub(super) async fn cosign_layers(
        &self,
        ev: &Evidence,
        suffix: &str,
        media_type: &str,
        what: &str,
    ) -> Result<Vec<(OciDescriptor, Vec<u8>)>, Failure> {
        let tag = format!("{}{}", ev.source.tag_prefix, cosign_tag(&ev.digest, suffix));
        let reference = ev.store.at_tag(&tag);
        Ok(self
            .layers_at(&ev.store, &reference, media_type, what)
            .await?
            .unwrap_or_default())
    }

    /// The layers of one media type in the manifest at `reference`, with their blobs; `None`
    /// when there is no such manifest.
    pub(super) async fn layers_at(
        &self,
        image: &ImageRef,
        reference: &oci_client::Reference,
        media_type: &str,
        what: &str,
    ) -> Result<Option<Vec<(OciDescriptor, Vec<u8>)>>, Failure> {
        let manifest = match self.registry.manifest(reference).await {
            Ok(m) => m,
            Err(RegistryError::NotFound) => return Ok(None),
            Err(e) => return Err(fault(what, image, e)),
        };
        let mut out = Vec::new();
        for layer in layers(&manifest)
            .into_iter()
            .filter(|l| l.media_type == media_type)
        {
            let blob = self
                .registry
                .blob(reference, &layer)
                .await
                .map_err(|e| fault(what, image, e))?;
            out.push((layer, blob));
        }
        Ok(Some(out))
    }

    pub(super) async fn fetch_signatures(&self, ev: &Evidence) -> Result<Vec<SigLayer>, Failure> {
        let layers = self
            .cosign_layers(ev, "sig", SIMPLESIGNING, "signatures")
            .await?;
        Ok(layers
            .into_iter()
            .map(|(layer, payload)| {
                let note = |k: &str| layer.annotations.as_ref().and_then(|a| a.get(k)).cloned();
                SigLayer {
                    id: layer.digest.trim_start_matches("sha256:").to_string(),
                    payload,
                    signature: note(SIGNATURE_ANNOTATION),
                    certificate: note("dev.sigstore.cosign/certificate"),
                    bundle: note("dev.sigstore.cosign/bundle"),
                }
            })
            .collect())
    }

    pub(super) async fn fetch_attestations(
        &self,
        ev: &Evidence,
    ) -> Result<Vec<(String, Envelope)>, Failure> {
        let layers = self.cosign_layers(ev, "att", DSSE, "attestations").await?;
        layers
            .into_iter()
            .map(|(layer, blob)| {
                let id = layer.digest.trim_start_matches("sha256:").to_string();
                serde_json::from_slice::<Envelope>(&blob)
                    .map(|e| (id, e))
                    .map_err(|e| {
                        Failure::new(
                            "attestation-malformed",
                            format!(
                                "attestation layer {} is not a DSSE envelope: {e}",
                                layer.digest
                            ),
                        )
                    })
            })
            .collect()
    }

    /// Bundle-format envelopes attached to the digest as OCI referrers (referrers API or its
    /// `sha256-<hex>` tag fallback), fetched once per verification.
    pub(super) async fn bundles<'a>(&self, ev: &'a Evidence) -> Result<&'a [BundleLayer], Failure> {
        ev.bundles
            .get_or_init(|| self.fetch_bundles(&ev.store, &ev.digest))
            .await
            .as_ref()
            .map(Vec::as_slice)
            .map_err(Clone::clone)
    }

    pub(super) async fn fetch_bundles(
        &self,
        image: &ImageRef,
        digest: &str,
    ) -> Result<Vec<BundleLayer>, Failure> {
        let subject = image.at_digest(digest);
        let referrers = match self.registry.referrers(&subject, BUNDLE_ARTIFACT).await {
            Ok(r) => r,
            Err(RegistryError::NotFound) => return Ok(Vec::new()),
            Err(e) => return Err(fault("signature bundles (referrers)", image, e)),
        };
        let mut out = Vec::new();
        for r in referrers {
            let reference = image.at_digest(&r.digest);
            // A referrer the index lists but the registry cannot serve is a fault, not absence.
            let layers = self
                .layers_at(image, &reference, BUNDLE_ARTIFACT, "a signature bundle")
                .await?
                .ok_or_else(|| {
                    Failure::fault(format!(
                        "signature bundle {} is listed but missing",
                        r.digest
                    ))
                })?;
            for (layer, blob) in layers {
                let bundle: Json = serde_json::from_slice(&blob).map_err(|e| {
                    Failure::new(
                        "image-signature-invalid",
                        format!("signature bundle {} is not JSON: {e}", layer.digest),
                    )
                })?;
                out.push(BundleLayer {
                    id: layer.digest.trim_start_matches("sha256:").to_string(),
                    envelope: bundle
                        .get("dsseEnvelope")
                        .and_then(|e| serde_json::from_value::<Envelope>(e.clone()).ok()),
                    raw: String::from_utf8_lossy(&blob).into_owned(),
                });
            }
        }
        Ok(out)
    }
}
