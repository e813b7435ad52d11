//! Strict reading of the documents policyctl takes as configuration (ClusterImagePolicy,
//! TrustRoot, ConstraintTemplate, Constraint, gator Suite): typed with unknown fields refused,
//! as kubectl's strict field validation does, and every error placed on the line of the field
//! it names. A gate that drops a field it does not know fails open; this module is where that
//! is prevented. It must not interpret the documents (their modules do).

use crate::finding::ToolError;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// One step of a path into a document: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// `spec.authorities[0].key` → segments.
pub fn path(dotted: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in dotted.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            out.push(Seg::Key(rest[..i].to_string()));
            rest = &rest[i..];
            while let Some(end) = rest.find(']') {
                if let Ok(n) = rest[1..end].parse() {
                    out.push(Seg::Index(n));
                }
                rest = &rest[end + 1..];
            }
        } else {
            out.push(Seg::Key(rest.to_string()));
        }
    }
    out
}

/// Segments → `spec.authorities[0].key`.
pub fn dotted(segs: &[Seg]) -> String {
    let mut s = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Column of a line's content once any `- ` sequence markers are stepped over, and that content.
fn content(line: &str) -> (usize, bool, &str) {
    let mut col = line.len() - line.trim_start().len();
    let mut rest = line.trim_start();
    let mut item = false;
    while let Some(r) = rest
        .strip_prefix("- ")
        .or_else(|| (rest == "-").then_some(""))
    {
        item = true;
        let skipped = rest.len() - r.len();
        let r2 = r.trim_start();
        col += skipped + (r.len() - r2.len());
        rest = r2;
    }
    (col, item, rest)
}

fn is_key(text: &str, key: &str) -> bool {
    [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
        format!("\"{key}\" :"),
    ]
    .iter()
    .any(|k| text.starts_with(k.as_str()))
}

/// Best-effort 1-based line of `path` inside the YAML (or JSON) document that starts at
/// `first_line` of `text`. Walks block structure by indentation; for what it cannot follow
/// (flow style) it returns the line of the deepest key it found.
pub fn locate(text: &str, first_line: usize, path: &[Seg]) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = first_line.max(1);
    let mut pos = first_line.saturating_sub(1);
    // Column of the enclosing node's key or item marker; its block ends at a line at or
    // left of it.
    let mut parent: Option<usize> = None;
    let mut same_line = true;
    for seg in path {
        let start = if same_line { pos } else { pos + 1 };
        let mut hit = None;
        match seg {
            Seg::Key(key) => {
                for (i, line) in lines.iter().enumerate().skip(start) {
                    let (col, _, rest) = content(line);
                    if rest.is_empty() || rest.starts_with('#') {
                        continue;
                    }
                    if i > pos && parent.is_some_and(|p| col <= p) {
                        break;
                    }
                    if is_key(rest, key) {
                        hit = Some((i, col));
                        break;
                    }
                }
                match hit {
                    Some((i, col)) => {
                        pos = i;
                        parent = Some(col);
                        found = i + 1;
                        same_line = false;
                    }
                    None => return found,
                }
            }
            Seg::Index(n) => {
                let mut seen = 0;
                let mut item_col = None;
                for (i, line) in lines.iter().enumerate().skip(start) {
                    let trimmed = line.trim_start();
                    if trimmed.is_empty() || trimmed.starts_with('#') {
                        continue;
                    }
                    let col = line.len() - trimmed.len();
                    let is_item = trimmed.starts_with("- ") || trimmed == "-";
                    if parent.is_some_and(|p| col < p || (col == p && !is_item)) {
                        break;
                    }
                    if !is_item || item_col.is_some_and(|c| c != col) {
                        continue;
                    }
                    item_col.get_or_insert(col);
                    if seen == *n {
                        hit = Some((i, col));
                        break;
                    }
                    seen += 1;
                }
                match hit {
                    Some((i, col)) => {
                        pos = i;
                        parent = Some(col);
                        found = i + 1;
                        same_line = true;
                    }
                    None => return found,
                }
            }
        }
    }
    found
}

/// Where a document came from, for errors that name file, line and field.
#[derive(Clone, Copy)]
pub struct Origin<'a> {
    pub file: &'a str,
    /// The whole file's text (lines are counted in it).
    pub text: &'a str,
    /// 1-based line the document starts on.
    pub line: usize,
}

impl Origin<'_> {
    /// An error at the line of `field` (dotted path), naming the field.
    pub fn error(&self, field: &str, message: impl std::fmt::Display) -> ToolError {
        let line = locate(self.text, self.line, &path(field));
        ToolError::new(self.file, line, format!("{field}: {message}"))
    }

    /// Reads `doc` into `T`, refusing unknown fields; the error names the field's path and
    /// line, prefixed with `what` (e.g. `ClusterImagePolicy sign`).
    pub fn read<T: DeserializeOwned>(&self, doc: &Json, what: &str) -> Result<T, ToolError> {
        serde_path_to_error::deserialize::<_, T>(doc.clone()).map_err(|e| {
            let segs: Vec<Seg> = e
                .path()
                .iter()
                .filter_map(|s| match s {
                    serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
                    serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
                    _ => None,
                })
                .collect();
            let inner = e.inner().to_string();
            let message = match unknown_field(&inner) {
                Some(field) => {
                    let mut full = segs.clone();
                    if full.last() != Some(&Seg::Key(field.clone())) {
                        full.push(Seg::Key(field.clone()));
                    }
                    let line = locate(self.text, self.line, &full);
                    return ToolError::new(
                        self.file,
                        line,
                        format!(
                            "{what}: unknown field {} ({}); policyctl refuses fields it would otherwise ignore — \
                             fix the spelling or remove it",
                            dotted(&full),
                            inner.split_once(", ").map_or("", |(_, rest)| rest)
                        ),
                    );
                }
                None if segs.is_empty() => format!("{what}: {inner}"),
                None => format!("{what}: {}: {inner}", dotted(&segs)),
            };
            ToolError::new(self.file, locate(self.text, self.line, &segs), message)
        })
    }
}

