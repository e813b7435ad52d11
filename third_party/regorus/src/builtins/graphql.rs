// Copyright (c) Microsoft Corporation.
// Licensed under the MIT License.
#![allow(
    clippy::pattern_type_mismatch,
    clippy::as_conversions,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

//! `graphql.parse_query` and `graphql.parse_schema`, as OPA implements them: gqlparser's lexer
//! and parser (OPA's `internal/gqlparser`, itself from vektah/gqlparser v2), the AST as Go's
//! `encoding/json` marshals gqlparser's structs, then OPA's `pruneIrrelevantGraphQLASTNodes`
//! (no `Position`, no nulls, no empty lists or objects). Errors carry gqlparser's message and
//! OPA's "in GraphQL string at location line:column".
//!
//! `graphql.is_valid`, `graphql.parse` and `graphql.parse_and_verify` validate the query against
//! the schema (merged with gqlparser's prelude) with gqlparser's rules (`graphql/validate.rs`);
//! `graphql.schema_is_valid` validates a schema alone (`graphql/schema.rs`).

use crate::ast::{Expr, Ref};
use crate::builtins;
use crate::builtins::utils::{ensure_args_count, ensure_string};
use crate::lexer::Span;
use crate::value::Value;
use crate::*;

use anyhow::{bail, Result};
use serde_json::{json, Map, Value as Json};

pub fn register(m: &mut builtins::BuiltinsMap<&'static str, builtins::BuiltinFcn>) {
    m.insert("graphql.parse_query", (parse_query, 1));
    m.insert("graphql.parse_schema", (parse_schema, 1));
    m.insert("graphql.schema_is_valid", (schema_is_valid, 1));
    m.insert("graphql.is_valid", (is_valid, 2));
    m.insert("graphql.parse", (parse, 2));
    m.insert("graphql.parse_and_verify", (parse_and_verify, 2));
}

/// A query or schema operand: a string is parsed, an object is read as OPA decodes it into
/// gqlparser's structs (`graphql/decode.rs`); `None` for any other type. The error is the
/// builtin's message.
fn document(v: &Value, schema: bool) -> Option<core::result::Result<Json, String>> {
    match v {
        Value::String(text) => Some(
            if schema {
                Parser::new(text).schema_document()
            } else {
                Parser::new(text).query_document()
            }
            .map_err(|e| e.to_string()),
        ),
        Value::Object(_) => {
            let raw = serde_json::to_value(v).unwrap_or(Json::Null);
            Some(if schema {
                decode::schema_document(&raw)
            } else {
                decode::query_document(&raw)
            })
        }
        _ => None,
    }
}

/// OPA's `validateQuery` message: the first error's text (gqlparser's list of errors, each
/// `input:line:col: message`, split at the first three colons) and its location.
fn validation_message(errors: &[validate::Error]) -> String {
    let mut list = String::new();
    for e in errors {
        list.push_str("input");
        if let Some(p) = e.pos.filter(|p| p.line > 0) {
            list.push_str(&format!(":{}:{}", p.line, p.column));
        }
        list.push_str(": ");
        list.push_str(&e.message);
        list.push('\n');
    }
    let parts: Vec<&str> = list.splitn(4, ':').collect();
    if parts.len() < 4 {
        return list.trim_end().to_string();
    }
    let msg = parts[3].trim_start_matches(' ');
    let msg = msg.strip_suffix(".\n").unwrap_or(msg);
    format!(
        "{msg} in GraphQL query string at location {}:{}",
        parts[1], parts[2]
    )
}

/// Validates the query against the schema as OPA's builtins do: the schema is converted (and
/// validated) first, then the query.
fn verify(query: &Json, schema: &Json) -> core::result::Result<(), String> {
    let schema = schema::validate(schema)
        .map_err(|e| format!("Error in gqlparser SchemaDocument to Schema conversion: {e}"))?;
    let errors = validate::validate(&schema, query);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(validation_message(&errors))
    }
}

/// `graphql.is_valid(query, schema)`: `false` for anything that does not parse or validate.
fn is_valid(span: &Span, params: &[Ref<Expr>], args: &[Value], _strict: bool) -> Result<Value> {
    ensure_args_count(span, "graphql.is_valid", params, args, 2)?;
    let ok = match (document(&args[0], false), document(&args[1], true)) {
        (Some(Ok(q)), Some(Ok(s))) => verify(&q, &s).is_ok(),
        _ => false,
    };
    Ok(Value::Bool(ok))
}

/// `graphql.parse(query, schema)`: both ASTs when the query is valid against the schema,
/// otherwise an error naming the first problem.
fn parse(span: &Span, params: &[Ref<Expr>], args: &[Value], _strict: bool) -> Result<Value> {
    let name = "graphql.parse";
    ensure_args_count(span, name, params, args, 2)?;
    let mut docs = Vec::new();
    for (i, schema) in [(0_usize, false), (1, true)] {
        match document(&args[i], schema) {
            Some(Ok(doc)) => docs.push(doc),
            Some(Err(e)) => bail!(span.error(&format!("{name}: {e}"))),
            None => bail!(params[i].span().error(&format!(
                "{name}: operand {} must be one of {{string, object}} but got {}",
                i + 1,
                type_name(&args[i])
            ))),
        }
    }
    if let Err(e) = verify(&docs[0], &docs[1]) {
        bail!(span.error(&format!("{name}: {e}")));
    }
    let schema = docs.pop().unwrap_or_default();
    let query = docs.pop().unwrap_or_default();
    Ok(Value::from(json!([prune(query), prune(schema)])))
}

/// `graphql.parse_and_verify(query, schema)`: `[true, query AST, schema AST]`, or
/// `[false, {}, {}]` for anything that does not parse or validate.
fn parse_and_verify(
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
    _strict: bool,
) -> Result<Value> {
    ensure_args_count(span, "graphql.parse_and_verify", params, args, 2)?;
    if let (Some(Ok(q)), Some(Ok(s))) = (document(&args[0], false), document(&args[1], true)) {
        if verify(&q, &s).is_ok() {
            return Ok(Value::from(json!([true, prune(q), prune(s)])));
        }
    }
    Ok(Value::from(json!([false, {}, {}])))
}

/// OPA's name of a value's type in operand errors.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Set(_) => "set",
        Value::Object(_) => "object",
        Value::Undefined => "undefined",
    }
}

