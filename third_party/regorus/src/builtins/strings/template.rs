// Copyright (c) Microsoft Corporation.
// Licensed under the MIT License.
#![allow(
    clippy::pattern_type_mismatch,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

//! Go's `text/template`, as OPA's `strings.render_template` runs it: the variables go through
//! OPA's JSON round trip (numbers become `json.Number`, a string type), `missingkey=error`.
//!
//! Supported: text, trim markers, comments, field chains (`.a.b`, `$x.a`, `(pipeline).a`),
//! variables (`$x := …`, `$x = …`, `$`), pipelines (`|`), parenthesized pipelines, literals
//! (strings, raw strings, integers, floats, `true`, `false`, `nil`), `if`/`else if`/`else`,
//! `with`/`else with`/`else`, `range` (with `$i, $v :=`, `else`, `break`, `continue`), and the
//! functions `and`, `or`, `not`, `len`, `index`, `slice`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`,
//! `print`, `printf`, `println`, `html`, `js`, `urlquery`, and named templates (`define`,
//! `template`, `block`). `call` and `printf` verbs beyond `%v %s %d %q %t %x %X %f %%` raise [`UnsupportedError`]: a template
//! is rendered as Go renders it or not at all.

use super::{append_go_quoted, go_format, Width};
use crate::builtins::UnsupportedError;
use crate::value::Value;
use crate::*;

use alloc::collections::BTreeMap;
use anyhow::Result;

/// A Go value inside a template.
#[derive(Clone, Debug)]
enum V {
    /// An untyped nil (a JSON null, `nil`, a missing `index` entry).
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// `json.Number`: a number from the variables, a string type holding its JSON text.
    Num(String),
    /// An array or object from the variables.
    Data(Value),
}

impl V {
    fn from_value(v: &Value) -> V {
        match v {
            Value::Null | Value::Undefined => V::Nil,
            Value::Bool(b) => V::Bool(*b),
            Value::Number(_) => V::Num(v.to_string()),
            Value::String(s) => V::Str(s.to_string()),
            other => V::Data(other.clone()),
        }
    }

    /// Go's type name, as `fmt` writes it in `%!verb(type=value)`.
    fn type_name(&self) -> &'static str {
        match self {
            V::Nil => "<nil>",
            V::Bool(_) => "bool",
            V::Int(_) => "int",
            V::Float(_) => "float64",
            V::Str(_) => "string",
            V::Num(_) => "json.Number",
            V::Data(Value::Object(_)) => "map[string]interface {}",
            V::Data(_) => "[]interface {}",
        }
    }

    /// Go's `isTrue`.
    fn truth(&self) -> bool {
        match self {
            V::Nil => false,
            V::Bool(b) => *b,
            V::Int(i) => *i != 0,
            V::Float(f) => *f != 0.0,
            V::Str(s) | V::Num(s) => !s.is_empty(),
            V::Data(Value::Array(a)) => !a.is_empty(),
            V::Data(Value::Set(s)) => !s.is_empty(),
            V::Data(Value::Object(o)) => !o.is_empty(),
            V::Data(_) => true,
        }
    }

    /// `fmt`'s `%v`.
    fn format_v(&self, out: &mut String) {
        match self {
            V::Nil => out.push_str("<nil>"),
            V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            V::Int(i) => out.push_str(&i.to_string()),
            V::Float(f) => out.push_str(&go_float(*f)),
            V::Str(s) | V::Num(s) => out.push_str(s),
            V::Data(v) => go_format(v, out),
        }
    }

    fn is_string(&self) -> bool {
        matches!(self, V::Str(_) | V::Num(_))
    }
}

/// A float as Go's `%v` prints it: shortest representation, exponent form below 1e-4 and from
/// 1e21 on (`1e+21`, `1e-05`).
fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e21).contains(&abs) {
        let e = format!("{f:e}");
        let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    format!("{f}")
}

// ---- Lexing ---------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Dot,
    /// `.name`; `true` when written right after the previous token (a chain).
    Field(String, bool),
    /// `$` or `$name`.
    Var(String),
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

