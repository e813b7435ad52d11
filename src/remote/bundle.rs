//! OPA bundles (`.tar.gz`): `.manifest` (revision, roots), `data.json`/`data.yaml` placed at
//! their directory's path, `.rego` modules, and `.signatures.json` — OPA's bundle signing: one
//! JWT whose payload lists every file with its hash; JSON/YAML data and the manifest are hashed
//! in OPA's canonical form (keys sorted, no whitespace, numbers as written), other files as
//! bytes. Read as OPA's bundle reader does, refusing what it refuses.

use super::{cache, safe_relative_path, FetchOptions, RemoteSet, Role, SetFile, Trust};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Largest bundle archive read (compressed), and largest unpacked total (a gzip bomb stops here).
const MAX_ARCHIVE: usize = 64 * 1024 * 1024;
const MAX_UNPACKED: u64 = 256 * 1024 * 1024;
const MAX_ENTRIES: usize = 20_000;

/// A local bundle archive.
pub fn fetch_file(path: &Path, opts: &FetchOptions) -> Result<RemoteSet, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read bundle: {e}"))?;
    if meta.len() > MAX_ARCHIVE as u64 {
        return Err(format!(
            "bundle is {} bytes, over the {MAX_ARCHIVE} byte limit",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read bundle: {e}"))?;
    read(
        &path.display().to_string(),
        &bytes,
        opts.trust.as_deref(),
        "",
    )
}

/// A bundle served over HTTP(S). Plain HTTP only for hosts named with `--insecure-registry`
/// (as for registries); with `offline_fallback`, an unreachable server means the last copy this
/// cache fetched for the URL.
pub async fn fetch_url(url: &str, opts: &FetchOptions) -> Result<RemoteSet, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a valid URL: {e}"))?;
    if parsed.scheme() == "http" {
        let host = parsed.host_str().unwrap_or("");
        let host_port = match parsed.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let host_port = host_port.trim_start_matches('[').replace("]:", ":");
        if !opts
            .registry
            .insecure
            .iter()
            .any(|h| h == host || h == &host_port || h.trim_matches(['[', ']']) == host)
        {
            return Err(format!(
                "plain HTTP refused for {host}: use https://, or name the host with --insecure-registry {host_port}"
            ));
        }
    }
    let dir = opts.cache.as_deref();
    let downloaded = download(url, opts).await;
    let (bytes, stale) = match downloaded {
        Ok(b) => (b, None),
        Err(Download::Answer(e)) => return Err(e),
        Err(Download::Fault(e)) => {
            let cached = if opts.offline_fallback {
                cache::last_digest(dir, url).and_then(|d| cache::blob(dir, &d))
            } else {
                None
            };
            match cached {
                Some(b) => (
                    b,
                    Some(format!(
                        "server unreachable ({e}); serving the last copy fetched"
                    )),
                ),
                None => return Err(format!("cannot download bundle: {e}")),
            }
        }
    };
    let digest = cache::digest(&bytes);
    let mut set = read(url, &bytes, opts.trust.as_deref(), "")?;
    if stale.is_none() {
        cache::put_blob(dir, &digest, &bytes);
        cache::put_last_digest(dir, url, &digest);
    }
    set.stale = stale;
    Ok(set)
}

enum Download {
    /// The server answered, and the answer is final (404, 403, too large).
    Answer(String),
    /// The server could not be reached or failed (5xx): a fault.
    Fault(String),
}

async fn download(url: &str, opts: &FetchOptions) -> Result<Vec<u8>, Download> {
    let client = reqwest::Client::builder()
        .timeout(opts.timeout)
        .build()
        .map_err(|e| Download::Fault(e.to_string()))?;
    let mut resp = client.get(url).send().await.map_err(|e| {
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg = format!("{msg}: {s}");
            source = s.source();
        }
        Download::Fault(msg)
    })?;
    let status = resp.status();
    if status.is_server_error() {
        return Err(Download::Fault(format!("HTTP {status}")));
    }
    if !status.is_success() {
        return Err(Download::Answer(format!(
            "HTTP {status} (no bundle at this URL)"
        )));
    }
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_ARCHIVE as u64)
    {
        return Err(Download::Answer(format!(
            "bundle is over the {MAX_ARCHIVE} byte limit"
        )));
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Download::Fault(e.to_string()))?
    {
        out.extend_from_slice(&chunk);
        if out.len() > MAX_ARCHIVE {
            return Err(Download::Answer(format!(
                "bundle is over the {MAX_ARCHIVE} byte limit"
            )));
        }
    }
    Ok(out)
}