/// `graphql.schema_is_valid(schema)`: the schema (a string, or an AST object as
/// `graphql.parse_schema` returns it) merged with gqlparser's prelude and validated as
/// gqlparser's `ValidateSchemaDocument` does. Anything else, or a schema that does not parse,
/// is `false`, as in OPA.
fn schema_is_valid(
    span: &Span,
    params: &[Ref<Expr>],
    args: &[Value],
    _strict: bool,
) -> Result<Value> {
    ensure_args_count(span, "graphql.schema_is_valid", params, args, 1)?;
    let Some(Ok(doc)) = document(&args[0], true) else {
        return Ok(Value::Bool(false));
    };
    Ok(Value::Bool(schema::validate(&doc).is_ok()))
}

fn parse_query(span: &Span, params: &[Ref<Expr>], args: &[Value], _strict: bool) -> Result<Value> {
    let name = "graphql.parse_query";
    ensure_args_count(span, name, params, args, 1)?;
    let text = ensure_string(name, &params[0], &args[0])?;
    match Parser::new(&text).query_document() {
        Ok(doc) => Ok(Value::from(prune(doc))),
        Err(e) => bail!(span.error(&format!("{name}: {e}"))),
    }
}

fn parse_schema(span: &Span, params: &[Ref<Expr>], args: &[Value], _strict: bool) -> Result<Value> {
    let name = "graphql.parse_schema";
    ensure_args_count(span, name, params, args, 1)?;
    let text = ensure_string(name, &params[0], &args[0])?;
    match Parser::new(&text).schema_document() {
        Ok(doc) => Ok(Value::from(prune(doc))),
        Err(e) => bail!(span.error(&format!("{name}: {e}"))),
    }
}

/// OPA's `pruneIrrelevantGraphQLASTNodes`: drops `Position`, nulls, and lists and objects that
/// are empty once pruned.
fn prune(v: Json) -> Json {
    fn keep(v: Json) -> Option<Json> {
        match v {
            Json::Null => None,
            Json::Array(_) | Json::Object(_) => {
                let p = prune(v);
                let empty = match &p {
                    Json::Array(a) => a.is_empty(),
                    Json::Object(o) => o.is_empty(),
                    _ => false,
                };
                (!empty).then_some(p)
            }
            other => Some(other),
        }
    }
    match v {
        Json::Array(a) => Json::Array(a.into_iter().filter_map(keep).collect()),
        Json::Object(o) => Json::Object(
            o.into_iter()
                .filter(|(k, _)| k != "Position")
                .filter_map(|(k, v)| keep(v).map(|v| (k, v)))
                .collect::<Map<_, _>>(),
        ),
        other => other,
    }
}

// ---- lexer (gqlparser lexer/lexer.go) ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Invalid,
    Eof,
    Bang,
    Dollar,
    Amp,
    ParenL,
    ParenR,
    Spread,
    Colon,
    Equals,
    At,
    BracketL,
    BracketR,
    BraceL,
    BraceR,
    Pipe,
    Name,
    Int,
    Float,
    String,
    BlockString,
}

impl Kind {
    /// gqlparser's `Type.String()`.
    fn text(self) -> &'static str {
        match self {
            Kind::Invalid => "<Invalid>",
            Kind::Eof => "<EOF>",
            Kind::Bang => "!",
            Kind::Dollar => "$",
            Kind::Amp => "&",
            Kind::ParenL => "(",
            Kind::ParenR => ")",
            Kind::Spread => "...",
            Kind::Colon => ":",
            Kind::Equals => "=",
            Kind::At => "@",
            Kind::BracketL => "[",
            Kind::BracketR => "]",
            Kind::BraceL => "{",
            Kind::BraceR => "}",
            Kind::Pipe => "|",
            Kind::Name => "Name",
            Kind::Int => "Int",
            Kind::Float => "Float",
            Kind::String => "String",
            Kind::BlockString => "BlockString",
        }
    }
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    value: String,
    line: usize,
    /// As gqlparser computes it, in runes from the start of the current line: negative for a
    /// block string that spans lines (the line moved on while it was read).
    column: i64,
}

impl Token {
    /// gqlparser's `Token.String()`: the kind, and the value quoted when there is one.
    fn describe(&self) -> String {
        if self.value.is_empty() {
            self.kind.text().to_string()
        } else {
            format!("{} {}", self.kind.text(), go_quote(&self.value))
        }
    }
}

/// Go's `strconv.Quote` for the strings a GraphQL token can hold.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A located error, formatted as OPA reports it.
#[derive(Debug)]
struct GqlError {
    message: String,
    line: usize,
    column: i64,
}

impl core::fmt::Display for GqlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{} in GraphQL string at location {}:{}",
            self.message, self.line, self.column
        )
    }
}

struct Lexer<'a> {
    input: &'a str,
    bytes: &'a [u8],
    start: usize,
    end: usize,
    start_runes: usize,
    end_runes: usize,
    line: usize,
    line_start_runes: usize,
}

impl<'a> Lexer<'a> {
    fn new(input: &'a str) -> Self {
        Lexer {
            input,
            bytes: input.as_bytes(),
            start: 0,
            end: 0,
            start_runes: 0,
            end_runes: 0,
            line: 1,
            line_start_runes: 0,
        }
    }

    fn token(&self, kind: Kind, value: String) -> Token {
        Token {
            kind,
            value,
            line: self.line,
            column: self.start_runes as i64 - self.line_start_runes as i64 + 1,
        }
    }

    fn error(&self, message: String) -> GqlError {
        GqlError {
            message,
            line: self.line,
            column: self.end_runes as i64 - self.line_start_runes as i64 + 1,
        }
    }

    fn next_char(&self) -> Option<char> {
        self.input[self.end..].chars().next()
    }