fn lex(action: &str) -> core::result::Result<Vec<Tok>, String> {
    let b = action.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    let mut adjacent = false;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            adjacent = false;
            continue;
        }
        let start = i;
        let word_end = |mut j: usize| {
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80) {
                j += 1;
            }
            j
        };
        match c {
            b'.' if i + 1 < b.len() && (b[i + 1].is_ascii_alphabetic() || b[i + 1] == b'_') => {
                let end = word_end(i + 1);
                toks.push(Tok::Field(action[i + 1..end].to_string(), adjacent));
                i = end;
            }
            b'.' if i + 1 < b.len() && b[i + 1].is_ascii_digit() => {
                let (t, end) = number(action, i)?;
                toks.push(t);
                i = end;
            }
            b'.' => {
                toks.push(Tok::Dot);
                i += 1;
            }
            b'$' => {
                let end = word_end(i + 1);
                toks.push(Tok::Var(action[i + 1..end].to_string()));
                i = end;
            }
            b'(' => {
                toks.push(Tok::LParen);
                i += 1;
            }
            b')' => {
                toks.push(Tok::RParen);
                i += 1;
            }
            b'|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            b',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            b':' if b.get(i + 1) == Some(&b'=') => {
                toks.push(Tok::Declare);
                i += 2;
            }
            b'=' => {
                toks.push(Tok::Assign);
                i += 1;
            }
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                if j >= b.len() {
                    return Err("unterminated quoted string".into());
                }
                let s: String = serde_json::from_str(&action[i..=j])
                    .map_err(|_| format!("invalid string literal {}", &action[i..=j]))?;
                toks.push(Tok::Str(s));
                i = j + 1;
            }
            b'`' => {
                let end = action[i + 1..]
                    .find('`')
                    .ok_or("unterminated raw quoted string")?;
                toks.push(Tok::Str(action[i + 1..i + 1 + end].to_string()));
                i = i + end + 2;
            }
            b'-' | b'+' | b'0'..=b'9' => {
                let (t, end) = number(action, i)?;
                toks.push(t);
                i = end;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = word_end(i);
                toks.push(Tok::Ident(action[i..end].to_string()));
                i = end;
            }
            _ => return Err(format!("unexpected {:?} in command", &action[i..])),
        }
        adjacent = i > start;
    }
    Ok(toks)
}

fn number(s: &str, start: usize) -> core::result::Result<(Tok, usize), String> {
    let b = s.as_bytes();
    let mut j = start;
    if b[j] == b'-' || b[j] == b'+' {
        j += 1;
    }
    while j < b.len()
        && (b[j].is_ascii_alphanumeric()
            || b[j] == b'.'
            || b[j] == b'_'
            || ((b[j] == b'-' || b[j] == b'+') && matches!(b[j - 1], b'e' | b'E')))
    {
        j += 1;
    }
    let text = &s[start..j];
    if let Ok(i) = text.parse::<i64>() {
        return Ok((Tok::Int(i), j));
    }
    let bare = text.trim_start_matches(['-', '+']);
    if let Some(hex) = bare.strip_prefix("0x").or_else(|| bare.strip_prefix("0X")) {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Ok((Tok::Int(if text.starts_with('-') { -i } else { i }), j));
        }
    }
    if let Ok(f) = text.parse::<f64>() {
        return Ok((Tok::Float(f), j));
    }
    Err(format!("bad number syntax: {text:?}"))
}

// ---- Parsing --------------------------------------------------------------------------------

#[derive(Debug)]
enum Term {
    Dot,
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Var(String),
    Func(String),
    /// A term followed by field names (`.a.b` is `Chain(Dot, [a, b])`).
    Chain(Box<Term>, Vec<String>),
    Pipe(Box<Pipe>),
}

#[derive(Debug)]
struct Pipe {
    decl: Vec<String>,
    assign: bool,
    cmds: Vec<Vec<Term>>,
}

#[derive(Debug)]
enum Node {
    Text(String),
    Action(Pipe),
    /// `if` (0), `with` (1), `range` (2): pipeline, then, else.
    Branch(u8, Pipe, Vec<Node>, Vec<Node>),
    Break,
    Continue,
    /// `{{define "name"}}…{{end}}` (and the definition half of `{{block}}`).
    Define(String, Vec<Node>),
    /// `{{template "name" pipeline}}`.
    Template(String, Option<Pipe>),
}

const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "eq", "ne", "lt", "le", "gt", "ge", "print",
    "printf", "println", "html", "js", "urlquery",
];