/// The `.manifest` fields policyctl reads; anything else in it is kept by OPA and ignored here.
#[derive(Debug, Default, serde::Deserialize)]
struct Manifest {
    #[serde(default)]
    revision: String,
    roots: Option<Vec<String>>,
    #[serde(default)]
    wasm: Vec<Json>,
    #[serde(default, rename = "rego_version")]
    _rego_version: Option<u8>,
    #[serde(default, rename = "metadata")]
    _metadata: Option<serde_json::Map<String, Json>>,
    #[serde(default, rename = "file_rego_versions")]
    _file_rego_versions: Option<BTreeMap<String, u8>>,
}

/// Reads a bundle archive. `name_prefix` is put before file names in errors (for bundles inside
/// OCI layers). With `trust`, the bundle must carry a `.signatures.json` that verifies against
/// its key and covers every file; without, a signed bundle is refused as OPA refuses it (a
/// signature nobody checks would look like assurance).
pub fn read(
    location: &str,
    archive: &[u8],
    trust: Option<&Trust>,
    name_prefix: &str,
) -> Result<RemoteSet, String> {
    let files = unpack(archive)?;
    let digest = cache::digest(archive);
    let signatures = files.get(".signatures.json");
    match (trust, signatures) {
        (Some(t), sigs) => {
            let Some(key) = &t.bundle_key else {
                return Err(
                    "OPA bundles are signed with a key (.signatures.json); --policy-identity/--policy-issuer apply to OCI policy sets — verify bundles with --policy-key"
                        .into(),
                );
            };
            let Some(sigs) = sigs else {
                return Err(format!(
                    "bundle is not signed (no .signatures.json) but {} is required",
                    t.description
                ));
            };
            verify(&files, sigs, key, "")?;
        }
        (None, Some(_)) => {
            return Err(
                "bundle is signed (.signatures.json) but no --policy-key was given to verify it (OPA refuses such a bundle too: \"verification key not provided\")"
                    .into(),
            )
        }
        (None, None) => {}
    }
    let manifest: Manifest = match files.get(".manifest") {
        Some(bytes) => serde_json::from_slice(bytes)
            .map_err(|e| format!("malformed .manifest: {e} (expected a JSON object with \"revision\" and \"roots\", as `opa build` writes it)"))?,
        None => Manifest::default(),
    };
    if !manifest.wasm.is_empty() || files.keys().any(|p| p.ends_with("policy.wasm")) {
        return Err("bundle holds Wasm modules; policyctl evaluates Rego source only (build the bundle without -t wasm)".into());
    }
    if files.keys().any(|p| p == "patch.json") {
        return Err(
            "delta bundles (patch.json) are not supported: publish a snapshot bundle".into(),
        );
    }
    let roots: Vec<String> = manifest
        .roots
        .clone()
        .unwrap_or_else(|| vec![String::new()])
        .iter()
        .map(|r| r.trim_matches('/').to_string())
        .collect();
    for i in 0..roots.len() {
        for j in i + 1..roots.len() {
            if overlap(&roots[i], &roots[j]) {
                return Err(format!(
                    "malformed .manifest: roots '{}' and '{}' overlap",
                    roots[i], roots[j]
                ));
            }
        }
    }
    let mut set_files = Vec::new();
    let mut data = Vec::new();
    for (path, bytes) in &files {
        let base = path.rsplit('/').next().unwrap_or(path);
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        let shown = format!("{name_prefix}{path}");
        if path.ends_with(".rego") {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| format!("{shown}: policy is not valid UTF-8"))?;
            let package =
                package_path(text).ok_or_else(|| format!("{shown}: no package declaration"))?;
            if !roots.iter().any(|r| contains(r, &package)) {
                return Err(format!(
                    "manifest roots {roots:?} do not permit package '{}' in {shown}",
                    package.replace('/', ".")
                ));
            }
            set_files.push(SetFile {
                path: path.clone(),
                bytes: bytes.clone(),
                role: Role::Policy,
            });
        } else if base == "data.json" || base == "data.yaml" || base == "data.yml" {
            let value: Json = if base == "data.json" {
                serde_json::from_slice(bytes).map_err(|e| format!("{shown}: {e}"))?
            } else {
                let text =
                    std::str::from_utf8(bytes).map_err(|_| format!("{shown}: not valid UTF-8"))?;
                serde_yaml::from_str(text).map_err(|e| format!("{shown}: {e}"))?
            };
            check_data_roots(&roots, dir, &value).map_err(|p| {
                format!("manifest roots {roots:?} do not permit data at path '/{p}' ({shown})")
            })?;
            let mut placed = value;
            for seg in dir.split('/').rev().filter(|s| !s.is_empty()) {
                placed = serde_json::json!({ seg: placed });
            }
            data.push((shown, placed));
            set_files.push(SetFile {
                path: path.clone(),
                bytes: bytes.clone(),
                role: Role::Raw,
            });
        } else {
            // Policy documents (Gatekeeper, ClusterImagePolicy) are policyctl's own addition;
            // any other file OPA ignores is kept only so `pull` writes the bundle out whole.
            let role = match super::role_of(path) {
                Some(Role::Data) => Role::Data,
                _ => Role::Raw,
            };
            set_files.push(SetFile {
                path: path.clone(),
                bytes: bytes.clone(),
                role,
            });
        }
    }
    Ok(RemoteSet {
        location: location.to_string(),
        digest,
        revision: Some(manifest.revision).filter(|r| !r.is_empty()),
        files: set_files,
        data,
        verified: trust.map(|t| t.description.clone()),
        stale: None,
    })
}

