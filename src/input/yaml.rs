//! YAML streams: split into documents ourselves (serde_yaml has no positions), so each document
//! and each `kind: List` item keeps the line it starts on in the file.

use super::{expand_list, resource_of, Document, ParseError};
use serde_json::{Map, Number, Value as Json};
use serde_yaml::Value as Yaml;
use std::sync::LazyLock;

static LOCATION: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r" at line \d+ column \d+").expect("static regex"));

/// A document's text and where it sits in the file.
struct Chunk<'a> {
    /// 1-based line of the chunk's first line.
    first_line: usize,
    text: &'a str,
}

fn is_separator(line: &str) -> bool {
    line == "---" || line.starts_with("--- ") || line.starts_with("---\t") || line == "..."
}

fn split(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let mut start_byte = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        if is_separator(bare) {
            chunks.push(Chunk {
                first_line: start_line,
                text: &text[start_byte..offset],
            });
            // `--- {a: 1}` carries content on the separator line itself.
            let rest = bare.strip_prefix("---").unwrap_or("");
            if rest.trim().is_empty() || bare == "..." {
                start_byte = offset + line.len();
                start_line = i + 2;
            } else {
                start_byte = offset + 3;
                start_line = i + 1;
            }
        }
        offset += line.len();
    }
    chunks.push(Chunk {
        first_line: start_line,
        text: &text[start_byte..],
    });
    chunks
}

/// First line holding content (not blank, not a comment, not a directive).
fn content_line(chunk: &Chunk<'_>) -> Option<usize> {
    chunk
        .text
        .lines()
        .position(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#') && !t.starts_with('%')
        })
        .map(|i| chunk.first_line + i)
}

/// Lines of the entries of a top-level `items:` sequence (for `kind: List`).
fn item_lines(chunk: &Chunk<'_>) -> Vec<usize> {
    let mut lines = Vec::new();
    let mut in_items = false;
    let mut indent: Option<usize> = None;
    for (i, l) in chunk.text.lines().enumerate() {
        if !in_items {
            in_items = l.trim_end() == "items:";
            continue;
        }
        let trimmed = l.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let col = l.len() - trimmed.len();
        if col == 0 && !trimmed.starts_with('-') {
            break; // the next top-level key ends the sequence
        }
        if trimmed.starts_with("- ") || trimmed == "-" {
            match indent {
                None => {
                    indent = Some(col);
                    lines.push(chunk.first_line + i);
                }
                Some(c) if c == col => lines.push(chunk.first_line + i),
                _ => {}
            }
        }
    }
    lines
}

pub(super) fn parse(file: &str, text: &str) -> Result<Vec<Document>, ParseError> {
    let mut docs = Vec::new();
    for chunk in split(text) {
        let Some(line) = content_line(&chunk) else {
            continue; // empty document: only comments or whitespace
        };
        let json = match super::yaml_fast::parse(chunk.text) {
            Some(json) => json,
            None => {
                let value: Yaml = serde_yaml::from_str(chunk.text).map_err(|e| {
                    let line = e
                        .location()
                        .map(|l| chunk.first_line + l.line() - 1)
                        .unwrap_or(line);
                    // serde_yaml's position is relative to the document; we report the file's line.
                    let msg = LOCATION.replace_all(&e.to_string(), "").into_owned();
                    ParseError::new(line, format!("invalid YAML: {msg}"))
                })?;
                if value.is_null() {
                    continue;
                }
                to_json(value)
            }
        };
        let lines = item_lines(&chunk);
        for (line, contents) in expand_list(json, line, &lines) {
            docs.push(Document {
                file: file.to_string(),
                line,
                resource: resource_of(&contents),
                contents,
                anchors: Vec::new(),
            });
        }
    }
    Ok(docs)
}

/// YAML -> JSON, with non-string keys stringified as Go's YAML decoder (and so conftest) does.
/// Depth is bounded by serde_yaml's recursion limit (128), so this recursion is too.
pub(crate) fn to_json(value: Yaml) -> Json {
    match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Json::Number(u.into())
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                Number::from_f64(f).map_or_else(|| Json::String(n.to_string()), Json::Number)
            }
        }
        Yaml::String(s) => Json::String(s),
        Yaml::Sequence(seq) => Json::Array(seq.into_iter().map(to_json).collect()),
        Yaml::Mapping(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                let key = match k {
                    Yaml::String(s) => s,
                    Yaml::Bool(b) => b.to_string(),
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Null => "null".to_string(),
                    other => serde_json::to_string(&to_json(other)).unwrap_or_default(),
                };
                out.insert(key, to_json(v));
            }
            Json::Object(out)
        }
        Yaml::Tagged(tagged) => to_json(tagged.value),
    }
}

/// The two readers of one document, for differential tests and the `yaml_fast_path` fuzz target:
/// the fast reader's answer (`None`: it left the document to serde_yaml) and serde_yaml's.
#[doc(hidden)]
pub fn readers(text: &str) -> (Option<Json>, Result<Json, String>) {
    let reference = serde_yaml::from_str::<Yaml>(text)
        .map(to_json)
        .map_err(|e| e.to_string());
    (super::yaml_fast::parse(text), reference)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_lines_are_file_lines() {
        let text = "# head\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n\n---\n# c\nkind: Service\nmetadata:\n  name: b\n";
        let docs = parse("f.yaml", text).unwrap();
        assert_eq!(docs.len(), 2, "empty document skipped");
        assert_eq!(docs[0].line, 2);
        assert_eq!(docs[1].line, 9);
        assert_eq!(docs[1].resource.as_ref().unwrap().name, "b");
    }

    #[test]
    fn errors_point_at_the_file_line() {
        let text = "a: 1\n---\nb: 2\nc: [\n";
        let err = parse("f.yaml", text).unwrap_err();
        assert!(err.line >= 4, "{err:?}");
        assert!(err.message.starts_with("invalid YAML"), "{err:?}");
    }

    #[test]
    fn list_items_get_their_own_lines() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  metadata:\n    name: a\n  spec:\n    containers:\n    - name: x\n- kind: Pod\n  metadata: {name: b}\n";
        let docs = parse("l.yaml", text).unwrap();
        assert_eq!(docs.iter().map(|d| d.line).collect::<Vec<_>>(), vec![4, 10]);
        assert_eq!(docs[1].resource.as_ref().unwrap().name, "b");
    }

    #[test]
    fn non_string_keys_are_stringified() {
        let docs = parse("k.yaml", "1: a\ntrue: b\n").unwrap();
        assert_eq!(docs[0].contents["1"], "a");
        assert_eq!(docs[0].contents["true"], "b");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(parse("deep.yaml", &text).is_err());
    }
}