struct Parser<'a> {
    toks: &'a [Tok],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn pipeline(&mut self, in_range: bool) -> core::result::Result<Pipe, String> {
        let mut decl = Vec::new();
        let mut assign = false;
        // `$x :=`, `$x =`, or in range `$i, $v :=`.
        if let Some(Tok::Var(_)) = self.peek() {
            let save = self.pos;
            let mut names = Vec::new();
            while let Some(Tok::Var(n)) = self.peek().cloned() {
                self.pos += 1;
                names.push(n);
                if in_range && names.len() == 1 && self.peek() == Some(&Tok::Comma) {
                    self.pos += 1;
                    continue;
                }
                break;
            }
            match self.peek() {
                Some(Tok::Declare) => {
                    self.pos += 1;
                    decl = names;
                }
                Some(Tok::Assign) if names.len() == 1 => {
                    self.pos += 1;
                    decl = names;
                    assign = true;
                }
                _ => self.pos = save,
            }
        }
        let mut cmds = Vec::new();
        loop {
            let mut args = Vec::new();
            while let Some(t) = self.peek() {
                if matches!(t, Tok::Pipe | Tok::RParen) {
                    break;
                }
                args.push(self.operand()?);
            }
            if args.is_empty() {
                return Err("missing value for command".into());
            }
            cmds.push(args);
            if self.peek() == Some(&Tok::Pipe) {
                self.pos += 1;
                continue;
            }
            break;
        }
        Ok(Pipe { decl, assign, cmds })
    }

    fn operand(&mut self) -> core::result::Result<Term, String> {
        let term = match self.next() {
            Some(Tok::Dot) => Term::Dot,
            Some(Tok::Field(f, _)) => Term::Chain(Box::new(Term::Dot), alloc::vec![f]),
            Some(Tok::Var(v)) => Term::Var(v),
            Some(Tok::Str(s)) => Term::Str(s),
            Some(Tok::Int(i)) => Term::Int(i),
            Some(Tok::Float(f)) => Term::Float(f),
            Some(Tok::Ident(id)) => match id.as_str() {
                "true" => Term::Bool(true),
                "false" => Term::Bool(false),
                "nil" => Term::Nil,
                f if FUNCS.contains(&f) => Term::Func(id),
                "call" => return Err("unsupported: call".into()),
                _ => return Err(format!("function {id:?} not defined")),
            },
            Some(Tok::LParen) => {
                let p = self.pipeline(false)?;
                if self.next() != Some(Tok::RParen) {
                    return Err("unclosed left paren".into());
                }
                Term::Pipe(Box::new(p))
            }
            other => return Err(format!("unexpected {other:?} in operand")),
        };
        // Field chains written right after the operand.
        let mut fields = Vec::new();
        while let Some(Tok::Field(f, true)) = self.peek().cloned() {
            self.pos += 1;
            fields.push(f);
        }
        Ok(if fields.is_empty() {
            term
        } else {
            match term {
                Term::Chain(base, mut fs) => {
                    fs.extend(fields);
                    Term::Chain(base, fs)
                }
                t => Term::Chain(Box::new(t), fields),
            }
        })
    }
}

fn parse_pipe(action: &str, in_range: bool) -> core::result::Result<Pipe, String> {
    let toks = lex(action)?;
    let mut p = Parser {
        toks: &toks,
        pos: 0,
    };
    let pipe = p.pipeline(in_range)?;
    if p.pos != toks.len() {
        return Err(format!("unexpected {:?} in operand", toks.get(p.pos)));
    }
    Ok(pipe)
}

enum Stop {
    End,
    Else,
    /// `{{else if …}}` / `{{else with …}}`: the keyword and the rest of the action.
    ElseChain(String, String),
    Eof,
}

type Fail<'a> = &'a dyn Fn(String) -> anyhow::Error;

fn unsupported(what: &str) -> anyhow::Error {
    anyhow::Error::new(UnsupportedError(format!(
        "`strings.render_template`: unsupported template action {{{{{what}}}}}"
    )))
}

fn parse_list(
    tokens: &[(bool, String)],
    pos: &mut usize,
    depth_range: bool,
    fail: Fail<'_>,
) -> Result<(Vec<Node>, Stop)> {
    let mut nodes = Vec::new();
    while let Some((is_action, text)) = tokens.get(*pos) {
        *pos += 1;
        if !is_action {
            if !text.is_empty() {
                nodes.push(Node::Text(text.clone()));
            }
            continue;
        }
        let action = text.as_str();
        if action.starts_with("/*") && action.ends_with("*/") {
            continue;
        }
        let word = action
            .split(|c: char| c.is_whitespace() || c == '(')
            .next()
            .unwrap_or("");
        let rest = action[word.len()..].trim();
        match word {
            "end" if rest.is_empty() => return Ok((nodes, Stop::End)),
            "else" if rest.is_empty() => return Ok((nodes, Stop::Else)),
            "else" => {
                let kw = rest.split_whitespace().next().unwrap_or("");
                if kw != "if" && kw != "with" {
                    return Err(fail(format!("unexpected {{{{{action}}}}}")));
                }
                return Ok((
                    nodes,
                    Stop::ElseChain(kw.to_string(), rest[kw.len()..].trim().to_string()),
                ));
            }
            "if" | "with" | "range" => {
                nodes.push(parse_branch(word, rest, tokens, pos, depth_range, fail)?);
            }
            "break" | "continue" if rest.is_empty() => {
                if !depth_range {
                    return Err(fail(format!("{{{{{word}}}}} outside {{{{range}}}}")));
                }
                nodes.push(if word == "break" {
                    Node::Break
                } else {
                    Node::Continue
                });
            }
            "define" | "template" | "block" => {
                let toks = lex(rest).map_err(fail)?;
                let Some(Tok::Str(tname)) = toks.first().cloned() else {
                    return Err(fail(format!(
                        "{{{{{word}}}}}: expected a quoted template name"
                    )));
                };
                // The rest of the action after the name: the pipeline of template/block.
                let after = rest
                    .trim_start()
                    .get(quoted_len(rest.trim_start()).unwrap_or(0)..)
                    .unwrap_or("")
                    .trim();
                let pipe = if after.is_empty() {
                    None
                } else {
                    Some(parse_pipe(after, false).map_err(fail)?)
                };
                if word == "template" {
                    nodes.push(Node::Template(tname, pipe));
                    continue;
                }
                if word == "define" && pipe.is_some() {
                    return Err(fail("{{define}}: unexpected pipeline".into()));
                }
                let (body, end) = parse_list(tokens, pos, false, fail)?;
                if !matches!(end, Stop::End) {
                    return Err(fail(format!("{{{{{word} {tname:?}}}}} has no {{{{end}}}}")));
                }
                nodes.push(Node::Define(tname.clone(), body));
                if word == "block" {
                    nodes.push(Node::Template(tname, pipe));
                }
            }
            _ => {
                let pipe = parse_pipe(action, false).map_err(|e| {
                    if e.starts_with("unsupported") {
                        unsupported(action)
                    } else {
                        fail(e)
                    }
                })?;
                nodes.push(Node::Action(pipe));
            }
        }
    }
    Ok((nodes, Stop::Eof))
}