    fn read_token(&mut self) -> Result<Token, GqlError> {
        loop {
            self.ws();
            self.start = self.end;
            self.start_runes = self.end_runes;
            if self.end >= self.bytes.len() {
                return Ok(self.token(Kind::Eof, String::new()));
            }
            let r = self.bytes[self.start];
            self.end += 1;
            self.end_runes += 1;
            let punct = match r {
                b'!' => Some(Kind::Bang),
                b'$' => Some(Kind::Dollar),
                b'&' => Some(Kind::Amp),
                b'(' => Some(Kind::ParenL),
                b')' => Some(Kind::ParenR),
                b'.' if self.input[self.start..].starts_with("...") => {
                    self.end += 2;
                    self.end_runes += 2;
                    Some(Kind::Spread)
                }
                b':' => Some(Kind::Colon),
                b'=' => Some(Kind::Equals),
                b'@' => Some(Kind::At),
                b'[' => Some(Kind::BracketL),
                b']' => Some(Kind::BracketR),
                b'{' => Some(Kind::BraceL),
                b'}' => Some(Kind::BraceR),
                b'|' => Some(Kind::Pipe),
                _ => None,
            };
            if let Some(kind) = punct {
                return Ok(self.token(kind, String::new()));
            }
            match r {
                b'#' => {
                    self.read_comment();
                    continue;
                }
                b'_' | b'a'..=b'z' | b'A'..=b'Z' => return Ok(self.read_name()),
                b'-' | b'0'..=b'9' => return self.read_number(),
                b'"' => {
                    return if self.input[self.start..].starts_with("\"\"\"") {
                        self.read_block_string()
                    } else {
                        self.read_string()
                    };
                }
                _ => {}
            }
            self.end -= 1;
            self.end_runes -= 1;
            if r < 0x20 && r != b'\t' && r != b'\n' && r != b'\r' {
                return Err(self.error(format!(
                    "Cannot contain the invalid character \"\\u{:04}\"",
                    r
                )));
            }
            if r == b'\'' {
                return Err(self.error(
                    "Unexpected single quote character ('), did you mean to use a double quote (\")?"
                        .into(),
                ));
            }
            let c = self.next_char().unwrap_or('\u{fffd}');
            return Err(self.error(format!("Cannot parse the unexpected character \"{c}\".")));
        }
    }

    fn ws(&mut self) {
        while self.end < self.bytes.len() {
            match self.bytes[self.end] {
                b'\t' | b' ' | b',' => {
                    self.end += 1;
                    self.end_runes += 1;
                }
                b'\n' => {
                    self.end += 1;
                    self.end_runes += 1;
                    self.line += 1;
                    self.line_start_runes = self.end_runes;
                }
                b'\r' => {
                    self.end += 1;
                    self.end_runes += 1;
                    self.line += 1;
                    self.line_start_runes = self.end_runes;
                    if self.end < self.bytes.len() && self.bytes[self.end] == b'\n' {
                        self.end += 1;
                        self.end_runes += 1;
                    }
                }
                0xef if self.bytes[self.end..].starts_with(&[0xef, 0xbb, 0xbf]) => {
                    self.end += 3;
                    self.end_runes += 1;
                }
                _ => return,
            }
        }
    }

    fn read_comment(&mut self) {
        while let Some(c) = self.next_char() {
            if c as u32 > 0x1f || c == '\t' {
                self.end += c.len_utf8();
                self.end_runes += 1;
            } else {
                break;
            }
        }
    }

    fn read_name(&mut self) -> Token {
        while self.end < self.bytes.len() {
            let b = self.bytes[self.end];
            if b.is_ascii_alphanumeric() || b == b'_' {
                self.end += 1;
                self.end_runes += 1;
            } else {
                break;
            }
        }
        self.token(Kind::Name, self.input[self.start..self.end].to_string())
    }

    fn accept(&mut self, set: &[u8]) -> bool {
        if self.end < self.bytes.len() && set.contains(&self.bytes[self.end]) {
            self.end += 1;
            self.end_runes += 1;
            true
        } else {
            false
        }
    }

    fn digits(&mut self) -> usize {
        let mut n = 0;
        while self.end < self.bytes.len() && self.bytes[self.end].is_ascii_digit() {
            self.end += 1;
            self.end_runes += 1;
            n += 1;
        }
        n
    }

    fn describe_next(&self) -> String {
        match self.next_char() {
            // Go's describeNext takes one byte.
            Some(_) => format!("\"{}\"", self.bytes[self.end] as char),
            None => "<EOF>".into(),
        }
    }

    fn read_number(&mut self) -> Result<Token, GqlError> {
        let mut float = false;
        self.end -= 1;
        self.end_runes -= 1;
        self.accept(b"-");
        if self.accept(b"0") {
            let n = self.digits();
            if n != 0 {
                self.end -= n;
                self.end_runes -= n;
                return Err(self.error(format!(
                    "Invalid number, unexpected digit after 0: {}.",
                    self.describe_next()
                )));
            }
        } else if self.digits() == 0 {
            return Err(self.error(format!(
                "Invalid number, expected digit but got: {}.",
                self.describe_next()
            )));
        }
        if self.accept(b".") {
            float = true;
            if self.digits() == 0 {
                return Err(self.error(format!(
                    "Invalid number, expected digit but got: {}.",
                    self.describe_next()
                )));
            }
        }
        if self.accept(b"eE") {
            float = true;
            self.accept(b"-+");
            if self.digits() == 0 {
                return Err(self.error(format!(
                    "Invalid number, expected digit but got: {}.",
                    self.describe_next()
                )));
            }
        }
        let kind = if float { Kind::Float } else { Kind::Int };
        Ok(self.token(kind, self.input[self.start..self.end].to_string()))
    }

