//! A real OCI registry on loopback (Debian's `docker-registry`, distribution 2.8) and fixture
//! producers: images, cosign `.sig` signatures, `.att` DSSE attestations, SBOM referrers —
//! signed in process with sigstore's signer, or independently with the `openssl` CLI and
//! pushed with `skopeo`.
#![allow(dead_code)]

use base64::Engine as _;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::{Client, Reference};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `docker-registry` serving a temp dir on 127.0.0.1; killed on drop.
pub struct TestRegistry {
    pub addr: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl TestRegistry {
    pub fn start() -> TestRegistry {
        Self::start_with(None)
    }

    /// A registry that requires HTTP basic auth (htpasswd, bcrypt) for every request.
    pub fn start_with_auth(user: &str, password: &str) -> TestRegistry {
        Self::start_with(Some((user, password)))
    }

    fn start_with(auth: Option<(&str, &str)>) -> TestRegistry {
        let bin = ["/usr/bin/docker-registry", "/usr/sbin/docker-registry"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("docker-registry is installed (scripts/install-test-deps.sh installs it)");
        let dir = tempfile::tempdir().unwrap();
        for _attempt in 0..5 {
            let port = free_port();
            let addr = format!("127.0.0.1:{port}");
            let config = dir.path().join("config.yml");
            let mut text = format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
                dir.path().join("data").display()
            );
            if let Some((user, password)) = auth {
                let hash = bcrypt::hash(password, 4).unwrap();
                let htpasswd = dir.path().join("htpasswd");
                std::fs::write(&htpasswd, format!("{user}:{hash}\n")).unwrap();
                text.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                    htpasswd.display()
                ));
            }
            std::fs::write(&config, text).unwrap();
            let mut child = Command::new(bin)
                .arg("serve")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if matches!(http_status(&addr, "/v2/"), Some(200 | 401)) {
                    return TestRegistry {
                        addr,
                        child,
                        _dir: dir,
                    };
                }
                if child.try_wait().unwrap().is_some() {
                    break; // port taken meanwhile: try another
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("docker-registry did not start");
    }

    pub fn image(&self, repo: &str, tag: &str) -> String {
        format!("{}/{repo}:{tag}", self.addr)
    }

    /// The registry's storage: `docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data` holds each
    /// blob and manifest (tests corrupt them there to play a tampering registry).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self._dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace().nth(1)?.parse().ok()
}

/// A TCP server that accepts connections and never answers (a hung registry). Stops by itself
/// after `lifetime`.
pub fn silent_server(lifetime: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let end = Instant::now() + lifetime;
        let mut held = Vec::new();
        while Instant::now() < end {
            if let Ok((conn, _)) = listener.accept() {
                held.push(conn);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    addr
}

/// Pushes fixtures to a test registry over plain HTTP.
pub struct Pusher {
    client: Client,
    pub registry: String,
    rt: tokio::runtime::Runtime,
}

impl Pusher {
    pub fn new(registry: &str) -> Pusher {
        let client = Client::new(ClientConfig {
            protocol: ClientProtocol::Http,
            ..Default::default()
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Pusher {
            client,
            registry: registry.to_string(),
            rt,
        }
    }

    /// A pusher that authenticates with basic auth.
    pub fn with_auth(registry: &str, user: &str, password: &str) -> Pusher {
        let p = Pusher::new(registry);
        let auth = oci_client::secrets::RegistryAuth::Basic(user.into(), password.into());
        p.rt.block_on(p.client.store_auth_if_needed(registry, &auth));
        p
    }

    fn reference(&self, repo: &str, tag: &str) -> Reference {
        Reference::with_tag(self.registry.clone(), repo.to_string(), tag.to_string())
    }

    pub fn blob(&self, repo: &str, data: &[u8]) -> Value {
        let digest = sha256(data);
        let r = self.reference(repo, "x");
        self.rt
            .block_on(self.client.push_blob(&r, data.to_vec(), &digest))
            .unwrap();
        json!({"mediaType": "application/octet-stream", "digest": digest, "size": data.len()})
    }

    /// Pushes a manifest (JSON) at `tag`; returns its digest.
    pub fn manifest(&self, repo: &str, tag: &str, manifest: &Value, media_type: &str) -> String {
        self.manifest_bytes(repo, tag, serde_json::to_vec(manifest).unwrap(), media_type)
    }

    /// Pushes manifest bytes as they are (byte-exact, for real artefacts); returns the digest.
    pub fn manifest_bytes(
        &self,
        repo: &str,
        tag: &str,
        bytes: Vec<u8>,
        media_type: &str,
    ) -> String {
        let r = self.reference(repo, tag);
        let ct = http::HeaderValue::from_str(media_type).unwrap();
        self.rt
            .block_on(self.client.push_manifest_raw(&r, bytes.clone(), ct))
            .unwrap();
        sha256(&bytes)
    }

    fn config(&self, repo: &str, content: &str) -> Value {
        let cfg = json!({"architecture": "amd64", "os": "linux", "config": {"Labels": {"fixture": content}}, "rootfs": {"type": "layers", "diff_ids": []}});
        let mut d = self.blob(repo, serde_json::to_vec(&cfg).unwrap().as_slice());
        d["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
        d
    }

    /// A small image whose content differs by `content`; returns its digest.
    pub fn image(&self, repo: &str, tag: &str, content: &str) -> String {
        let config = self.config(repo, content);
        let mut layer = self.blob(repo, format!("layer of {content}").as_bytes());
        layer["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar");
        let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]});
        self.manifest(repo, tag, &manifest, OCI_MANIFEST)
    }

    /// Pushes a cosign `.sig` manifest for `digest` with the given (payload, base64 signature)
    /// layers.
    pub fn signatures(&self, repo: &str, digest: &str, layers: &[(Vec<u8>, String)]) {
        let config = self.config(repo, "cosign");
        let layers: Vec<Value> = layers
            .iter()
            .map(|(payload, sig)| {
                let mut d = self.blob(repo, payload);
                d["mediaType"] = json!("application/vnd.dev.cosign.simplesigning.v1+json");
                d["annotations"] = json!({"dev.cosignproject.cosign/signature": sig});
                d
            })
            .collect();
        let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers});
        self.manifest(repo, &cosign_tag(digest, "sig"), &manifest, OCI_MANIFEST);
    }

    /// Pushes a keyless cosign signature: certificate and Rekor bundle annotations.
    pub fn keyless_signature(
        &self,
        repo: &str,
        digest: &str,
        payload: &[u8],
        sig: &str,
        cert_pem: &str,
        bundle: &str,
    ) {
        self.annotated_signature(
            repo,
            &cosign_tag(digest, "sig"),
            payload,
            json!({
                "dev.cosignproject.cosign/signature": sig,
                "dev.sigstore.cosign/certificate": cert_pem,
                "dev.sigstore.cosign/bundle": bundle,
            }),
        );
    }

    /// Pushes one simple-signing layer with these annotations under `tag` of `repo`.
    pub fn annotated_signature(&self, repo: &str, tag: &str, payload: &[u8], annotations: Value) {
        let config = self.config(repo, "cosign-annotated");
        let mut d = self.blob(repo, payload);
        d["mediaType"] = json!("application/vnd.dev.cosign.simplesigning.v1+json");
        d["annotations"] = annotations;
        let manifest =
            json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [d]});
        self.manifest(repo, tag, &manifest, OCI_MANIFEST);
    }

    /// Pushes a cosign `.att` manifest for `digest` with the given DSSE envelopes.
    pub fn attestations(&self, repo: &str, digest: &str, envelopes: &[Value]) {
        let config = self.config(repo, "attestations");
        let layers: Vec<Value> = envelopes
            .iter()
            .map(|env| {
                let mut d = self.blob(repo, serde_json::to_vec(env).unwrap().as_slice());
                d["mediaType"] = json!("application/vnd.dsse.envelope.v1+json");
                d["annotations"] = json!({"dev.cosignproject.cosign/signature": "", "predicateType": env["_predicateType"]});
                d
            })
            .collect();
        let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers});
        self.manifest(repo, &cosign_tag(digest, "att"), &manifest, OCI_MANIFEST);
    }

    /// Attaches an unsigned CycloneDX SBOM as an OCI referrer of `digest`.
    pub fn sbom_referrer(&self, repo: &str, digest: &str, image_manifest_size: usize) {
        let sbom = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1}"#;
        let ct = "application/vnd.cyclonedx+json";
        self.referrers(
            repo,
            digest,
            image_manifest_size,
            &[(ct, ct, sbom.to_vec())],
        );
    }

    /// Attaches sigstore bundles (cosign's newer format) holding these DSSE envelopes.
    pub fn bundle_referrers(&self, repo: &str, digest: &str, envelopes: &[Value]) {
        let bt = "application/vnd.dev.sigstore.bundle.v0.3+json";
        let items: Vec<(&str, &str, Vec<u8>)> = envelopes
            .iter()
            .map(|env| {
                let mut env = env.clone();
                env.as_object_mut().unwrap().remove("_predicateType");
                let bundle = json!({"mediaType": bt, "verificationMaterial": {"publicKey": {"hint": ""}}, "dsseEnvelope": env});
                (bt, bt, serde_json::to_vec(&bundle).unwrap())
            })
            .collect();
        self.referrers(repo, digest, 400, &items);
    }

    /// Pushes one referrer manifest per (artifactType, layer media type, blob) with `subject`
    /// = `digest`, and the `sha256-<hex>` tag index listing them (the referrers fallback that
    /// distribution 2.8 needs).
    /// Attaches artefacts (artifactType, layer media type, bytes) to `digest` as OCI referrers
    /// (a manifest each with `subject`, listed in the `sha256-<hex>` fallback tag index).
    pub fn referrers(
        &self,
        repo: &str,
        digest: &str,
        subject_size: usize,
        items: &[(&str, &str, Vec<u8>)],
    ) {
        let mut entries = Vec::new();
        for (i, (artifact_type, media_type, blob)) in items.iter().enumerate() {
            let mut config = self.blob(repo, b"{}");
            config["mediaType"] = json!("application/vnd.oci.empty.v1+json");
            let mut layer = self.blob(repo, blob);
            layer["mediaType"] = json!(media_type);
            let manifest = json!({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
                "config": config, "layers": [layer],
                "subject": {"mediaType": OCI_MANIFEST, "digest": digest, "size": subject_size}
            });
            let bytes = serde_json::to_vec(&manifest).unwrap();
            let mdigest = self.manifest(repo, &format!("referrer-{i}"), &manifest, OCI_MANIFEST);
            entries.push(json!({"mediaType": OCI_MANIFEST, "digest": mdigest, "size": bytes.len(), "artifactType": artifact_type}));
        }
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
        self.manifest(repo, &digest.replace(':', "-"), &index, OCI_INDEX);
    }
}

