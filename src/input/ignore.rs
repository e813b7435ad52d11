//! Ignore files (`.gitignore`, `.dockerignore`) in conftest's shape: a list of entries
//! `{Kind: Path|NegatedPath|Comment|Empty, Value, Original}`.

use serde_json::{json, Value as Json};

pub(super) fn parse(text: &str) -> Json {
    Json::Array(
        text.lines()
            .map(|original| {
                let t = original.trim();
                let (kind, value) = if t.is_empty() {
                    ("Empty", "")
                } else if let Some(c) = t.strip_prefix('#') {
                    ("Comment", c.trim())
                } else if let Some(p) = t.strip_prefix('!') {
                    ("NegatedPath", p)
                } else {
                    ("Path", t)
                };
                json!({"Kind": kind, "Value": value, "Original": original})
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn kinds() {
        let v = super::parse("# deps\nnode_modules\n!keep\n\n");
        assert_eq!(v[0]["Kind"], "Comment");
        assert_eq!(v[1]["Value"], "node_modules");
        assert_eq!(v[2]["Kind"], "NegatedPath");
        assert_eq!(v[3]["Kind"], "Empty");
    }
}