    fn read_string(&mut self) -> Result<Token, GqlError> {
        self.start += 1;
        self.start_runes += 1;
        let mut buf: Option<String> = None;
        while self.end < self.bytes.len() {
            let r = self.bytes[self.end];
            if r == b'\n' || r == b'\r' {
                break;
            }
            if r < 0x20 && r != b'\t' {
                return Err(
                    self.error(format!("Invalid character within String: \"\\u{:04}\".", r))
                );
            }
            match r {
                b'"' => {
                    let value = buf.unwrap_or_else(|| self.input[self.start..self.end].to_string());
                    let t = self.token(Kind::String, value);
                    self.end += 1;
                    self.end_runes += 1;
                    return Ok(t);
                }
                b'\\' => {
                    if self.end + 1 >= self.bytes.len() {
                        self.end += 1;
                        self.end_runes += 1;
                        return Err(self.error("Invalid character escape sequence.".into()));
                    }
                    let b = buf.get_or_insert_with(|| self.input[self.start..self.end].to_string());
                    let escape = self.bytes[self.end + 1];
                    if escape == b'u' {
                        if self.end + 6 >= self.bytes.len() {
                            self.end += 1;
                            self.end_runes += 1;
                            let rest = self.input.get(self.end..).unwrap_or("");
                            return Err(
                                self.error(format!("Invalid character escape sequence: \\{rest}."))
                            );
                        }
                        let hex = self.input.get(self.end + 2..self.end + 6).unwrap_or("");
                        match u32::from_str_radix(hex, 16)
                            .ok()
                            .filter(|_| hex.bytes().all(|h| h.is_ascii_hexdigit()))
                        {
                            Some(v) => {
                                b.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                                self.end += 6;
                                self.end_runes += 6;
                            }
                            None => {
                                self.end += 1;
                                self.end_runes += 1;
                                let shown = self.input.get(self.end..self.end + 5).unwrap_or("");
                                return Err(self.error(format!(
                                    "Invalid character escape sequence: \\{shown}."
                                )));
                            }
                        }
                    } else {
                        let c = match escape {
                            b'"' | b'/' | b'\\' => escape as char,
                            b'b' => '\u{8}',
                            b'f' => '\u{c}',
                            b'n' => '\n',
                            b'r' => '\r',
                            b't' => '\t',
                            _ => {
                                self.end += 1;
                                self.end_runes += 1;
                                return Err(self.error(format!(
                                    "Invalid character escape sequence: \\{}.",
                                    escape as char
                                )));
                            }
                        };
                        b.push(c);
                        self.end += 2;
                        self.end_runes += 2;
                    }
                }
                _ => {
                    let c = self.next_char().unwrap_or('\u{fffd}');
                    self.end += c.len_utf8();
                    self.end_runes += 1;
                    if let Some(b) = &mut buf {
                        b.push(c);
                    }
                }
            }
        }
        Err(self.error("Unterminated string.".into()))
    }

    fn read_block_string(&mut self) -> Result<Token, GqlError> {
        let mut buf = String::new();
        self.start += 3;
        self.start_runes += 3;
        self.end += 2;
        self.end_runes += 2;
        while self.end < self.bytes.len() {
            let r = self.bytes[self.end];
            if self.input[self.end..].starts_with("\"\"\"") {
                let t = self.token(Kind::BlockString, block_string_value(&buf));
                self.end += 3;
                self.end_runes += 3;
                return Ok(t);
            }
            if r < 0x20 && r != b'\t' && r != b'\n' && r != b'\r' {
                return Err(
                    self.error(format!("Invalid character within String: \"\\u{:04}\".", r))
                );
            }
            if self.input[self.end..].starts_with("\\\"\"\"") {
                buf.push_str("\"\"\"");
                self.end += 4;
                self.end_runes += 4;
            } else if r == b'\r' {
                if self.end + 1 < self.bytes.len() && self.bytes[self.end + 1] == b'\n' {
                    self.end += 1;
                    self.end_runes += 1;
                }
                buf.push('\n');
                self.end += 1;
                self.end_runes += 1;
                self.line += 1;
                self.line_start_runes = self.end_runes;
            } else {
                let c = self.next_char().unwrap_or('\u{fffd}');
                self.end += c.len_utf8();
                self.end_runes += 1;
                buf.push(c);
                if r == b'\n' {
                    self.line += 1;
                    self.line_start_runes = self.end_runes;
                }
            }
        }
        Err(self.error("Unterminated string.".into()))
    }
}

/// The GraphQL spec's BlockStringValue (gqlparser's `blockStringValue`): common indentation
/// removed from all lines but the first, leading and trailing blank lines dropped.
fn block_string_value(raw: &str) -> String {
    let mut lines: Vec<&str> = raw.split('\n').collect();
    // Go splits on \n only; a \r was already turned into \n by the lexer.
    let is_ws = |c: char| c == ' ' || c == '\t';
    let mut common: Option<usize> = None;
    for line in lines.iter().skip(1) {
        let indent = line.chars().take_while(|c| is_ws(*c)).count();
        if indent < line.chars().count() && common.is_none_or(|c| indent < c) {
            common = Some(indent);
        }
    }
    let owned: Vec<String>;
    if let Some(common) = common.filter(|c| *c > 0) {
        owned = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                if i == 0 {
                    l.to_string()
                } else {
                    l.chars().skip(common).collect()
                }
            })
            .collect();
        lines = owned.iter().map(String::as_str).collect();
    }
    let blank = |l: &str| l.chars().all(is_ws);
    while lines.first().is_some_and(|l| blank(l)) {
        lines.remove(0);
    }
    while lines.last().is_some_and(|l| blank(l)) {
        lines.pop();
    }
    lines.join("\n")
}

// ---- parser (gqlparser parser/parser.go, query.go, schema.go) ----

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<Result<Token, GqlError>>,
    prev: Token,
    err: Option<GqlError>,
    /// Bracket nesting: gqlparser has no limit (Go's stacks grow); here a document nested
    /// deeper than `MAX_DEPTH` is an error rather than a stack overflow of the evaluating thread.
    depth: usize,
}

/// Far beyond any real query or schema (GraphQL servers commonly cap queries at 10–20 levels).
const MAX_DEPTH: usize = 128;