fn parse_branch(
    word: &str,
    rest: &str,
    tokens: &[(bool, String)],
    pos: &mut usize,
    in_range: bool,
    fail: Fail<'_>,
) -> Result<Node> {
    let kind = match word {
        "if" => 0,
        "with" => 1,
        _ => 2,
    };
    let pipe = parse_pipe(rest, kind == 2).map_err(|e| {
        if e.starts_with("unsupported") {
            unsupported(rest)
        } else {
            fail(e)
        }
    })?;
    let (then, end) = parse_list(tokens, pos, in_range || kind == 2, fail)?;
    let otherwise = match end {
        Stop::End => Vec::new(),
        Stop::Else => match parse_list(tokens, pos, in_range, fail)? {
            (o, Stop::End) => o,
            _ => return Err(fail(format!("{{{{{word}}}}}: expected {{{{end}}}}"))),
        },
        Stop::ElseChain(kw, cond) if (kw == "if" && kind == 0) || (kw == "with" && kind == 1) => {
            alloc::vec![parse_branch(&kw, &cond, tokens, pos, in_range, fail)?]
        }
        Stop::ElseChain(kw, _) => {
            return Err(fail(format!("{{{{else {kw}}}}} inside {{{{{word}}}}}")))
        }
        Stop::Eof => {
            return Err(fail(format!(
                "unexpected EOF: {{{{{word}}}}} has no {{{{end}}}}"
            )))
        }
    };
    Ok(Node::Branch(kind, pipe, then, otherwise))
}

// ---- Execution ------------------------------------------------------------------------------

enum Flow {
    Normal,
    Break,
    Continue,
}

struct Exec<'a> {
    vars: Vec<(String, V)>,
    out: String,
    fail: Fail<'a>,
    templates: BTreeMap<String, &'a [Node]>,
    depth: usize,
}

/// The byte length of the quoted string (`"…"` or a raw string) at the start of `s`.
fn quoted_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    match b.first()? {
        b'`' => s[1..].find('`').map(|i| i + 2),
        b'"' => {
            let mut j = 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            (j < b.len()).then_some(j + 1)
        }
        _ => None,
    }
}

/// Every `{{define}}` (and `{{block}}`) of a template, at any depth.
fn collect_templates<'a>(nodes: &'a [Node], out: &mut BTreeMap<String, &'a [Node]>) {
    for n in nodes {
        match n {
            Node::Define(name, body) => {
                out.insert(name.clone(), body.as_slice());
                collect_templates(body, out);
            }
            Node::Branch(_, _, then, otherwise) => {
                collect_templates(then, out);
                collect_templates(otherwise, out);
            }
            _ => {}
        }
    }
}