/// A ClusterImagePolicy requiring a signature by `key_pem` for images matching `glob`.
pub fn key_policy_yaml(name: &str, glob: &str, mode: &str, key_pem: &str) -> String {
    let key: String = key_pem
        .lines()
        .map(|l| format!("          {l}\n"))
        .collect();
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: {name}}}\nspec:\n  mode: {mode}\n  images: [{{glob: \"{glob}\"}}]\n  authorities:\n    - key:\n        data: |\n{key}"
    )
}

/// A verifier for images under `reg` signed by `key_pem`, requiring `attestations` (a JSON list
/// of policy-controller attestation entries), reaching `reg` over plain HTTP.
pub fn key_verifier(
    reg: &str,
    key_pem: &str,
    attestations: Value,
) -> std::sync::Arc<policyctl::supply::verify::Verifier> {
    use policyctl::supply::registry::{Registry, RegistryOptions};
    use policyctl::supply::verify::{Verifier, VerifierOptions};
    let doc = json!({
        "apiVersion": "policy.sigstore.dev/v1beta1", "kind": "ClusterImagePolicy",
        "metadata": {"name": "key"},
        "spec": {"images": [{"glob": format!("{reg}/**")}],
                 "authorities": [{"key": {"data": key_pem}, "attestations": attestations}]}
    });
    let policy = policyctl::supply::policy::image_policy(&doc, "key.yaml", "", 1).unwrap();
    let registry = Registry::new(&RegistryOptions {
        insecure: vec![reg.to_string()],
    });
    std::sync::Arc::new(Verifier::new(
        registry,
        vec![policy],
        &VerifierOptions::default(),
    ))
}

/// Pushes a cosign signature of `digest` by `key`.
impl Pusher {
    pub fn sign(&self, repo: &str, digest: &str, key: &Key) {
        let payload = simple_signing(&format!("{}/{repo}", self.registry), digest);
        self.signatures(repo, digest, &[(payload.clone(), b64(&key.sign(&payload)))]);
    }
}

pub fn cosign_tag(digest: &str, suffix: &str) -> String {
    format!("{}.{suffix}", digest.replace(':', "-"))
}

/// cosign's simple-signing payload for `image` at `digest`.
pub fn simple_signing(image_repo: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "critical": {
            "identity": {"docker-reference": image_repo},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature"
        },
        "optional": null
    }))
    .unwrap()
}