/// The archive's regular files by normalized path. Links, absolute or escaping names, duplicate
/// names and oversized contents are refused.
fn unpack(archive: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let gz = flate2::read::GzDecoder::new(archive);
    let mut tar = tar::Archive::new(gz.take(MAX_UNPACKED + 1));
    let mut files = BTreeMap::new();
    let entries = tar
        .entries()
        .map_err(|e| format!("not a gzipped tar archive: {e}"))?;
    let mut total: u64 = 0;
    for (i, entry) in entries.enumerate() {
        if i >= MAX_ENTRIES {
            return Err(format!("bundle has more than {MAX_ENTRIES} entries"));
        }
        let mut entry = entry.map_err(|e| format!("corrupt bundle archive: {e}"))?;
        let kind = entry.header().entry_type();
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if !kind.is_file() {
            return Err(format!(
                "bundle entry {raw_name:?} is a link or special file; bundles hold regular files only"
            ));
        }
        let name = safe_relative_path(raw_name.trim_start_matches('/'))?;
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| format!("corrupt bundle archive at {name}: {e}"))?;
        total += bytes.len() as u64;
        if total > MAX_UNPACKED {
            return Err(format!("bundle unpacks to more than {MAX_UNPACKED} bytes"));
        }
        if files.insert(name.clone(), bytes).is_some() {
            return Err(format!("bundle holds {name} twice"));
        }
    }
    Ok(files)
}

/// `package a.b.c` → `a/b/c` (the first package line; quoted segments unquoted).
fn package_path(text: &str) -> Option<String> {
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("package ") {
            let name = rest.split('#').next()?.trim();
            let mut segs = Vec::new();
            for part in name.split(['.', '[']) {
                let part = part.trim_end_matches(']').trim_matches('"');
                if !part.is_empty() {
                    segs.push(part.to_string());
                }
            }
            return Some(segs.join("/"));
        }
    }
    None
}