impl Exec<'_> {
    fn var(&self, name: &str) -> Result<V> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| (self.fail)(format!("undefined variable: ${name}")))
    }

    fn field(&self, v: V, name: &str) -> Result<V> {
        match v {
            V::Data(Value::Object(o)) => o
                .get(&Value::from(name))
                .map(V::from_value)
                .ok_or_else(|| (self.fail)(format!("map has no entry for key {name:?}"))),
            V::Nil => Err((self.fail)(format!(
                "nil pointer evaluating interface {{}}.{name}"
            ))),
            other => Err((self.fail)(format!(
                "can't evaluate field {name} in type {}",
                other.type_name()
            ))),
        }
    }

    fn term(&mut self, t: &Term, dot: &V) -> Result<V> {
        Ok(match t {
            Term::Dot => dot.clone(),
            Term::Nil => V::Nil,
            Term::Bool(b) => V::Bool(*b),
            Term::Int(i) => V::Int(*i),
            Term::Float(f) => V::Float(*f),
            Term::Str(s) => V::Str(s.clone()),
            Term::Var(n) => self.var(n)?,
            Term::Func(f) => return self.call(f, &[], None, dot),
            Term::Chain(base, fields) => {
                let mut v = self.term(base, dot)?;
                for f in fields {
                    v = self.field(v, f)?;
                }
                v
            }
            Term::Pipe(p) => self.pipe(p, dot)?,
        })
    }

    fn pipe(&mut self, p: &Pipe, dot: &V) -> Result<V> {
        let mut value: Option<V> = None;
        for cmd in &p.cmds {
            value = Some(self.command(cmd, dot, value)?);
        }
        let value = value.unwrap_or(V::Nil);
        for name in &p.decl {
            if p.assign {
                match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = value.clone(),
                    None => return Err((self.fail)(format!("undefined variable: ${name}"))),
                }
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn command(&mut self, cmd: &[Term], dot: &V, last: Option<V>) -> Result<V> {
        match &cmd[0] {
            Term::Func(f) => self.call(f, &cmd[1..], last, dot),
            first => {
                if cmd.len() > 1 || last.is_some() {
                    return Err((self.fail)(format!(
                        "can't give argument to non-function {first:?}"
                    )));
                }
                self.term(first, dot)
            }
        }
    }

    fn args(&mut self, args: &[Term], last: Option<V>, dot: &V) -> Result<Vec<V>> {
        let mut out = Vec::with_capacity(args.len() + 1);
        for a in args {
            out.push(self.term(a, dot)?);
        }
        out.extend(last);
        Ok(out)
    }

    fn call(&mut self, f: &str, args: &[Term], last: Option<V>, dot: &V) -> Result<V> {
        let fail = self.fail;
        // Go passes these functions `reflect.Value`s, to which a `nil` literal cannot be
        // assigned (the printing functions take `any` and accept it).
        let takes_any = matches!(
            f,
            "print" | "printf" | "println" | "html" | "js" | "urlquery"
        );
        if !takes_any && args.iter().any(|a| matches!(a, Term::Nil)) {
            return Err(fail("cannot assign nil to reflect.Value".into()));
        }
        // `and` / `or` evaluate their arguments lazily and return the deciding one.
        if f == "and" || f == "or" {
            let n = args.len() + usize::from(last.is_some());
            if n == 0 {
                return Err(fail(format!(
                    "wrong number of args for {f}: want at least 1 got 0"
                )));
            }
            let mut v = V::Nil;
            for (i, a) in args.iter().enumerate() {
                v = self.term(a, dot)?;
                if (f == "and") != v.truth() || (i + 1 == n) {
                    return Ok(v);
                }
            }
            return Ok(last.unwrap_or(v));
        }
        let a = self.args(args, last, dot)?;
        let want = |n: usize| -> Result<()> {
            if a.len() == n {
                Ok(())
            } else {
                Err(fail(format!(
                    "wrong number of args for {f}: want {n} got {}",
                    a.len()
                )))
            }
        };
        Ok(match f {
            "not" => {
                want(1)?;
                V::Bool(!a[0].truth())
            }
            "len" => {
                want(1)?;
                V::Int(match &a[0] {
                    V::Str(s) | V::Num(s) => s.len() as i64,
                    V::Data(Value::Array(x)) => x.len() as i64,
                    V::Data(Value::Set(x)) => x.len() as i64,
                    V::Data(Value::Object(x)) => x.len() as i64,
                    other => {
                        return Err(fail(format!(
                            "error calling len: len of type {}",
                            other.type_name()
                        )))
                    }
                })
            }
            "index" => {
                if a.is_empty() {
                    return Err(fail(
                        "wrong number of args for index: want at least 1 got 0".into(),
                    ));
                }
                let mut v = a[0].clone();
                for i in &a[1..] {
                    v = index(v, i).map_err(|e| fail(format!("error calling index: {e}")))?;
                }
                v
            }
            "slice" => {
                if a.is_empty() || a.len() > 4 {
                    return Err(fail(format!(
                        "wrong number of args for slice: got {}",
                        a.len()
                    )));
                }
                slice(&a[0], &a[1..]).map_err(|e| fail(format!("error calling slice: {e}")))?
            }
            "eq" | "ne" | "lt" | "le" | "gt" | "ge" => {
                if f == "eq" {
                    if a.len() < 2 {
                        return Err(fail(
                            "error calling eq: missing argument for comparison".into(),
                        ));
                    }
                    let mut r = false;
                    for b in &a[1..] {
                        if compare(&a[0], b, true)
                            .map_err(|e| fail(format!("error calling eq: {e}")))?
                            == Some(core::cmp::Ordering::Equal)
                        {
                            r = true;
                            break;
                        }
                    }
                    V::Bool(r)
                } else {
                    want(2)?;
                    let ord = compare(&a[0], &a[1], f == "ne")
                        .map_err(|e| fail(format!("error calling {f}: {e}")))?;
                    use core::cmp::Ordering::*;
                    V::Bool(match f {
                        "ne" => ord != Some(Equal),
                        "lt" => ord == Some(Less),
                        "le" => ord != Some(Greater),
                        "gt" => ord == Some(Greater),
                        _ => ord != Some(Less),
                    })
                }
            }
            "print" => V::Str(sprint(&a)),
            "println" => V::Str(sprintln(&a)),
            "printf" => {
                let Some(V::Str(format)) = a.first() else {
                    return Err(fail(
                        "error calling printf: the format must be a string".into(),
                    ));
                };
                V::Str(sprintf(format, &a[1..])?)
            }
            "html" => V::Str(html_escape(&sprint(&a))),
            "js" => V::Str(js_escape(&sprint(&a))),
            "urlquery" => V::Str(query_escape(&sprint(&a))),
            _ => return Err(unsupported(f)),
        })
    }

    fn render(&mut self, nodes: &[Node], dot: &V) -> Result<Flow> {
        for node in nodes {
            match node {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.decl.is_empty() {
                        // Go prints a nil interface as `<no value>`.
                        match v {
                            V::Nil => self.out.push_str("<no value>"),
                            v => v.format_v(&mut self.out),
                        }
                    }
                }
                Node::Define(..) => {}
                Node::Template(name, pipe) => {
                    let body = *self.templates.get(name).ok_or_else(|| {
                        (self.fail)(format!(
                            "no template {name:?} associated with template \"template\""
                        ))
                    })?;
                    let dot = match pipe {
                        Some(p) => self.pipe(p, dot)?,
                        None => V::Nil,
                    };
                    if self.depth >= 1000 {
                        return Err((self.fail)("exceeded maximum template depth (1000)".into()));
                    }
                    // A template runs with fresh variables: only `$`, its dot.
                    let saved = core::mem::replace(
                        &mut self.vars,
                        alloc::vec![(String::new(), dot.clone())],
                    );
                    self.depth += 1;
                    let result = self.render(body, &dot);
                    self.depth -= 1;
                    self.vars = saved;
                    result?;
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
                Node::Branch(kind, p, then, otherwise) => {
                    let mark = self.vars.len();
                    let flow = self.branch(*kind, p, then, otherwise, dot)?;
                    self.vars.truncate(mark);
                    match flow {
                        Flow::Normal => {}
                        f => return Ok(f),
                    }
                }
            }
        }
        Ok(Flow::Normal)
    }

    fn branch(
        &mut self,
        kind: u8,
        p: &Pipe,
        then: &[Node],
        otherwise: &[Node],
        dot: &V,
    ) -> Result<Flow> {
        if kind != 2 {
            let v = self.pipe(p, dot)?;
            return if v.truth() {
                self.render(then, if kind == 1 { &v } else { dot })
            } else {
                self.render(otherwise, dot)
            };
        }
        // range: evaluate without declaring, then bind per element.
        let mut value: Option<V> = None;
        for cmd in &p.cmds {
            value = Some(self.command(cmd, dot, value)?);
        }
        let items: Vec<(V, V)> = match value.unwrap_or(V::Nil) {
            V::Data(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| (V::Int(i as i64), V::from_value(v)))
                .collect(),
            V::Data(Value::Set(s)) => s
                .iter()
                .enumerate()
                .map(|(i, v)| (V::Int(i as i64), V::from_value(v)))
                .collect(),
            V::Data(Value::Object(o)) => o
                .iter_sorted()
                .map(|(k, v)| (V::from_value(k), V::from_value(v)))
                .collect(),
            V::Nil => Vec::new(),
            V::Int(n) if n >= 0 => (0..n).map(|i| (V::Int(i), V::Int(i))).collect(),
            other => {
                return Err((self.fail)(format!(
                    "range can't iterate over {}",
                    match other {
                        V::Str(s) | V::Num(s) => s,
                        _ => other.type_name().to_string(),
                    }
                )))
            }
        };
        if items.is_empty() {
            return self.render(otherwise, dot);
        }
        for (k, v) in items {
            let mark = self.vars.len();
            match p.decl.as_slice() {
                [one] => self.vars.push((one.clone(), v.clone())),
                [key, val] => {
                    self.vars.push((key.clone(), k));
                    self.vars.push((val.clone(), v.clone()));
                }
                _ => {}
            }
            let flow = self.render(then, &v)?;
            self.vars.truncate(mark);
            if let Flow::Break = flow {
                break;
            }
        }
        Ok(Flow::Normal)
    }
}

fn index(v: V, i: &V) -> core::result::Result<V, String> {
    match (&v, i) {
        (V::Data(Value::Object(o)), V::Str(k)) => Ok(o
            .get(&Value::from(k.as_str()))
            .map_or(V::Nil, V::from_value)),
        (V::Data(Value::Object(_)), other) => Err(format!(
            "value has type {}; should be string",
            other.type_name()
        )),
        (V::Data(Value::Array(a)), V::Int(n)) => {
            let n = usize::try_from(*n).map_err(|_| format!("index out of range: {n}"))?;
            a.get(n)
                .map(V::from_value)
                .ok_or_else(|| format!("index out of range: {n}"))
        }
        (V::Str(s) | V::Num(s), V::Int(n)) => {
            let n = usize::try_from(*n).map_err(|_| format!("index out of range: {n}"))?;
            s.as_bytes()
                .get(n)
                .map(|b| V::Int(i64::from(*b)))
                .ok_or_else(|| format!("index out of range: {n}"))
        }
        (V::Data(Value::Array(_)) | V::Str(_) | V::Num(_), other) => Err(format!(
            "cannot index slice/array with type {}",
            other.type_name()
        )),
        (V::Nil, _) => Err("index of untyped nil".into()),
        (other, _) => Err(format!("can't index item of type {}", other.type_name())),
    }
}

fn slice(v: &V, idx: &[V]) -> core::result::Result<V, String> {
    let mut bounds = Vec::new();
    for i in idx {
        match i {
            V::Int(n) if *n >= 0 => bounds.push(*n as usize),
            V::Int(n) => return Err(format!("index out of range: {n}")),
            other => {
                return Err(format!(
                    "cannot index slice/array with type {}",
                    other.type_name()
                ))
            }
        }
    }
    let len = match v {
        V::Str(s) | V::Num(s) => s.len(),
        V::Data(Value::Array(a)) => a.len(),
        V::Nil => return Err("slice of untyped nil".into()),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    if bounds.len() == 3 && v.is_string() {
        return Err("cannot 3-index slice a string".into());
    }
    let lo = bounds.first().copied().unwrap_or(0);
    let hi = bounds.get(1).copied().unwrap_or(len);
    if lo > hi || hi > len {
        return Err(format!("invalid slice index: {lo} > {hi}"));
    }
    Ok(match v {
        V::Str(s) | V::Num(s) => {
            V::Str(String::from_utf8_lossy(&s.as_bytes()[lo..hi]).into_owned())
        }
        V::Data(Value::Array(a)) => V::Data(Value::from(
            a.iter().skip(lo).take(hi - lo).cloned().collect::<Vec<_>>(),
        )),
        _ => V::Nil,
    })
}

/// Go's basic kinds for comparison: bool 0, int 1, float 2, string 3, other 4, nil 5.
fn kind(v: &V) -> u8 {
    match v {
        V::Bool(_) => 0,
        V::Int(_) => 1,
        V::Float(_) => 2,
        V::Str(_) | V::Num(_) => 3,
        V::Data(_) => 4,
        V::Nil => 5,
    }
}

/// `eq`/`ne` (`equality`) and `lt`/`le`/`gt`/`ge` as Go's template functions compare.
fn compare(
    a: &V,
    b: &V,
    equality: bool,
) -> core::result::Result<Option<core::cmp::Ordering>, String> {
    let (ka, kb) = (kind(a), kind(b));
    if ka != kb {
        if equality && (ka == 5 || kb == 5) {
            return Ok(None);
        }
        return Err("incompatible types for comparison".into());
    }
    Ok(match (a, b) {
        (V::Bool(x), V::Bool(y)) if equality => Some(x.cmp(y)),
        (V::Bool(_), V::Bool(_)) => return Err("invalid type for comparison".into()),
        (V::Int(x), V::Int(y)) => Some(x.cmp(y)),
        (V::Float(x), V::Float(y)) => x.partial_cmp(y),
        (V::Str(x) | V::Num(x), V::Str(y) | V::Num(y)) => Some(x.cmp(y)),
        // Go's `eq` of two nil interfaces fails inside `reflect` (a zero Value's type).
        (V::Nil, V::Nil) => return Err("reflect: call of reflect.Value.Type on zero Value".into()),
        _ if equality => return Err(format!("non-comparable type {}", a.type_name())),
        _ => return Err("invalid type for comparison".into()),
    })
}

fn sprint(args: &[V]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !a.is_string() && !args[i - 1].is_string() {
            out.push(' ');
        }
        a.format_v(&mut out);
    }
    out
}

fn sprintln(args: &[V]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        a.format_v(&mut out);
    }
    out.push('\n');
    out
}