type Fallible<T> = core::result::Result<T, GqlError>;

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Parser {
            lexer: Lexer::new(input),
            peeked: None,
            prev: Token {
                kind: Kind::Eof,
                value: String::new(),
                line: 1,
                column: 1,
            },
            err: None,
            depth: 0,
        }
    }

    fn peek(&mut self) -> Token {
        if self.err.is_some() {
            return self.prev.clone();
        }
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.read_token());
        }
        match self.peeked.as_ref() {
            Some(Ok(t)) => t.clone(),
            // A lexer error surfaces when the token is consumed (gqlparser's peekError);
            // until then the peeked token is an Invalid one at the error.
            Some(Err(e)) => Token {
                kind: Kind::Invalid,
                value: String::new(),
                line: e.line,
                column: e.column,
            },
            None => self.prev.clone(),
        }
    }

    fn fail(&mut self, tok: &Token, message: String) {
        if self.err.is_none() {
            self.err = Some(GqlError {
                message,
                line: tok.line,
                column: tok.column,
            });
        }
    }

    fn next(&mut self) -> Token {
        if self.err.is_some() {
            return self.prev.clone();
        }
        let t = match self.peeked.take() {
            Some(t) => t,
            None => self.lexer.read_token(),
        };
        match t {
            Ok(t) => self.prev = t,
            Err(e) => {
                self.prev = Token {
                    kind: Kind::Invalid,
                    value: String::new(),
                    line: e.line,
                    column: e.column,
                };
                self.err = Some(e);
            }
        }
        self.prev.clone()
    }

    fn expect_keyword(&mut self, value: &str) -> Token {
        let tok = self.peek();
        if tok.kind == Kind::Name && tok.value == value {
            return self.next();
        }
        let msg = format!("Expected {}, found {}", go_quote(value), tok.describe());
        self.fail(&tok, msg);
        tok
    }

    fn expect(&mut self, kind: Kind) -> Token {
        let tok = self.peek();
        if tok.kind == kind {
            return self.next();
        }
        let msg = format!("Expected {}, found {}", kind.text(), tok.kind.text());
        self.fail(&tok, msg);
        tok
    }

    fn skip(&mut self, kind: Kind) -> bool {
        if self.err.is_some() {
            return false;
        }
        if self.peek().kind != kind {
            return false;
        }
        self.next();
        true
    }

    fn unexpected(&mut self) {
        let tok = self.peek();
        self.unexpected_token(&tok);
    }

    fn unexpected_token(&mut self, tok: &Token) {
        let msg = format!("Unexpected {}", tok.describe());
        self.fail(tok, msg);
    }

    /// Enters a bracketed construct; `false` (and an error) past `MAX_DEPTH` levels.
    fn enter(&mut self) -> bool {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let tok = self.prev.clone();
            self.fail(&tok, format!("nested deeper than {MAX_DEPTH} levels"));
            return false;
        }
        true
    }

    fn many(&mut self, start: Kind, end: Kind, mut f: impl FnMut(&mut Self)) {
        if !self.skip(start) {
            return;
        }
        if self.enter() {
            while self.peek().kind != end && self.err.is_none() {
                f(self);
            }
        }
        self.depth -= 1;
        self.next();
    }

    fn some(&mut self, start: Kind, end: Kind, f: impl FnMut(&mut Self)) {
        if !self.skip(start) {
            return;
        }
        if self.enter() {
            self.some_inner(end, f);
        }
        self.depth -= 1;
    }

    fn some_inner(&mut self, end: Kind, mut f: impl FnMut(&mut Self)) {
        let mut called = false;
        while self.peek().kind != end && self.err.is_none() {
            called = true;
            f(self);
        }
        if !called {
            let tok = self.peek();
            let msg = format!(
                "expected at least one definition, found {}",
                tok.kind.text()
            );
            self.fail(&tok, msg);
            return;
        }
        self.next();
    }

    fn finish(&mut self, doc: Json) -> Fallible<Json> {
        match self.err.take() {
            Some(e) => Err(e),
            None => Ok(doc),
        }
    }

    // -- query documents --

    fn query_document(mut self) -> Fallible<Json> {
        let mut operations = Vec::new();
        let mut fragments = Vec::new();
        while self.peek().kind != Kind::Eof {
            if self.err.is_some() {
                break;
            }
            let tok = self.peek();
            match tok.kind {
                Kind::Name => match tok.value.as_str() {
                    "query" | "mutation" | "subscription" => {
                        operations.push(self.operation_definition())
                    }
                    "fragment" => fragments.push(self.fragment_definition()),
                    _ => self.unexpected(),
                },
                Kind::BraceL => operations.push(self.operation_definition()),
                _ => self.unexpected(),
            }
        }
        let doc = json!({"Operations": operations, "Fragments": fragments, "Comment": null});
        self.finish(doc)
    }

    /// The next token's line and column, as the validator reports them (`Position` is pruned
    /// from every AST the builtins return, as OPA prunes it).
    fn position(&mut self) -> Json {
        let t = self.peek();
        json!({"Line": t.line, "Column": t.column})
    }

    fn operation_definition(&mut self) -> Json {
        let position = self.position();
        if self.peek().kind == Kind::BraceL {
            let selection_set = self.required_selection_set();
            return json!({
                "Operation": "query", "Name": "", "VariableDefinitions": null,
                "Directives": null, "SelectionSet": selection_set, "Comment": null,
                "Position": position,
            });
        }
        let operation = self.operation_type();
        let name = if self.peek().kind == Kind::Name {
            self.next().value
        } else {
            String::new()
        };
        let variables = self.variable_definitions();
        let directives = self.directives(false);
        let selection_set = self.required_selection_set();
        json!({
            "Operation": operation, "Name": name, "VariableDefinitions": variables,
            "Directives": directives, "SelectionSet": selection_set, "Comment": null,
            "Position": position,
        })
    }

    fn operation_type(&mut self) -> String {
        let tok = self.next();
        match tok.value.as_str() {
            "query" | "mutation" | "subscription" => tok.value,
            _ => {
                self.unexpected_token(&tok);
                String::new()
            }
        }
    }

    fn variable_definitions(&mut self) -> Json {
        let mut defs = Vec::new();
        self.many(Kind::ParenL, Kind::ParenR, |p| {
            defs.push(p.variable_definition())
        });
        Json::Array(defs)
    }

    fn variable_definition(&mut self) -> Json {
        let position = self.position();
        let variable = self.variable();
        self.expect(Kind::Colon);
        let typ = self.type_reference();
        let default = if self.skip(Kind::Equals) {
            self.value_literal(true)
        } else {
            Json::Null
        };
        let directives = self.directives(false);
        json!({
            "Variable": variable, "Type": typ, "DefaultValue": default, "Directives": directives,
            "Comment": null, "Definition": null, "Used": false, "Position": position,
        })
    }

    fn variable(&mut self) -> String {
        self.expect(Kind::Dollar);
        self.name()
    }

    fn optional_selection_set(&mut self) -> Json {
        let mut selections = Vec::new();
        self.some(Kind::BraceL, Kind::BraceR, |p| {
            selections.push(p.selection())
        });
        Json::Array(selections)
    }

    fn required_selection_set(&mut self) -> Json {
        let tok = self.peek();
        if tok.kind != Kind::BraceL {
            let msg = format!(
                "Expected {}, found {}",
                Kind::BraceL.text(),
                tok.kind.text()
            );
            self.fail(&tok, msg);
            return Json::Null;
        }
        self.optional_selection_set()
    }

    fn selection(&mut self) -> Json {
        if self.peek().kind == Kind::Spread {
            return self.fragment();
        }
        self.field()
    }

    fn field(&mut self) -> Json {
        let position = self.position();
        let alias = self.name();
        let name = if self.skip(Kind::Colon) {
            self.name()
        } else {
            alias.clone()
        };
        let arguments = self.arguments(false);
        let directives = self.directives(false);
        let selection_set = if self.peek().kind == Kind::BraceL {
            self.optional_selection_set()
        } else {
            Json::Null
        };
        json!({
            "Alias": alias, "Name": name, "Arguments": arguments, "Directives": directives,
            "SelectionSet": selection_set, "Comment": null, "Definition": null,
            "ObjectDefinition": null, "Position": position,
        })
    }

    fn arguments(&mut self, is_const: bool) -> Json {
        let mut args = Vec::new();
        self.many(Kind::ParenL, Kind::ParenR, |p| {
            let position = p.position();
            let name = p.name();
            p.expect(Kind::Colon);
            let value = p.value_literal(is_const);
            args.push(json!({"Name": name, "Value": value, "Comment": null, "Position": position}));
        });
        Json::Array(args)
    }

    fn fragment(&mut self) -> Json {
        let position = self.position();
        self.expect(Kind::Spread);
        let peek = self.peek();
        if peek.kind == Kind::Name && peek.value != "on" {
            let name = self.fragment_name();
            let directives = self.directives(false);
            return json!({
                "Name": name, "Directives": directives, "ObjectDefinition": null,
                "Definition": null, "Comment": null, "Position": position,
            });
        }
        let mut type_condition = String::new();
        if self.peek().value == "on" {
            self.next();
            type_condition = self.name();
        }
        let directives = self.directives(false);
        let selection_set = self.required_selection_set();
        json!({
            "TypeCondition": type_condition, "Directives": directives,
            "SelectionSet": selection_set, "ObjectDefinition": null, "Comment": null,
            "Position": position,
        })
    }

    fn fragment_definition(&mut self) -> Json {
        let position = self.position();
        self.expect_keyword("fragment");
        let name = self.fragment_name();
        let variables = self.variable_definitions();
        self.expect_keyword("on");
        let type_condition = self.name();
        let directives = self.directives(false);
        let selection_set = self.required_selection_set();
        json!({
            "Name": name, "VariableDefinition": variables, "TypeCondition": type_condition,
            "Directives": directives, "SelectionSet": selection_set, "Definition": null,
            "Comment": null, "Position": position,
        })
    }

    fn fragment_name(&mut self) -> String {
        if self.peek().value == "on" {
            self.unexpected();
            return String::new();
        }
        self.name()
    }

    fn value(raw: String, children: Json, kind: u8, position: Json) -> Json {
        json!({
            "Raw": raw, "Children": children, "Kind": kind, "Comment": null, "Definition": null,
            "VariableDefinition": null, "ExpectedType": null, "ExpectedTypeHasDefault": false,
            "Position": position,
        })
    }

    fn value_literal(&mut self, is_const: bool) -> Json {
        let token = self.peek();
        let position = json!({"Line": token.line, "Column": token.column});
        let kind = match token.kind {
            Kind::BracketL => {
                let mut values = Vec::new();
                self.many(Kind::BracketL, Kind::BracketR, |p| {
                    let v = p.value_literal(is_const);
                    values.push(json!({"Name": "", "Value": v, "Comment": null}));
                });
                return Self::value(String::new(), Json::Array(values), 8, position);
            }
            Kind::BraceL => {
                let mut fields = Vec::new();
                self.many(Kind::BraceL, Kind::BraceR, |p| {
                    let at = p.position();
                    let name = p.name();
                    p.expect(Kind::Colon);
                    let v = p.value_literal(is_const);
                    fields.push(json!({"Name": name, "Value": v, "Comment": null, "Position": at}));
                });
                return Self::value(String::new(), Json::Array(fields), 9, position);
            }
            Kind::Dollar => {
                if is_const {
                    self.unexpected();
                    return Json::Null;
                }
                let name = self.variable();
                return Self::value(name, Json::Null, 0, position);
            }
            Kind::Int => 1,
            Kind::Float => 2,
            Kind::String => 3,
            Kind::BlockString => 4,
            Kind::Name => match token.value.as_str() {
                "true" | "false" => 5,
                "null" => 6,
                _ => 7,
            },
            _ => {
                self.unexpected();
                return Json::Null;
            }
        };
        self.next();
        Self::value(token.value, Json::Null, kind, position)
    }

    fn directives(&mut self, is_const: bool) -> Json {
        let mut directives = Vec::new();
        while self.peek().kind == Kind::At {
            if self.err.is_some() {
                break;
            }
            let position = self.position();
            self.expect(Kind::At);
            let name = self.name();
            let arguments = self.arguments(is_const);
            directives.push(json!({
                "Name": name, "Arguments": arguments, "ParentDefinition": null,
                "Definition": null, "Location": "", "Position": position,
            }));
        }
        Json::Array(directives)
    }

    fn type_reference(&mut self) -> Json {
        let (named, elem) = if self.skip(Kind::BracketL) {
            let elem = if self.enter() {
                self.type_reference()
            } else {
                Json::Null
            };
            self.depth -= 1;
            self.expect(Kind::BracketR);
            (String::new(), elem)
        } else {
            (self.name(), Json::Null)
        };
        let non_null = self.skip(Kind::Bang);
        json!({"NamedType": named, "Elem": elem, "NonNull": non_null})
    }

    fn name(&mut self) -> String {
        self.expect(Kind::Name).value
    }

    // -- schema documents --

    fn schema_document(mut self) -> Fallible<Json> {
        let mut schema = Vec::new();
        let mut schema_extension = Vec::new();
        let mut directives = Vec::new();
        let mut definitions = Vec::new();
        let mut extensions = Vec::new();
        while self.peek().kind != Kind::Eof {
            if self.err.is_some() {
                break;
            }
            let mut description = String::new();
            let k = self.peek().kind;
            if k == Kind::BlockString || k == Kind::String {
                description = self.description();
            }
            if self.peek().kind != Kind::Name {
                self.unexpected();
                break;
            }
            match self.peek().value.as_str() {
                "scalar" | "type" | "interface" | "union" | "enum" | "input" => {
                    definitions.push(self.type_system_definition(description))
                }
                "schema" => schema.push(self.schema_definition(description, false)),
                "directive" => directives.push(self.directive_definition(description)),
                "extend" => {
                    if !description.is_empty() {
                        let prev = self.prev.clone();
                        self.unexpected_token(&prev);
                    }
                    self.expect_keyword("extend");
                    match self.peek().value.as_str() {
                        "schema" => {
                            schema_extension.push(self.schema_definition(String::new(), true))
                        }
                        "scalar" | "type" | "interface" | "union" | "enum" | "input" => {
                            extensions.push(self.type_extension())
                        }
                        _ => self.unexpected(),
                    }
                }
                _ => {
                    self.unexpected();
                    break;
                }
            }
        }
        let doc = json!({
            "Schema": schema, "SchemaExtension": schema_extension, "Directives": directives,
            "Definitions": definitions, "Extensions": extensions, "Comment": null,
        });
        self.finish(doc)
    }

    fn description(&mut self) -> String {
        let k = self.peek().kind;
        if k != Kind::BlockString && k != Kind::String {
            return String::new();
        }
        self.next().value
    }

    fn definition(kind: &str, description: String, name: String) -> Map<String, Json> {
        let mut m = Map::new();
        m.insert("Kind".into(), json!(kind));
        m.insert("Description".into(), json!(description));
        m.insert("Name".into(), json!(name));
        m.insert("BuiltIn".into(), json!(false));
        m
    }

    fn type_system_definition(&mut self, description: String) -> Json {
        let keyword = self.peek().value;
        self.expect_keyword(&keyword);
        let name = self.name();
        let kind = match keyword.as_str() {
            "scalar" => "SCALAR",
            "type" => "OBJECT",
            "interface" => "INTERFACE",
            "union" => "UNION",
            "enum" => "ENUM",
            _ => "INPUT_OBJECT",
        };
        let mut def = Self::definition(kind, description, name);
        match keyword.as_str() {
            "scalar" => {
                def.insert("Directives".into(), self.directives(true));
            }
            "type" | "interface" => {
                def.insert("Interfaces".into(), self.implements_interfaces());
                def.insert("Directives".into(), self.directives(true));
                def.insert("Fields".into(), self.fields_definition());
            }
            "union" => {
                def.insert("Directives".into(), self.directives(true));
                def.insert("Types".into(), self.union_member_types());
            }
            "enum" => {
                def.insert("Directives".into(), self.directives(true));
                def.insert("EnumValues".into(), self.enum_values());
            }
            _ => {
                def.insert("Directives".into(), self.directives(true));
                def.insert("Fields".into(), self.input_fields());
            }
        }
        Json::Object(def)
    }

    fn type_extension(&mut self) -> Json {
        let keyword = self.peek().value;
        self.expect_keyword(&keyword);
        let name = self.name();
        let kind = match keyword.as_str() {
            "scalar" => "SCALAR",
            "type" => "OBJECT",
            "interface" => "INTERFACE",
            "union" => "UNION",
            "enum" => "ENUM",
            _ => "INPUT_OBJECT",
        };
        let mut def = Self::definition(kind, String::new(), name);
        let empty = |v: &Json| v.as_array().is_none_or(Vec::is_empty);
        let nothing = match keyword.as_str() {
            "scalar" => {
                let d = self.directives(true);
                let nothing = empty(&d);
                def.insert("Directives".into(), d);
                nothing
            }
            "type" => {
                let i = self.implements_interfaces();
                let d = self.directives(true);
                let f = self.fields_definition();
                let nothing = empty(&i) && empty(&d) && empty(&f);
                def.insert("Interfaces".into(), i);
                def.insert("Directives".into(), d);
                def.insert("Fields".into(), f);
                nothing
            }
            "interface" => {
                let d = self.directives(true);
                let f = self.fields_definition();
                let nothing = empty(&d) && empty(&f);
                def.insert("Directives".into(), d);
                def.insert("Fields".into(), f);
                nothing
            }
            "union" => {
                let d = self.directives(true);
                let t = self.union_member_types();
                let nothing = empty(&d) && empty(&t);
                def.insert("Directives".into(), d);
                def.insert("Types".into(), t);
                nothing
            }
            "enum" => {
                let d = self.directives(true);
                let e = self.enum_values();
                let nothing = empty(&d) && empty(&e);
                def.insert("Directives".into(), d);
                def.insert("EnumValues".into(), e);
                nothing
            }
            _ => {
                let d = self.directives(false);
                let f = self.input_fields();
                let nothing = empty(&d) && empty(&f);
                def.insert("Directives".into(), d);
                def.insert("Fields".into(), f);
                nothing
            }
        };
        if nothing {
            self.unexpected();
        }
        Json::Object(def)
    }

    fn schema_definition(&mut self, description: String, extension: bool) -> Json {
        self.expect_keyword("schema");
        let directives = self.directives(true);
        let mut operation_types = Vec::new();
        self.some(Kind::BraceL, Kind::BraceR, |p| {
            let operation = p.operation_type();
            p.expect(Kind::Colon);
            let typ = p.name();
            operation_types.push(json!({"Operation": operation, "Type": typ}));
        });
        if extension
            && directives.as_array().is_none_or(Vec::is_empty)
            && operation_types.is_empty()
        {
            self.unexpected();
        }
        json!({
            "Description": description, "Directives": directives,
            "OperationTypes": operation_types, "Comment": null,
        })
    }

    fn implements_interfaces(&mut self) -> Json {
        let mut types = Vec::new();
        if self.peek().value == "implements" {
            self.next();
            self.skip(Kind::Amp);
            types.push(json!(self.name()));
            while self.skip(Kind::Amp) && self.err.is_none() {
                types.push(json!(self.name()));
            }
        }
        Json::Array(types)
    }

    fn fields_definition(&mut self) -> Json {
        let mut defs = Vec::new();
        self.some(Kind::BraceL, Kind::BraceR, |p| {
            let description = p.description();
            let name = p.name();
            let arguments = p.argument_defs();
            p.expect(Kind::Colon);
            let typ = p.type_reference();
            let directives = p.directives(true);
            defs.push(json!({
                "Description": description, "Name": name, "Arguments": arguments,
                "DefaultValue": null, "Type": typ, "Directives": directives,
            }));
        });
        Json::Array(defs)
    }

    fn argument_defs(&mut self) -> Json {
        let mut args = Vec::new();
        self.some(Kind::ParenL, Kind::ParenR, |p| {
            args.push(p.input_value(false))
        });
        Json::Array(args)
    }

    /// An argument definition, or (`input_field`) an input object's field.
    fn input_value(&mut self, input_field: bool) -> Json {
        let description = self.description();
        let name = self.name();
        self.expect(Kind::Colon);
        let typ = self.type_reference();
        let default = if self.skip(Kind::Equals) {
            self.value_literal(true)
        } else {
            Json::Null
        };
        let directives = self.directives(true);
        let mut v = json!({
            "Description": description, "Name": name, "DefaultValue": default, "Type": typ,
            "Directives": directives,
        });
        if input_field {
            v["Arguments"] = Json::Null;
        }
        v
    }

    fn input_fields(&mut self) -> Json {
        let mut values = Vec::new();
        self.some(Kind::BraceL, Kind::BraceR, |p| {
            values.push(p.input_value(true))
        });
        Json::Array(values)
    }

    fn union_member_types(&mut self) -> Json {
        let mut types = Vec::new();
        if self.skip(Kind::Equals) {
            self.skip(Kind::Pipe);
            types.push(json!(self.name()));
            while self.skip(Kind::Pipe) && self.err.is_none() {
                types.push(json!(self.name()));
            }
        }
        Json::Array(types)
    }

    fn enum_values(&mut self) -> Json {
        let mut values = Vec::new();
        self.some(Kind::BraceL, Kind::BraceR, |p| {
            let description = p.description();
            let name = p.name();
            let directives = p.directives(true);
            values
                .push(json!({"Description": description, "Name": name, "Directives": directives}));
        });
        Json::Array(values)
    }

    fn directive_definition(&mut self, description: String) -> Json {
        self.expect_keyword("directive");
        self.expect(Kind::At);
        let name = self.name();
        let arguments = self.argument_defs();
        let mut repeatable = false;
        let peek = self.peek();
        if peek.kind == Kind::Name && peek.value == "repeatable" {
            repeatable = true;
            self.skip(Kind::Name);
        }
        self.expect_keyword("on");
        self.skip(Kind::Pipe);
        let mut locations = vec![json!(self.directive_location())];
        while self.skip(Kind::Pipe) && self.err.is_none() {
            locations.push(json!(self.directive_location()));
        }
        json!({
            "Description": description, "Name": name, "Arguments": arguments,
            "Locations": locations, "IsRepeatable": repeatable,
        })
    }

    fn directive_location(&mut self) -> String {
        const LOCATIONS: &[&str] = &[
            "QUERY",
            "MUTATION",
            "SUBSCRIPTION",
            "FIELD",
            "FRAGMENT_DEFINITION",
            "FRAGMENT_SPREAD",
            "INLINE_FRAGMENT",
            "VARIABLE_DEFINITION",
            "SCHEMA",
            "SCALAR",
            "OBJECT",
            "FIELD_DEFINITION",
            "ARGUMENT_DEFINITION",
            "INTERFACE",
            "UNION",
            "ENUM",
            "ENUM_VALUE",
            "INPUT_OBJECT",
            "INPUT_FIELD_DEFINITION",
        ];
        let name = self.expect(Kind::Name);
        if LOCATIONS.contains(&name.value.as_str()) {
            return name.value;
        }
        self.unexpected_token(&name);
        String::new()
    }
}