/// `root` contains `path` (segment-wise; the empty root contains everything).
fn contains(root: &str, path: &str) -> bool {
    root.is_empty() || path == root || path.starts_with(&format!("{root}/"))
}

fn overlap(a: &str, b: &str) -> bool {
    contains(a, b) || contains(b, a)
}

/// OPA's root check for data: every leaf under some root; objects on the way to a root pass.
fn check_data_roots(roots: &[String], dir: &str, value: &Json) -> Result<(), String> {
    let path = dir.trim_matches('/');
    if roots.iter().any(|r| contains(r, path)) {
        return Ok(());
    }
    match value {
        Json::Object(map) if roots.iter().any(|r| path.is_empty() || contains(path, r)) => {
            for (k, v) in map {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}/{k}")
                };
                check_data_roots(roots, &child, v)?;
            }
            Ok(())
        }
        _ => Err(path.to_string()),
    }
}

#[derive(serde::Deserialize)]
struct Signatures {
    #[serde(default)]
    signatures: Vec<String>,
    #[serde(default)]
    plugin: String,
}

#[derive(serde::Deserialize)]
struct SignedFiles {
    files: Vec<FileInfo>,
    #[serde(default)]
    scope: String,
}

#[derive(serde::Deserialize)]
struct FileInfo {
    name: String,
    hash: String,
    #[serde(default)]
    algorithm: String,
}

/// Verifies `.signatures.json` against `key` (a PEM public key or certificate; anything else is
/// an HMAC secret, as OPA reads a key), then every file's hash, then that every signed file is
/// present. `scope` must equal the payload's scope (OPA's default: empty).
pub fn verify(
    files: &BTreeMap<String, Vec<u8>>,
    signatures: &[u8],
    key: &str,
    scope: &str,
) -> Result<(), String> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let sigs: Signatures = serde_json::from_slice(signatures)
        .map_err(|e| format!("malformed .signatures.json: {e}"))?;
    if !sigs.plugin.is_empty() {
        return Err(format!(
            ".signatures.json names signing plugin {:?}, which policyctl does not have",
            sigs.plugin
        ));
    }
    let token = match sigs.signatures.as_slice() {
        [t] => t,
        [] => return Err(".signatures.json: missing JWT (expected exactly one)".into()),
        _ => {
            return Err(
                ".signatures.json: multiple JWTs not supported (expected exactly one)".into(),
            )
        }
    };
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| format!(".signatures.json: {e}"))?;
    let alg = header.alg;
    let is_pem = key.contains("-----BEGIN");
    let decoding = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 if !is_pem => {
            DecodingKey::from_secret(key.trim_end_matches(['\n', '\r']).as_bytes())
        }
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 if is_pem => DecodingKey::from_rsa_pem(key.as_bytes()),
        Algorithm::ES256 | Algorithm::ES384 if is_pem => DecodingKey::from_ec_pem(key.as_bytes()),
        Algorithm::EdDSA if is_pem => DecodingKey::from_ed_pem(key.as_bytes()),
        other => {
            return Err(format!(
                ".signatures.json is signed with {other:?}, which does not match the --policy-key given ({})",
                if is_pem { "a PEM public key" } else { "an HMAC secret" }
            ))
        }
    }
    .map_err(|e| format!("--policy-key: {e}"))?;
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let payload = jsonwebtoken::decode::<SignedFiles>(token, &decoding, &validation)
        .map_err(|e| format!("bundle signature does not verify: {e}"))?
        .claims;
    if payload.scope != scope {
        return Err(format!(
            "bundle signature scope {:?} does not match the expected {scope:?}",
            payload.scope
        ));
    }
    let mut signed: BTreeMap<String, FileInfo> = payload
        .files
        .into_iter()
        .map(|f| (f.name.trim_start_matches('/').to_string(), f))
        .collect();
    for (path, bytes) in files {
        if path == ".signatures.json" {
            continue;
        }
        let Some(info) = signed.remove(path) else {
            return Err(format!("file {path} not included in bundle signature"));
        };
        let actual = hash_file(path, bytes, &info.algorithm)?;
        if !actual.eq_ignore_ascii_case(&info.hash) {
            return Err(format!(
                "{path}: digest mismatch (want: {}, got: {actual}) — the bundle was changed after signing",
                info.hash
            ));
        }
    }
    if !signed.is_empty() {
        let missing: Vec<&String> = signed.keys().collect();
        return Err(format!(
            "file(s) {missing:?} specified in bundle signatures but not found in the bundle"
        ));
    }
    Ok(())
}