/// `fmt.Sprintf` for the verbs templates use: `%v %s %d %q %t %x %X %f %%`, with the `-` and
/// `0` flags, a width and a precision; other verbs and flags raise [`UnsupportedError`].
fn sprintf(format: &str, args: &[V]) -> Result<String> {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next_arg = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut minus, mut zero) = (false, false);
        while let Some(&f) = chars.peek() {
            match f {
                '-' => minus = true,
                '0' => zero = true,
                '+' | '#' | ' ' => {
                    return Err(unsupported(&format!("printf flag {f:?}")));
                }
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next_arg += 1;
        let bad = |arg: &V| {
            let mut v = String::new();
            arg.format_v(&mut v);
            match arg {
                V::Nil => format!("%!{verb}(<nil>)"),
                _ => format!("%!{verb}({}={v})", arg.type_name()),
            }
        };
        let mut s = match (verb, arg) {
            ('v', a) => {
                let mut v = String::new();
                a.format_v(&mut v);
                if let Some(p) = precision.filter(|_| a.is_string()) {
                    v = v.chars().take(p).collect();
                }
                v
            }
            ('s', V::Str(s) | V::Num(s)) => match precision {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            },
            ('s', a @ V::Data(_)) => {
                let mut v = String::new();
                a.format_v(&mut v);
                v
            }
            ('d', V::Int(i)) => i.to_string(),
            ('t', V::Bool(b)) => b.to_string(),
            ('q', V::Str(s) | V::Num(s)) => {
                let mut q = String::new();
                append_go_quoted(&mut q, s, precision.map_or(Width::None, Width::Decimals))?;
                q
            }
            ('x', V::Str(s) | V::Num(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
            ('X', V::Str(s) | V::Num(s)) => s.bytes().map(|b| format!("{b:02X}")).collect(),
            ('x', V::Int(i)) => format!("{i:x}"),
            ('X', V::Int(i)) => format!("{i:X}"),
            ('f', V::Float(f)) => format!("{f:.*}", precision.unwrap_or(6)),
            ('s' | 'd' | 't' | 'q' | 'x' | 'X' | 'f', a) => bad(a),
            (other, _) => return Err(unsupported(&format!("printf verb %{other}"))),
        };
        if let Ok(w) = width.parse::<usize>() {
            let len = s.chars().count();
            if len < w {
                let pad = w - len;
                if minus {
                    s.push_str(&" ".repeat(pad));
                } else if zero && matches!(verb, 'd' | 'x' | 'X' | 'f') {
                    let (sign, digits) = if let Some(d) = s.strip_prefix('-') {
                        ("-", d.to_string())
                    } else {
                        ("", s.clone())
                    };
                    s = format!("{sign}{}{digits}", "0".repeat(pad));
                } else {
                    s = format!("{}{s}", " ".repeat(pad));
                }
            }
        }
        out.push_str(&s);
    }
    if next_arg < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[next_arg..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let mut v = String::new();
            a.format_v(&mut v);
            match a {
                V::Nil => out.push_str("<nil>"),
                _ => out.push_str(&format!("{}={v}", a.type_name())),
            }
        }
        out.push(')');
    }
    Ok(out)
}

/// Go's `template.HTMLEscapeString`.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 || !super::go_is_print::is_print(c) => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Renders `template` with `vars` (an object) as OPA's `strings.render_template` does.
pub(super) fn render(
    template: &str,
    vars: &Value,
    fail: &dyn Fn(String) -> anyhow::Error,
) -> Result<String> {
    let tokens = super::template_tokens(template).map_err(fail)?;
    let mut pos = 0;
    let (nodes, end) = parse_list(&tokens, &mut pos, false, fail)?;
    match end {
        Stop::Eof => {}
        Stop::End => return Err(fail("unexpected {{end}}".into())),
        _ => return Err(fail("unexpected {{else}}".into())),
    }
    let root = V::from_value(vars);
    let mut templates = BTreeMap::new();
    collect_templates(&nodes, &mut templates);
    let mut exec = Exec {
        vars: alloc::vec![(String::new(), root.clone())],
        out: String::new(),
        fail,
        templates,
        depth: 0,
    };
    exec.render(&nodes, &root)?;
    Ok(exec.out)
}
