//! Input parsers: bytes of a configuration file -> [`Document`]s with line numbers and, where the
//! document is a Kubernetes-style object, its [`Resource`] identity. This module owns parser
//! detection (by file name, then extension, as conftest does) and the document shapes policies
//! see; it must not evaluate anything.

mod dockerfile;
mod hcl;
mod ignore;
mod jsonnet;
mod kv;
mod structured;
mod xml;
mod yaml;
mod yaml_fast;

#[doc(hidden)]
pub use yaml::readers as yaml_readers;

use crate::finding::Resource;
use serde_json::Value as Json;
use std::path::Path;

/// One unit of evaluation: what a policy sees as `input`.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Path as given on the command line (or `-` for stdin).
    pub file: String,
    /// 1-based line where the document (or list item) starts.
    pub line: usize,
    pub resource: Option<Resource>,
    pub contents: Json,
    /// Named places inside the document and their lines (HCL block addresses such as
    /// `aws_s3_bucket.site` or `module.vpc`): a finding that names one is placed on its line.
    pub anchors: Vec<(String, usize)>,
}

impl Document {
    /// This document's place (file, line, anchors) without its contents, naming `object`: what
    /// findings about an AdmissionReview's reviewed object carry.
    pub fn naming(&self, object: &Json) -> Document {
        Document {
            file: self.file.clone(),
            line: self.line,
            resource: resource_of(object),
            contents: Json::Null,
            anchors: self.anchors.clone(),
        }
    }
}

/// Why an input could not be turned into documents.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("{message}")]
pub struct ParseError {
    /// 1-based line when known, else 0.
    pub line: usize,
    pub message: String,
}

impl ParseError {
    pub fn new(line: usize, message: impl Into<String>) -> Self {
        ParseError {
            line,
            message: message.into(),
        }
    }
}

/// Every input format policyctl knows: those it parses (the values `--parser` lists and
/// accepts) and conftest's formats it refuses with a reason when a file of that kind is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Parser {
    Yaml,
    Json,
    /// JSON with `//` and `/* */` comments (tsconfig.json, devcontainer.json, VS Code settings).
    Jsonc,
    Toml,
    Hcl2,
    #[value(name = "tfplan")]
    TerraformPlan,
    Dockerfile,
    Ini,
    Dotenv,
    Cyclonedx,
    Spdx,
    Xml,
    Properties,
    Ignore,
    // conftest parsers without a maintained Rust crate: refused with a clear error
    // (docs/inputs.md), and not offered by `--parser`.
    #[value(skip)]
    Hcl1,
    Jsonnet,
    #[value(skip)]
    Hocon,
    #[value(skip)]
    Edn,
    #[value(skip)]
    Nginx,
    #[value(skip)]
    Vcl,
    #[value(skip)]
    Groovy,
    #[value(skip)]
    Cue,
    #[value(skip)]
    Textproto,
    /// SPDX tag-value (`*.spdx`); SPDX JSON is `Spdx`.
    #[value(skip)]
    SpdxTagValue,
}