/// A file's hash as OPA computes it: data, `.manifest` and `.signatures.json` canonically (parsed,
/// keys sorted), every other file as bytes. MD5 and SHA-1, which OPA still accepts, are refused.
pub fn hash_file(path: &str, bytes: &[u8], algorithm: &str) -> Result<String, String> {
    use sha2::Digest as _;
    let base = path.rsplit('/').next().unwrap_or(path);
    let structured = matches!(
        base,
        "data.json" | "data.yaml" | ".manifest" | "signatures.json"
    );
    let content = if structured {
        canonical(base, bytes).map_err(|e| format!("{path}: {e}"))?
    } else {
        bytes.to_vec()
    };
    Ok(match algorithm {
        "SHA-256" => format!("{:x}", sha2::Sha256::digest(&content)),
        "SHA-224" => format!("{:x}", sha2::Sha224::digest(&content)),
        "SHA-384" => format!("{:x}", sha2::Sha384::digest(&content)),
        "SHA-512" => format!("{:x}", sha2::Sha512::digest(&content)),
        "SHA-512-224" => format!("{:x}", sha2::Sha512_224::digest(&content)),
        "SHA-512-256" => format!("{:x}", sha2::Sha512_256::digest(&content)),
        "" => return Err(format!("no hashing algorithm provided for file {path}")),
        "MD5" | "SHA-1" => {
            return Err(format!(
                "{path} is hashed with {algorithm}, which is too weak to trust; sign with SHA-256 (opa sign's default)"
            ))
        }
        other => return Err(format!("unsupported hashing algorithm {other} for {path}")),
    })
}

/// OPA's canonical form of a structured file: JSON re-encoded with object keys sorted, no
/// whitespace, numbers exactly as written (Go's json.Number), strings as Go encodes them.
fn canonical(base: &str, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    if base == "data.yaml" {
        let text = std::str::from_utf8(bytes).map_err(|_| "not valid UTF-8".to_string())?;
        let value: Json = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let json = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
        canonical::write(&json, &mut out)?;
    } else {
        canonical::write(bytes, &mut out)?;
    }
    Ok(out)
}