/// An in-toto statement about `subject_digest`.
pub fn statement(predicate_type: &str, subject_digest: &str, predicate: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": predicate_type,
        "subject": [{"name": "image", "digest": {"sha256": subject_digest.trim_start_matches("sha256:")}}],
        "predicate": predicate
    }))
    .unwrap()
}

pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A DSSE envelope around `statement`, signed by `sign` (raw signature bytes over the PAE).
pub fn envelope(statement: &[u8], predicate_type: &str, sign: &dyn Fn(&[u8]) -> Vec<u8>) -> Value {
    let pt = "application/vnd.in-toto+json";
    let sig = sign(&pae(pt, statement));
    json!({"payloadType": pt, "payload": b64(statement), "signatures": [{"keyid": "", "sig": b64(&sig)}], "_predicateType": predicate_type})
}

pub fn cyclonedx() -> Value {
    json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
           "components": [{"type": "library", "name": "left-pad", "version": "1.3.0"}]})
}

/// An ECDSA P-256 key made by sigstore's signer.
pub struct Key {
    signer: sigstore::crypto::SigStoreSigner,
    pub public_pem: String,
}

impl Key {
    pub fn generate() -> Key {
        let signer = sigstore::crypto::SigningScheme::ECDSA_P256_SHA256_ASN1
            .create_signer()
            .unwrap();
        let public_pem = signer
            .to_sigstore_keypair()
            .unwrap()
            .public_key_to_pem()
            .unwrap();
        Key { signer, public_pem }
    }

    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.signer.sign(msg).unwrap()
    }

    /// DER SubjectPublicKeyInfo (log IDs are its sha256).
    pub fn public_der(&self) -> Vec<u8> {
        self.signer
            .to_sigstore_keypair()
            .unwrap()
            .public_key_to_der()
            .unwrap()
    }
}

