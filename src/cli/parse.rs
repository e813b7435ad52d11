//! `policyctl parse`: prints each document as policies receive it, to debug a policy's `input`.

use crate::input::{Limits, Parser};
use crate::pipeline::{self, InputOptions};
use std::io::Write;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files or directories to parse; `-` reads stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,

    /// Force a parser instead of detecting it from the file name.
    #[arg(long, value_enum)]
    pub parser: Option<Parser>,
}

pub(super) fn run(args: Args) -> anyhow::Result<u8> {
    let opts = InputOptions {
        paths: args.paths,
        parser: args.parser,
        limits: Limits::default(),
        ..Default::default()
    };
    let (docs, errors) = pipeline::parse_only(&opts);
    let mut out = String::new();
    for doc in &docs {
        out.push_str(&format!("# {}:{}\n", doc.file, doc.line));
        out.push_str(&serde_json::to_string_pretty(&doc.contents)?);
        out.push('\n');
    }
    super::emit(&out)?;
    let mut stderr = std::io::stderr();
    for e in &errors {
        writeln!(stderr, "error: {}", e.display())?;
    }
    Ok(if errors.is_empty() {
        0
    } else {
        super::EXIT_ERROR
    })
}