/// A small JSON reader that keeps number literals as written, for hashing.
mod canonical {
    pub fn write(input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let mut p = Parser { s: input, i: 0 };
        p.ws();
        p.value(out, 0)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing data at byte {}", p.i));
        }
        Ok(())
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn ws(&mut self) {
            while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            }
        }

        fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
            if depth > 256 {
                return Err("JSON nested too deeply".into());
            }
            match self.s.get(self.i) {
                Some(b'{') => {
                    self.i += 1;
                    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
                    self.ws();
                    if self.s.get(self.i) == Some(&b'}') {
                        self.i += 1;
                    } else {
                        loop {
                            self.ws();
                            let key = self.string()?;
                            self.ws();
                            self.expect(b':')?;
                            self.ws();
                            let mut v = Vec::new();
                            self.value(&mut v, depth + 1)?;
                            // Go maps keep the last of duplicate keys.
                            entries.retain(|(k, _)| k != &key);
                            entries.push((key, v));
                            self.ws();
                            match self.s.get(self.i) {
                                Some(b',') => self.i += 1,
                                Some(b'}') => {
                                    self.i += 1;
                                    break;
                                }
                                _ => return Err(format!("expected , or }} at byte {}", self.i)),
                            }
                        }
                    }
                    entries.sort_by(|a, b| a.0.cmp(&b.0));
                    out.push(b'{');
                    for (n, (k, v)) in entries.iter().enumerate() {
                        if n > 0 {
                            out.push(b',');
                        }
                        encode_string(k, out);
                        out.push(b':');
                        out.extend_from_slice(v);
                    }
                    out.push(b'}');
                    Ok(())
                }
                Some(b'[') => {
                    self.i += 1;
                    out.push(b'[');
                    self.ws();
                    if self.s.get(self.i) == Some(&b']') {
                        self.i += 1;
                    } else {
                        let mut first = true;
                        loop {
                            if !first {
                                out.push(b',');
                            }
                            first = false;
                            self.ws();
                            self.value(out, depth + 1)?;
                            self.ws();
                            match self.s.get(self.i) {
                                Some(b',') => self.i += 1,
                                Some(b']') => {
                                    self.i += 1;
                                    break;
                                }
                                _ => return Err(format!("expected , or ] at byte {}", self.i)),
                            }
                        }
                    }
                    out.push(b']');
                    Ok(())
                }
                Some(b'"') => {
                    let s = self.string()?;
                    encode_string(&s, out);
                    Ok(())
                }
                Some(b't') => self.literal(b"true", out),
                Some(b'f') => self.literal(b"false", out),
                Some(b'n') => self.literal(b"null", out),
                Some(c) if *c == b'-' || c.is_ascii_digit() => {
                    let start = self.i;
                    self.i += 1;
                    while self.i < self.s.len()
                        && matches!(
                            self.s[self.i],
                            b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'
                        )
                    {
                        self.i += 1;
                    }
                    let lit = &self.s[start..self.i];
                    let text = std::str::from_utf8(lit).map_err(|e| e.to_string())?;
                    // Validate as serde_json does; write the literal unchanged (json.Number).
                    serde_json::from_str::<serde_json::Number>(text)
                        .map_err(|_| format!("invalid number {text:?}"))?;
                    out.extend_from_slice(lit);
                    Ok(())
                }
                _ => Err(format!("unexpected input at byte {}", self.i)),
            }
        }

        fn literal(&mut self, word: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
            if self.s[self.i..].starts_with(word) {
                self.i += word.len();
                out.extend_from_slice(word);
                Ok(())
            } else {
                Err(format!("unexpected input at byte {}", self.i))
            }
        }

        fn expect(&mut self, c: u8) -> Result<(), String> {
            if self.s.get(self.i) == Some(&c) {
                self.i += 1;
                Ok(())
            } else {
                Err(format!("expected {:?} at byte {}", c as char, self.i))
            }
        }

        /// A JSON string token, decoded (serde_json does the unescaping).
        fn string(&mut self) -> Result<String, String> {
            let start = self.i;
            self.expect(b'"')?;
            while self.i < self.s.len() {
                match self.s[self.i] {
                    b'\\' => self.i += 2,
                    b'"' => {
                        self.i += 1;
                        let tok = std::str::from_utf8(&self.s[start..self.i])
                            .map_err(|_| "invalid UTF-8 in a string".to_string())?;
                        return serde_json::from_str::<String>(tok).map_err(|e| e.to_string());
                    }
                    _ => self.i += 1,
                }
            }
            Err("unterminated string".into())
        }
    }

    /// Go's encoding/json with SetEscapeHTML(false): serde_json's escapes, plus U+2028 and
    /// U+2029 as `\u2028`/`\u2029`.
    fn encode_string(s: &str, out: &mut Vec<u8>) {
        let encoded = serde_json::to_string(s).unwrap_or_default();
        let encoded = encoded
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029");
        out.extend_from_slice(encoded.as_bytes());
    }
}

