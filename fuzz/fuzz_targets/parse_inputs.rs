//! Every input parser `check` runs on files: the first byte picks the parser, the rest is the
//! file. A parser may refuse (an error naming the line); it must not panic, hang or blow up.
#![no_main]
use libfuzzer_sys::fuzz_target;
use policyctl::input::{self, Parser};

const PARSERS: &[Parser] = &[
    Parser::Yaml,
    Parser::Json,
    Parser::Jsonc,
    Parser::Toml,
    Parser::Hcl2,
    Parser::TerraformPlan,
    Parser::Dockerfile,
    Parser::Ini,
    Parser::Dotenv,
    Parser::Cyclonedx,
    Parser::Spdx,
    Parser::Xml,
    Parser::Properties,
    Parser::Ignore,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let parser = PARSERS[sel as usize % PARSERS.len()];
    if let Ok(text) = input::decode(rest) {
        let _ = input::parse("fuzz", text, parser);
    }
});
