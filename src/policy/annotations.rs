//! Titles and descriptions of rules from OPA's `# METADATA` annotations, for reports that
//! describe rules (SARIF's rule descriptors): a block right above a rule (scope `rule` or
//! `document`) describes it; a block above `package` (scope `package`) describes every rule of
//! the package that has none of its own. Only `title` and `description` are read here;
//! `rego.metadata.*` gives policies the whole annotation.

use crate::rego::Source;
use std::collections::BTreeMap;

/// A rule's `title` and `description`, when annotated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleDoc {
    pub title: Option<String>,
    pub description: Option<String>,
}

/// `package/rule` (the policy and rule names findings carry) -> its documentation.
pub fn rule_docs(sources: &[Source]) -> BTreeMap<String, RuleDoc> {
    let mut rules: BTreeMap<String, RuleDoc> = BTreeMap::new();
    let mut packages: BTreeMap<String, RuleDoc> = BTreeMap::new();
    let mut heads: Vec<(String, String)> = Vec::new();
    for source in sources.iter().filter(|s| !s.is_test()) {
        let lines: Vec<&str> = source.text.lines().collect();
        let mut package = String::new();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i].trim_end();
            if let Some(p) = package_name(line) {
                package = p;
            } else if let Some(rule) = rule_name(line) {
                heads.push((package.clone(), rule));
            }
            if line != "# METADATA" {
                i += 1;
                continue;
            }
            let mut yaml = String::new();
            i += 1;
            while i < lines.len() && lines[i].starts_with('#') {
                yaml.push_str(lines[i].strip_prefix("# ").unwrap_or(&lines[i][1..]));
                yaml.push('\n');
                i += 1;
            }
            let doc = parse(&yaml);
            // The statement the block annotates: the next line that is code.
            let Some(target) = lines[i..]
                .iter()
                .map(|l| l.trim_end())
                .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            else {
                continue;
            };
            if let Some(p) = package_name(target) {
                packages.insert(p, doc);
            } else if let Some(rule) = rule_name(target) {
                rules.insert(format!("{package}/{rule}"), doc);
            }
        }
    }
    for (package, rule) in heads {
        if let Some(doc) = packages.get(&package) {
            rules
                .entry(format!("{package}/{rule}"))
                .or_insert_with(|| doc.clone());
        }
    }
    rules
}

fn parse(yaml: &str) -> RuleDoc {
    let value: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap_or(serde_yaml::Value::Null);
    let field = |k: &str| {
        value
            .get(k)
            .and_then(|v| v.as_str())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    RuleDoc {
        title: field("title"),
        description: field("description"),
    }
}

fn package_name(line: &str) -> Option<String> {
    let rest = line.strip_prefix("package ")?;
    Some(rest.split_whitespace().next()?.to_string())
}

/// The rule a line starts (`deny contains msg if {`, `deny[msg] {`, `warn_x := …`), when it
/// does.
fn rule_name(line: &str) -> Option<String> {
    if line.starts_with(char::is_whitespace) {
        return None;
    }
    let name: String = line
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let rest = &line[name.len()..];
    let starts_rule = rest.is_empty()
        || rest.starts_with([' ', '[', '(', '{', ':', '='])
        || rest.starts_with(" contains")
        || rest.starts_with(" if");
    (!name.is_empty()
        && starts_rule
        && ![
            "package", "import", "default", "else", "some", "every", "not",
        ]
        .contains(&name.as_str()))
    .then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Source {
        Source {
            path: "p.rego".into(),
            text: text.into(),
            builtin: false,
        }
    }

    #[test]
    fn rule_and_package_blocks() {
        let docs = rule_docs(&[source(
            "# METADATA\n# title: Team policies\n# description: Rules every team follows.\npackage main\nimport rego.v1\n\n# METADATA\n# title: Deployments name their team\n# description: |\n#   A Deployment without a `team` label has no owner.\ndeny contains msg if {\n  input.kind == \"Deployment\"\n  msg := \"x\"\n}\n\nwarn_replicas contains msg if { msg := \"y\" }\n",
        )]);
        assert_eq!(
            docs["main/deny"],
            RuleDoc {
                title: Some("Deployments name their team".into()),
                description: Some("A Deployment without a `team` label has no owner.".into()),
            }
        );
        assert_eq!(
            docs["main/warn_replicas"].title.as_deref(),
            Some("Team policies")
        );
    }
}