impl Parser {
    pub fn name(self) -> &'static str {
        match self {
            Parser::Yaml => "yaml",
            Parser::Json => "json",
            Parser::Jsonc => "jsonc",
            Parser::Toml => "toml",
            Parser::Hcl2 => "hcl2",
            Parser::TerraformPlan => "tfplan",
            Parser::Dockerfile => "dockerfile",
            Parser::Ini => "ini",
            Parser::Dotenv => "dotenv",
            Parser::Cyclonedx => "cyclonedx",
            Parser::Spdx => "spdx",
            Parser::Xml => "xml",
            Parser::Properties => "properties",
            Parser::Ignore => "ignore",
            Parser::Hcl1 => "hcl1",
            Parser::Jsonnet => "jsonnet",
            Parser::Hocon => "hocon",
            Parser::Edn => "edn",
            Parser::Nginx => "nginx",
            Parser::Vcl => "vcl",
            Parser::Groovy => "groovy",
            Parser::Cue => "cue",
            Parser::Textproto => "textproto",
            Parser::SpdxTagValue => "SPDX tag-value",
        }
    }

    /// Detects the parser from the file name, as conftest does: special names first
    /// (`Dockerfile*`, `.env*`, `Jenkinsfile*`, `nginx.conf`, ignore files), then the extension.
    /// `None` means "not a configuration file we know"; directory walks skip those.
    pub fn detect(path: &Path) -> Option<Parser> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        if name.starts_with("dockerfile")
            || name.ends_with(".dockerfile")
            || name == "containerfile"
        {
            return Some(Parser::Dockerfile);
        }
        if name.starts_with("jenkinsfile") {
            return Some(Parser::Groovy);
        }
        if name == "nginx.conf" {
            return Some(Parser::Nginx);
        }
        if name == ".gitignore" || name == ".dockerignore" || name == ".helmignore" {
            return Some(Parser::Ignore);
        }
        if name == ".env" || name.starts_with(".env.") || name.ends_with(".env") {
            return Some(Parser::Dotenv);
        }
        if name.ends_with(".cdx.json") || name == "bom.json" {
            return Some(Parser::Cyclonedx);
        }
        if name.ends_with(".spdx.json") {
            return Some(Parser::Spdx);
        }
        if name.ends_with(".tfplan.json") {
            return Some(Parser::TerraformPlan);
        }
        let ext = name.rsplit_once('.')?.1;
        Some(match ext {
            "yaml" | "yml" => Parser::Yaml,
            "json" => Parser::Json,
            "jsonc" => Parser::Jsonc,
            "toml" => Parser::Toml,
            "tf" | "tfvars" | "hcl" => Parser::Hcl2,
            "ini" | "cfg" => Parser::Ini,
            "xml" => Parser::Xml,
            "properties" => Parser::Properties,
            "jsonnet" | "libsonnet" => Parser::Jsonnet,
            "hocon" => Parser::Hocon,
            "edn" => Parser::Edn,
            "vcl" => Parser::Vcl,
            "groovy" => Parser::Groovy,
            "cue" => Parser::Cue,
            "textproto" | "pbtxt" => Parser::Textproto,
            "spdx" => Parser::SpdxTagValue,
            _ => return None,
        })
    }
}

/// Limits that keep one hostile input from taking the run down.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Checks the raw bytes are text we should parse: not binary, valid UTF-8.
pub fn decode(bytes: &[u8]) -> Result<&str, ParseError> {
    if bytes.contains(&0) {
        return Err(ParseError::new(
            0,
            "binary file (contains NUL bytes); exclude it with --ignore or pass a text configuration file",
        ));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        ParseError::new(
            line,
            format!(
                "invalid UTF-8 at byte {}: configuration files must be UTF-8 encoded",
                e.valid_up_to()
            ),
        )
    })
}

/// Parses one file's text into the documents policies evaluate.
pub fn parse(file: &str, text: &str, parser: Parser) -> Result<Vec<Document>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let docs: Vec<(usize, Json)> = match parser {
        Parser::Yaml => return yaml::parse(file, text),
        Parser::Json => return structured::json_documents(file, text),
        Parser::Jsonc => return structured::json_documents(file, &structured::strip_json_comments(text)),
        Parser::TerraformPlan => vec![(1, structured::terraform_plan(text)?)],
        Parser::Cyclonedx => vec![(1, structured::cyclonedx(text)?)],
        Parser::Spdx => vec![(1, structured::spdx(text)?)],
        Parser::Toml => vec![(1, structured::toml(text)?)],
        Parser::Hcl2 => {
            let contents = hcl::parse(text)?;
            return Ok(vec![Document {
                file: file.to_string(),
                line: 1,
                resource: resource_of(&contents),
                contents,
                anchors: hcl::block_lines(text),
            }]);
        }
        Parser::Dockerfile => vec![(1, dockerfile::parse(text)?)],
        Parser::Ini => vec![(1, kv::ini(text)?)],
        Parser::Dotenv => vec![(1, kv::dotenv(text)?)],
        Parser::Properties => vec![(1, kv::properties(text)?)],
        Parser::Xml => vec![(1, xml::parse(text)?)],
        Parser::Jsonnet => vec![(1, jsonnet::evaluate(file, text)?)],
        Parser::Ignore => vec![(1, ignore::parse(text))],
        unsupported => {
            return Err(ParseError::new(
                0,
                format!(
                    "the {} format is not supported by policyctl (no maintained Rust parser); \
                     convert it to JSON or YAML first, or exclude it with --ignore (see docs/inputs.md)",
                    unsupported.name()
                ),
            ))
        }
    };
    Ok(docs
        .into_iter()
        .map(|(line, contents)| Document {
            file: file.to_string(),
            line,
            resource: resource_of(&contents),
            contents,
            anchors: Vec::new(),
        })
        .collect())
}