/// The field name in serde's "unknown field `x`, expected …".
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(f, _)| f.to_string())
}

/// A Kubernetes object with a typed `spec`: `apiVersion`, `kind`, `metadata`, `spec`, and the
/// controller-written `status` (read, meaningless to policyctl). Nothing else is accepted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Manifest<S: Default> {
    #[allow(dead_code)]
    pub api_version: String,
    #[allow(dead_code)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: S,
    #[serde(default)]
    #[allow(dead_code)]
    pub status: Option<Json>,
}

/// Kubernetes `ObjectMeta` as manifests carry it. Only name, labels and annotations mean
/// anything to policyctl; the server-written fields are accepted because `kubectl get -o yaml`
/// output carries them, and they change nothing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub generate_name: Option<Json>,
    #[serde(default)]
    pub uid: Option<Json>,
    #[serde(default)]
    pub resource_version: Option<Json>,
    #[serde(default)]
    pub generation: Option<Json>,
    #[serde(default)]
    pub creation_timestamp: Option<Json>,
    #[serde(default)]
    pub deletion_timestamp: Option<Json>,
    #[serde(default)]
    pub deletion_grace_period_seconds: Option<Json>,
    #[serde(default)]
    pub managed_fields: Option<Json>,
    #[serde(default)]
    pub owner_references: Option<Json>,
    #[serde(default)]
    pub finalizers: Option<Json>,
    #[serde(default)]
    pub self_link: Option<Json>,
}

/// Kubernetes label selector semantics (matchLabels AND matchExpressions).
pub fn selector_matches(
    selector: &Json,
    labels: &serde_json::Map<String, Json>,
) -> Result<bool, String> {
    if let Some(ml) = selector.get("matchLabels").and_then(Json::as_object) {
        for (k, v) in ml {
            if labels.get(k) != Some(v) {
                return Ok(false);
            }
        }
    }
    for expr in selector
        .get("matchExpressions")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let key = expr
            .get("key")
            .and_then(Json::as_str)
            .ok_or("matchExpressions entry without key")?;
        let values = expr
            .get("values")
            .and_then(Json::as_array)
            .map(|a| a.iter().filter_map(Json::as_str).collect::<Vec<_>>())
            .unwrap_or_default();
        let actual = labels.get(key).and_then(Json::as_str);
        let ok = match expr.get("operator").and_then(Json::as_str).unwrap_or("") {
            "In" => actual.is_some_and(|a| values.contains(&a)),
            "NotIn" => actual.is_none_or(|a| !values.contains(&a)),
            "Exists" => actual.is_some(),
            "DoesNotExist" => actual.is_none(),
            other => {
                return Err(format!(
                    "matchExpressions operator {other:?} is not In, NotIn, Exists or DoesNotExist"
                ))
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
# comment
apiVersion: v1
kind: X
spec:
  images:
  - glob: a
  - glob: b
  authorities:
    - name: one
      key:
        data: k
    - name: two
      attestation:
        - name: x
  policy: {type: rego}
";

    #[test]
    fn locates_keys_and_items() {
        assert_eq!(locate(DOC, 2, &path("spec")), 4);
        assert_eq!(locate(DOC, 2, &path("spec.images[1].glob")), 7);
        assert_eq!(locate(DOC, 2, &path("spec.authorities[0].key.data")), 11);
        assert_eq!(locate(DOC, 2, &path("spec.authorities[1].attestation")), 13);
        assert_eq!(locate(DOC, 2, &path("spec.authorities[1].name")), 12);
        // Flow style: the deepest key found.
        assert_eq!(locate(DOC, 2, &path("spec.policy.type")), 15);
        // Not present: the document's line.
        assert_eq!(locate(DOC, 2, &path("status")), 2);
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        spec: Spec,
        #[serde(rename = "apiVersion")]
        api_version: String,
        kind: String,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Spec {
        images: Vec<Json>,
        authorities: Vec<Auth>,
        policy: Json,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Auth {
        name: String,
        key: Option<Json>,
        attestations: Option<Json>,
    }

    #[test]
    fn unknown_fields_name_path_and_line() {
        let yaml: serde_yaml::Value = serde_yaml::from_str(DOC).unwrap();
        let json = serde_json::to_value(yaml).unwrap();
        let origin = Origin {
            file: "cip.yaml",
            text: DOC,
            line: 2,
        };
        let err = origin.read::<Doc>(&json, "X one").unwrap_err();
        assert_eq!(err.line, 13, "{}", err.display());
        assert!(
            err.message
                .contains("unknown field spec.authorities[1].attestation"),
            "{}",
            err.message
        );
        assert!(err.message.contains("`attestations`"), "{}", err.message);
    }
}