/// An ECDSA P-256 key made and used by the `openssl` CLI: the independent producer.
pub struct OpensslKey {
    dir: tempfile::TempDir,
    pub public_pem: String,
}

impl OpensslKey {
    pub fn generate() -> OpensslKey {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        run(
            "openssl",
            &[
                "ecparam",
                "-genkey",
                "-name",
                "prime256v1",
                "-noout",
                "-out",
                key.to_str().unwrap(),
            ],
        );
        let out = Command::new("openssl")
            .args(["ec", "-in", key.to_str().unwrap(), "-pubout"])
            .stderr(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success());
        OpensslKey {
            public_pem: String::from_utf8(out.stdout).unwrap(),
            dir,
        }
    }

    /// `openssl dgst -sha256 -sign key.pem` over `msg`: a DER ECDSA signature.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        openssl_sign(&self.dir.path().join("key.pem"), msg)
    }
}

pub fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An OCI image layout on disk, pushed with `skopeo copy` (the independent upload path).
pub struct Layout {
    pub dir: tempfile::TempDir,
    manifests: Vec<Value>,
}

impl Layout {
    pub fn new() -> Layout {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
        std::fs::write(
            dir.path().join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        Layout {
            dir,
            manifests: Vec::new(),
        }
    }

    pub fn blob(&self, data: &[u8], media_type: &str) -> Value {
        let digest = sha256(data);
        std::fs::write(self.blob_path(&digest), data).unwrap();
        json!({"mediaType": media_type, "digest": digest, "size": data.len()})
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir
            .path()
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    }

    /// Adds a manifest under `name`; returns its digest.
    pub fn manifest(&mut self, name: &str, layers: Vec<Value>) -> String {
        let config = self.blob(
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
            "application/vnd.oci.image.config.v1+json",
        );
        let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers});
        let bytes = serde_json::to_vec(&manifest).unwrap();
        let d = self.blob(&bytes, OCI_MANIFEST);
        self.manifests.push(json!({"mediaType": OCI_MANIFEST, "digest": d["digest"], "size": d["size"], "annotations": {"org.opencontainers.image.ref.name": name}}));
        let index = json!({"schemaVersion": 2, "manifests": self.manifests});
        std::fs::write(
            self.dir.path().join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
        d["digest"].as_str().unwrap().to_string()
    }

    /// `skopeo copy --preserve-digests oci:DIR:name docker://dest`.
    pub fn push(&self, name: &str, dest: &str) {
        let src = format!("oci:{}:{name}", self.dir.path().display());
        let dst = format!("docker://{dest}");
        run(
            "skopeo",
            &[
                "copy",
                "--quiet",
                "--preserve-digests",
                "--dest-tls-verify=false",
                &src,
                &dst,
            ],
        );
    }
}

/// `openssl dgst -sha256 -sign KEY` over `msg` (written next to the key): a DER ECDSA signature,
/// made by a tool independent of the code under test.
pub fn openssl_sign(key: &Path, msg: &[u8]) -> Vec<u8> {
    let input = key.with_extension("msg");
    std::fs::write(&input, msg).unwrap();
    let out = Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-sign",
            key.to_str().unwrap(),
            input.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
