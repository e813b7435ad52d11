//! policyctl: one engine for policy-as-code and supply-chain checks.
//!
//! ```text
//! load policies ─┐
//! parse inputs ──┼─> evaluate (rego) ─> Decision ─> render (text/json/sarif/junit/github/tap/table)
//! ```
//!
//! `policy` loads and indexes policies, `input` parses configuration files into documents,
//! `eval` turns documents into findings, `pipeline` runs files in parallel into one
//! [`finding::Decision`], `report` renders it, and `cli` is the only layer that knows flags.

pub mod cel;
pub mod cli;
pub mod eval;
pub mod finding;
pub mod input;
pub mod pipeline;
pub mod policy;
pub mod rego;
pub mod remote;
pub mod report;
pub mod server;
pub mod strict;
pub mod supply;
pub mod testing;