/// Writes a bundle archive (used by tests and `pull`'s round trip checks).
pub fn write_archive(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        let _ = tar.append_data(&mut header, name, *bytes);
    }
    tar.into_inner()
        .and_then(|gz| gz.finish())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(files: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        files
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    // Hash vectors from OPA's v1/bundle/bundle_test.go (TestVerifyBundleFileHash, SHA-512 rows).
    #[test]
    fn hashes_match_opa() {
        assert_eq!(
            hash_file("a/b/c/data.json", b"[1,2,3]", "SHA-512").unwrap(),
            "60f7b5dc86ded48785436192a08dbfd04894d7f1b417c4f8d3714679a7f78cb3c833f16a8559a1cf1f32968747dc1d95ef34826263dacf125ded8f5c374be4c0"
        );
        assert_eq!(
            hash_file("a/b/y/data.yaml", b"foo: 1", "SHA-512").unwrap(),
            "20f27a640a233e6524fe7d138898583cd43475724806feb26be7f214e1d10b29edf6a0d3cb08f82107a45686b61b8fdabab6406cf4e70efe134f42238dbd70ab"
        );
        assert_eq!(
            hash_file("policy.wasm", b"modules-compiled-as-wasm-binary", "SHA-512").unwrap(),
            "4f73765168fd8b5c294b739436da312cc5e979faf09f67bf576d36ea79a4f79c70cbb3c33d06ff65f531a9f42abd0a8f4daacc554cb521837e876dc28f56ce89"
        );
        // Keys sorted, whitespace dropped, numbers as written.
        let a = hash_file("data.json", br#"{"b": 1.0, "a": [ "x" ]}"#, "SHA-256").unwrap();
        let b = hash_file("data.json", br#"{"a":["x"],"b":1.0}"#, "SHA-256").unwrap();
        assert_eq!(a, b);
        let c = hash_file("data.json", br#"{"a":["x"],"b":1}"#, "SHA-256").unwrap();
        assert_ne!(a, c, "1.0 and 1 are different literals to OPA's hasher");
        assert!(hash_file("x.rego", b"", "MD5").is_err());
    }

    // OPA's TestReadWithSignaturesWithBaseDir token: HS256 with the secret "secret", scope
    // "write", over foo/bar/.manifest, foo/bar/a/b/c/data.json and foo/bar/http/policy/policy.rego.
    const OPA_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImZvbyJ9.eyJmaWxlcyI6W3sibmFtZSI6ImZvby9iYXIvLm1hbmlmZXN0IiwiaGFzaCI6IjUwN2EyYzM4YTE0NDFkYjU4ZDJjYjg3OTgyYzQyYWE5MWE0MzQyZWY0MjJhNmI1NDJlZGRlYmVlZjZmMDQxMmYiLCJhbGdvcml0aG0iOiJTSEEtMjU2In0seyJuYW1lIjoiZm9vL2Jhci9hL2IvYy9kYXRhLmpzb24iLCJoYXNoIjoiYTYxNWVlYWVlMjFkZTUxNzlkZTA4MGRlOGMzMDUyYzhkYTkwMTEzODQwNmJhNzFjMzhjMDMyODQ1ZjdkNTRmNCIsImFsZ29yaXRobSI6IlNIQS0yNTYifSx7Im5hbWUiOiJmb28vYmFyL2h0dHAvcG9saWN5L3BvbGljeS5yZWdvIiwiaGFzaCI6ImY2NjQ0NjFlMzAzYjM3YzIwYzVlMGJlMjkwMDg4MTY3OGNkZjhlODYwYWE0MzNhNWExNGQ0OTRiYTNjNjY2NDkiLCJhbGdvcml0aG0iOiJTSEEtMjU2In1dLCJpYXQiOjE1OTIyNDgwMjcsImlzcyI6IkpXVFNlcnZpY2UiLCJzY29wZSI6IndyaXRlIn0.qTHkuBDVuT-Zl5pbJdZ6LoJ9eooFOhhpRdCheauDrlA";

    fn opa_signed_files(data: &str) -> BTreeMap<String, Vec<u8>> {
        map(&[
            ("foo/bar/.manifest", r#"{"revision": "quickbrownfaux"}"#),
            ("foo/bar/a/b/c/data.json", data),
            ("foo/bar/http/policy/policy.rego", "package example"),
        ])
    }

    #[test]
    fn opa_signed_bundle_verifies_and_tampering_is_caught() {
        let sigs = format!(r#"{{"signatures": ["{OPA_TOKEN}"]}}"#);
        verify(
            &opa_signed_files("[1,2,3]"),
            sigs.as_bytes(),
            "secret",
            "write",
        )
        .unwrap();
        // Whitespace does not change a data file's canonical hash; content does.
        verify(
            &opa_signed_files("[ 1, 2, 3 ]\n"),
            sigs.as_bytes(),
            "secret",
            "write",
        )
        .unwrap();
        let e = verify(
            &opa_signed_files("[1,2,4]"),
            sigs.as_bytes(),
            "secret",
            "write",
        )
        .unwrap_err();
        assert!(
            e.contains("foo/bar/a/b/c/data.json: digest mismatch"),
            "{e}"
        );
        let e = verify(
            &opa_signed_files("[1,2,3]"),
            sigs.as_bytes(),
            "wrong",
            "write",
        )
        .unwrap_err();
        assert!(e.contains("does not verify"), "{e}");
        let e = verify(&opa_signed_files("[1,2,3]"), sigs.as_bytes(), "secret", "").unwrap_err();
        assert!(e.contains("scope"), "{e}");
        let mut extra = opa_signed_files("[1,2,3]");
        extra.insert("evil.rego".into(), b"package evil".to_vec());
        let e = verify(&extra, sigs.as_bytes(), "secret", "write").unwrap_err();
        assert!(e.contains("evil.rego not included"), "{e}");
        let mut missing = opa_signed_files("[1,2,3]");
        missing.remove("foo/bar/http/policy/policy.rego");
        let e = verify(&missing, sigs.as_bytes(), "secret", "write").unwrap_err();
        assert!(e.contains("not found in the bundle"), "{e}");
    }

    #[test]
    fn manifest_roots_and_data_placement() {
        let archive = write_archive(&[
            (
                ".manifest",
                br#"{"revision": "r1", "roots": ["acme", "lib"]}"#,
            ),
            ("acme/k8s/data.json", br#"{"registries": ["ghcr.io/acme"]}"#),
            ("acme/k8s/policy.rego", b"package acme.k8s\n"),
        ]);
        let set = read("b.tar.gz", &archive, None, "").unwrap();
        assert_eq!(set.revision.as_deref(), Some("r1"));
        assert_eq!(
            set.data[0].1,
            serde_json::json!({"acme": {"k8s": {"registries": ["ghcr.io/acme"]}}})
        );
        let outside = write_archive(&[
            (".manifest", br#"{"revision": "r1", "roots": ["acme"]}"#),
            ("x.rego", b"package other\n"),
        ]);
        let e = read("b.tar.gz", &outside, None, "").unwrap_err();
        assert!(e.contains("do not permit package 'other'"), "{e}");
        let overlapped = write_archive(&[(".manifest", br#"{"roots": ["a/b", "a"]}"#)]);
        assert!(read("b", &overlapped, None, "")
            .unwrap_err()
            .contains("overlap"));
        let malformed = write_archive(&[(".manifest", br#"{"roots": "a"}"#)]);
        assert!(read("b", &malformed, None, "")
            .unwrap_err()
            .contains("malformed .manifest"));
        let data_outside = write_archive(&[
            (".manifest", br#"{"roots": ["a"]}"#),
            ("c/e/data.json", br#""bad""#),
        ]);
        assert!(read("b", &data_outside, None, "")
            .unwrap_err()
            .contains("do not permit data at path '/c/e'"));
        let signed_no_key = write_archive(&[(".signatures.json", br#"{"signatures": []}"#)]);
        assert!(read("b", &signed_no_key, None, "")
            .unwrap_err()
            .contains("no --policy-key"));
        assert!(read("b", b"not gzip", None, "").is_err());
        // tar's builder refuses `..` names, so write the header by hand.
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ));
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..9].copy_from_slice(b"../x.rego");
        header.set_size(9);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        tar.append(&header, &b"package x"[..]).unwrap();
        let escaping = tar.into_inner().unwrap().finish().unwrap();
        let e = read("b", &escaping, None, "").unwrap_err();
        assert!(e.contains("not a plain relative path"), "{e}");
    }
}