/// The identity of a Kubernetes-style object (`kind` + `metadata.name`), if it is one.
pub fn resource_of(value: &Json) -> Option<Resource> {
    let kind = value.get("kind")?.as_str()?;
    let meta = value.get("metadata")?;
    let name = meta
        .get("name")
        .or_else(|| meta.get("generateName"))
        .and_then(Json::as_str)?;
    Some(Resource {
        api_version: value
            .get("apiVersion")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string(),
        kind: kind.to_string(),
        name: name.to_string(),
        namespace: meta
            .get("namespace")
            .and_then(Json::as_str)
            .map(str::to_string),
    })
}

/// Expands `kind: List` (and `*List`) objects into their items, each with its own line.
fn expand_list(value: Json, line: usize, item_lines: &[usize]) -> Vec<(usize, Json)> {
    let is_list = value
        .get("kind")
        .and_then(Json::as_str)
        .is_some_and(|k| k == "List" || (k.ends_with("List") && value.get("items").is_some()));
    if !is_list {
        return vec![(line, value)];
    }
    match value {
        Json::Object(mut map) => match map.remove("items") {
            Some(Json::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| (item_lines.get(i).copied().unwrap_or(line), item))
                .collect(),
            other => {
                if let Some(items) = other {
                    map.insert("items".into(), items);
                }
                vec![(line, Json::Object(map))]
            }
        },
        other => vec![(line, other)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_follows_conftest_names_then_extensions() {
        let d = |p: &str| Parser::detect(Path::new(p));
        assert_eq!(d("build/Dockerfile.prod"), Some(Parser::Dockerfile));
        assert_eq!(d("main.tf"), Some(Parser::Hcl2));
        assert_eq!(d("prod.tfvars"), Some(Parser::Hcl2));
        assert_eq!(d(".env.local"), Some(Parser::Dotenv));
        assert_eq!(d("Jenkinsfile"), Some(Parser::Groovy));
        assert_eq!(d("k8s/app.YML"), Some(Parser::Yaml));
        assert_eq!(d("sbom.cdx.json"), Some(Parser::Cyclonedx));
        assert_eq!(d("README.md"), None);
    }

    #[test]
    fn binary_and_bad_utf8_are_refused_with_a_line() {
        assert!(decode(b"a\0b").unwrap_err().message.contains("binary"));
        let err = decode(b"ok\nstill ok\n\xff").unwrap_err();
        assert_eq!(err.line, 3);
    }

    #[test]
    fn unsupported_parsers_say_so() {
        let err = parse("x.cue", "a: 1", Parser::Cue).unwrap_err();
        assert!(err.message.contains("cue format is not supported"), "{err}");
        // SPDX tag-value is named as such (SPDX JSON is parsed).
        assert_eq!(
            Parser::detect(Path::new("sbom.spdx")),
            Some(Parser::SpdxTagValue)
        );
        assert_eq!(
            Parser::detect(Path::new("sbom.spdx.json")),
            Some(Parser::Spdx)
        );
        let err = parse("sbom.spdx", "SPDXVersion: SPDX-2.3\n", Parser::SpdxTagValue).unwrap_err();
        assert!(
            err.message
                .contains("SPDX tag-value format is not supported"),
            "{err}"
        );
        for (file, p) in [("a.edn", Parser::Edn), ("a.hocon", Parser::Hocon)] {
            assert_eq!(Parser::detect(Path::new(file)), Some(p));
            assert!(parse(file, "{}", p).is_err(), "{file}");
        }
    }
}