mod decode;
mod schema;
mod validate;

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> core::result::Result<Json, String> {
        Parser::new(s)
            .query_document()
            .map(prune)
            .map_err(|e| e.to_string())
    }

    fn s(src: &str) -> core::result::Result<Json, String> {
        Parser::new(src)
            .schema_document()
            .map(prune)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn block_strings() {
        assert_eq!(
            block_string_value("\n    Hello,\n      World!\n\n    Yours,\n      GraphQL.\n  "),
            "Hello,\n  World!\n\nYours,\n  GraphQL."
        );
        assert_eq!(block_string_value("  x"), "  x");
    }

    /// gqlparser recurses without limit (Go's stacks grow); a query nested thousands of levels
    /// deep overflowed the evaluating thread's stack here. Up to `MAX_DEPTH` it parses and
    /// validates on a 2 MiB thread (a tokio worker's default) in a debug build; deeper, it is
    /// an error naming the limit.
    #[test]
    fn nesting_is_bounded() {
        let nested = |d: usize| format!("{{{}b{}}}", "a{".repeat(d), "}".repeat(d));
        let schema = "type Query { a: Query b: Int }";
        let ok = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let q = Parser::new(&nested(MAX_DEPTH - 1))
                    .query_document()
                    .unwrap();
                let s = Parser::new(schema).schema_document().unwrap();
                let valid = verify(&q, &s).is_ok();
                let v = Value::from(prune(q));
                valid && v != Value::Undefined
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(ok);
        for d in [MAX_DEPTH, 100_000] {
            let e = Parser::new(&nested(d)).query_document().unwrap_err();
            assert!(e.message.contains("nested deeper than 128 levels"), "{e}");
        }
        let deep_list = format!("{{ f(a: {}1{}) }}", "[".repeat(500), "]".repeat(500));
        assert!(Parser::new(&deep_list).query_document().is_err());
        let deep_type = format!("type Q {{ f: {}Int{} }}", "[".repeat(500), "]".repeat(500));
        assert!(Parser::new(&deep_type).schema_document().is_err());
    }

    #[test]
    fn errors_as_opa_reports_them() {
        assert_eq!(
            q("{").unwrap_err(),
            "Expected Name, found <EOF> in GraphQL string at location 1:2"
        );
        assert_eq!(
            q("notanoperation Foo { field }").unwrap_err(),
            "Unexpected Name \"notanoperation\" in GraphQL string at location 1:1"
        );
        assert_eq!(
            q("...").unwrap_err(),
            "Unexpected ... in GraphQL string at location 1:1"
        );
        assert_eq!(
            s("type Hello {}").unwrap_err(),
            "expected at least one definition, found } in GraphQL string at location 1:13"
        );
        assert_eq!(
            s("extend type Hello").unwrap_err(),
            "Unexpected <EOF> in GraphQL string at location 1:18"
        );
        // A lexer error met by a peek is gqlparser's "Unexpected <Invalid>"; consumed, it is
        // the lexer's own message.
        assert_eq!(
            q("{ f(a: 01) }").unwrap_err(),
            "Unexpected <Invalid> in GraphQL string at location 1:9"
        );
        assert_eq!(
            q("{ f(a: 1) } 'x'").unwrap_err(),
            "Unexpected <Invalid> in GraphQL string at location 1:13"
        );
    }
}
