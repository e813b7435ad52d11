// Copyright (c) Microsoft Corporation.
// Licensed under the MIT License.
#![allow(
    clippy::pattern_type_mismatch,
    clippy::as_conversions,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

//! gqlparser's query validator (`validator.Validate` with the rules OPA registers, in OPA's
//! `internal/gqlparser/validator`): the walker visits operations, then fragment definitions, in
//! gqlparser's order, and each event runs the rules in their registration order (the rule files'
//! alphabetical order), so the errors come out in the order gqlparser gives them.
//!
//! gqlparser annotates the AST while walking it (a field's definition, a value's expected type);
//! those annotations depend only on where a node sits, so they are computed once when the query
//! document is read. Only a variable's definition depends on the operation being walked.

use super::schema::{DirDef, Field as FieldDef, Schema, Ty};
use crate::*;
use alloc::collections::{BTreeMap, BTreeSet};
use serde_json::Value as Json;

const VARIABLE: u8 = 0;
const INT: u8 = 1;
const FLOAT: u8 = 2;
const STRING: u8 = 3;
const BLOCK: u8 = 4;
const BOOLEAN: u8 = 5;
const NULL: u8 = 6;
const ENUM: u8 = 7;
const LIST: u8 = 8;
const OBJECT: u8 = 9;

/// A position in the query (line 0: none, as for an AST given as an object without one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Pos {
    pub(super) line: i64,
    pub(super) column: i64,
}

/// One validation error: the rule's name, gqlparser's message, where.
#[derive(Debug)]
#[cfg_attr(not(test), allow(dead_code))]
pub(super) struct Error {
    pub(super) rule: &'static str,
    pub(super) message: String,
    pub(super) pos: Option<Pos>,
}

// -- the query document, annotated --

struct Val<'a> {
    kind: u8,
    raw: String,
    children: Vec<Child<'a>>,
    pos: Pos,
    expected: Option<Ty>,
    expected_has_default: bool,
    def: Option<Def<'a>>,
}

struct Child<'a> {
    name: String,
    value: Val<'a>,
    pos: Pos,
}

struct Arg<'a> {
    name: String,
    value: Val<'a>,
}

struct Dir<'a> {
    name: String,
    args: Vec<Arg<'a>>,
    pos: Pos,
    def: Option<&'a DirDef>,
    location: &'static str,
}

struct Field<'a> {
    id: usize,
    alias: String,
    name: String,
    args: Vec<Arg<'a>>,
    dirs: Vec<Dir<'a>>,
    sel: Vec<Sel<'a>>,
    pos: Pos,
    def: Option<&'a FieldDef>,
    obj: Option<Def<'a>>,
}

struct Inline<'a> {
    type_condition: String,
    dirs: Vec<Dir<'a>>,
    sel: Vec<Sel<'a>>,
    pos: Pos,
    obj: Option<Def<'a>>,
}

struct Spread<'a> {
    name: String,
    dirs: Vec<Dir<'a>>,
    pos: Pos,
    obj: Option<Def<'a>>,
    /// The first fragment definition of that name (`Fragments.ForName`).
    frag: Option<usize>,
}

enum Sel<'a> {
    Field(Field<'a>),
    Inline(Inline<'a>),
    Spread(Spread<'a>),
}

struct VarDef<'a> {
    variable: String,
    ty: Ty,
    default: Option<Val<'a>>,
    dirs: Vec<Dir<'a>>,
    pos: Pos,
    def: Option<Def<'a>>,
}

struct Op<'a> {
    operation: String,
    name: String,
    vars: Vec<VarDef<'a>>,
    dirs: Vec<Dir<'a>>,
    sel: Vec<Sel<'a>>,
    pos: Pos,
}

struct Frag<'a> {
    name: String,
    type_condition: String,
    dirs: Vec<Dir<'a>>,
    sel: Vec<Sel<'a>>,
    pos: Pos,
    def: Option<Def<'a>>,
}

type Def<'a> = &'a super::schema::Def;

fn str_of(j: &Json, key: &str) -> String {
    j.get(key)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string()
}

fn list<'j>(j: &'j Json, key: &str) -> impl Iterator<Item = &'j Json> {
    j.get(key)
        .and_then(Json::as_array)
        .map(|a| a.iter())
        .into_iter()
        .flatten()
}

fn pos_of(j: &Json) -> Pos {
    let p = j.get("Position");
    let num = |k: &str| {
        p.and_then(|p| p.get(k))
            .and_then(Json::as_i64)
            .unwrap_or_default()
    };
    Pos {
        line: num("Line"),
        column: num("Column"),
    }
}

/// Reads the document (as `graphql.parse_query` builds it, or as given to the builtins as an
/// object) and annotates it as gqlparser's walker would.
struct Reader<'a> {
    schema: &'a Schema,
    /// Fragment definitions' names and type conditions, in document order.
    fragments: Vec<(String, String)>,
    next_id: usize,
}

impl<'a> Reader<'a> {
    fn ty(&self, name: &str) -> Option<Def<'a>> {
        self.schema.get(name)
    }

    fn value(
        &self,
        j: &Json,
        expected: Option<Ty>,
        has_default: bool,
        def: Option<Def<'a>>,
    ) -> Val<'a> {
        let kind = j.get("Kind").and_then(Json::as_u64).unwrap_or(0) as u8;
        let mut v = Val {
            kind,
            raw: str_of(j, "Raw"),
            children: Vec::new(),
            pos: pos_of(j),
            expected,
            expected_has_default: has_default,
            def,
        };
        for c in list(j, "Children") {
            let empty = Json::Null;
            let cj = c.get("Value").unwrap_or(&empty);
            let name = str_of(c, "Name");
            let child = match kind {
                OBJECT => match v.def.and_then(|d| d.field(&name)) {
                    Some(fd) => self.value(
                        cj,
                        Some(fd.ty.clone()),
                        fd.default.is_some_and(|k| k != NULL),
                        self.ty(fd.ty.name()),
                    ),
                    None => self.value(cj, None, false, None),
                },
                LIST => match v.expected.as_ref().and_then(|t| t.elem.as_deref()) {
                    Some(elem) => self.value(cj, Some(elem.clone()), false, v.def),
                    None => self.value(cj, None, false, None),
                },
                _ => self.value(cj, None, false, None),
            };
            v.children.push(Child {
                name,
                value: child,
                pos: pos_of(c),
            });
        }
        v
    }

    fn args(&self, j: &Json, defs: Option<&'a [super::schema::Arg]>) -> Vec<Arg<'a>> {
        list(j, "Arguments")
            .map(|a| {
                let name = str_of(a, "Name");
                let empty = Json::Null;
                let vj = a.get("Value").unwrap_or(&empty);
                let value = match defs.and_then(|d| d.iter().find(|x| x.name == name)) {
                    Some(ad) => self.value(
                        vj,
                        Some(ad.ty.clone()),
                        ad.default.is_some_and(|k| k != NULL),
                        self.ty(ad.ty.name()),
                    ),
                    None => self.value(vj, None, false, None),
                };
                Arg { name, value }
            })
            .collect()
    }

    fn directives(&self, j: &Json, location: &'static str) -> Vec<Dir<'a>> {
        list(j, "Directives")
            .map(|d| {
                let name = str_of(d, "Name");
                let def = self.schema.directives.get(&name);
                Dir {
                    args: self.args(d, def.map(|d| d.args.as_slice())),
                    name,
                    pos: pos_of(d),
                    def,
                    location,
                }
            })
            .collect()
    }

    fn selections(&mut self, j: &Json, parent: Option<Def<'a>>) -> Vec<Sel<'a>> {
        let mut out = Vec::new();
        for s in list(j, "SelectionSet") {
            // gqlparser's JSON decoding tells the three apart by their fields.
            if s.get("TypeCondition").is_some() {
                let type_condition = str_of(s, "TypeCondition");
                let next = if type_condition.is_empty() {
                    parent
                } else {
                    self.ty(&type_condition)
                };
                out.push(Sel::Inline(Inline {
                    dirs: self.directives(s, "INLINE_FRAGMENT"),
                    sel: self.selections(s, next),
                    type_condition,
                    pos: pos_of(s),
                    obj: parent,
                }));
            } else if s.get("Alias").is_some() {
                let name = str_of(s, "Name");
                let mut alias = str_of(s, "Alias");
                if alias.is_empty() {
                    alias = name.clone();
                }
                let def = if name == "__typename" {
                    Some(&self.schema.typename)
                } else {
                    parent.and_then(|p| p.field(&name))
                };
                let next = def.and_then(|d| self.ty(d.ty.name()));
                let id = self.next_id;
                self.next_id += 1;
                out.push(Sel::Field(Field {
                    id,
                    alias,
                    args: self.args(s, def.map(|d| d.args.as_slice())),
                    dirs: self.directives(s, "FIELD"),
                    sel: self.selections(s, next),
                    name,
                    pos: pos_of(s),
                    def,
                    obj: parent,
                }));
            } else {
                let name = str_of(s, "Name");
                let frag = self.fragments.iter().position(|(n, _)| *n == name);
                out.push(Sel::Spread(Spread {
                    dirs: self.directives(s, "FRAGMENT_SPREAD"),
                    name,
                    pos: pos_of(s),
                    obj: parent,
                    frag,
                }));
            }
        }
        out
    }

    fn document(mut self, j: &Json) -> (Vec<Op<'a>>, Vec<Frag<'a>>) {
        self.fragments = list(j, "Fragments")
            .map(|f| (str_of(f, "Name"), str_of(f, "TypeCondition")))
            .collect();
        let mut ops = Vec::new();
        for o in list(j, "Operations") {
            let operation = str_of(o, "Operation");
            let root = self.schema.root(&operation);
            let location = match operation.as_str() {
                "mutation" => "MUTATION",
                "subscription" => "SUBSCRIPTION",
                _ => "QUERY",
            };
            let vars = list(o, "VariableDefinitions")
                .map(|v| {
                    let ty = v.get("Type").map(Ty::from).unwrap_or_default();
                    let def = self.ty(ty.name());
                    VarDef {
                        variable: str_of(v, "Variable"),
                        default: v
                            .get("DefaultValue")
                            .filter(|d| !d.is_null())
                            .map(|d| self.value(d, Some(ty.clone()), false, def)),
                        dirs: self.directives(v, "VARIABLE_DEFINITION"),
                        ty,
                        pos: pos_of(v),
                        def,
                    }
                })
                .collect();
            ops.push(Op {
                name: str_of(o, "Name"),
                vars,
                dirs: self.directives(o, location),
                sel: self.selections(o, root),
                pos: pos_of(o),
                operation,
            });
        }
        let mut frags = Vec::new();
        for f in list(j, "Fragments") {
            let type_condition = str_of(f, "TypeCondition");
            let def = self.ty(&type_condition);
            frags.push(Frag {
                name: str_of(f, "Name"),
                dirs: self.directives(f, "FRAGMENT_DEFINITION"),
                sel: self.selections(f, def),
                type_condition,
                pos: pos_of(f),
                def,
            });
        }
        (ops, frags)
    }
}

// -- messages (gqlparser's validator/messaging.go and ast's String methods) --

fn value_string(v: &Val) -> String {
    match v.kind {
        VARIABLE => format!("${}", v.raw),
        STRING | BLOCK => super::go_quote(&v.raw),
        LIST => {
            let items: Vec<String> = v.children.iter().map(|c| value_string(&c.value)).collect();
            format!("[{}]", items.join(","))
        }
        OBJECT => {
            let items: Vec<String> = v
                .children
                .iter()
                .map(|c| format!("{}:{}", c.name, value_string(&c.value)))
                .collect();
            format!("{{{}}}", items.join(","))
        }
        _ => v.raw.clone(),
    }
}

fn or_list(items: &[String]) -> String {
    let items = &items[..items.len().min(5)];
    if items.len() == 2 {
        return format!("{} or {}", items[0], items[1]);
    }
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i != 0 {
            out.push_str(if i == items.len() - 1 { ", or " } else { ", " });
        }
        out.push_str(item);
    }
    out
}

fn quoted_or_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
    or_list(&quoted)
}

/// graphql-js's lexical distance (Damerau–Levenshtein, case-insensitive, 1 for a case change),
/// `None` over the threshold.
fn lexical_distance(input: &str, option: &str, threshold: usize) -> Option<usize> {
    if input == option {
        return Some(0);
    }
    let input_lower = input.to_lowercase();
    let option_lower = option.to_lowercase();
    if input_lower == option_lower {
        return Some(1);
    }
    let mut a: Vec<char> = option_lower.chars().collect();
    let mut b: Vec<char> = input_lower.chars().collect();
    if a.len() < b.len() {
        core::mem::swap(&mut a, &mut b);
    }
    let (al, bl) = (a.len(), b.len());
    if al - bl > threshold {
        return None;
    }
    let mut rows: Vec<Vec<usize>> = vec![(0..=bl).collect(), vec![0; bl + 1], vec![0; bl + 1]];
    for i in 1..=al {
        let (up, cur) = ((i - 1) % 3, i % 3);
        rows[cur][0] = i;
        let mut smallest = i;
        for j in 1..=bl {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut current = (rows[up][j] + 1)
                .min(rows[cur][j - 1] + 1)
                .min(rows[up][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                let double_diagonal = rows[(i - 2) % 3][j - 2];
                current = current.min(double_diagonal + 1);
            }
            smallest = smallest.min(current);
            rows[cur][j] = current;
        }
        if smallest > threshold {
            return None;
        }
    }
    let d = rows[al % 3][bl];
    (d <= threshold).then_some(d)
}

/// `SuggestionList`: the options within 40% of the input's length, nearest first.
fn suggestion_list(input: &str, options: &[String]) -> Vec<String> {
    let threshold = input.chars().count() * 2 / 5 + 1;
    let mut found: Vec<(usize, &String)> = options
        .iter()
        .filter_map(|o| lexical_distance(input, o, threshold).map(|d| (d, o)))
        .collect();
    found.sort_by(|x, y| x.0.cmp(&y.0).then_with(|| x.1.cmp(y.1)));
    found.into_iter().map(|(_, o)| o.clone()).collect()
}

fn suggest_quoted(message: &mut String, prefix: &str, typed: &str, options: &[String]) {
    let s = suggestion_list(typed, options);
    if !s.is_empty() {
        message.push_str(&format!(" {prefix} {}?", quoted_or_list(&s)));
    }
}

fn suggest_unquoted(message: &mut String, prefix: &str, typed: &str, options: &[String]) {
    let s = suggestion_list(typed, options);
    if !s.is_empty() {
        message.push_str(&format!(" {prefix} {}?", or_list(&s)));
    }
}

/// Go's `strconv.ParseInt` syntax: an optional sign, then decimal digits.
fn is_integer_text(raw: &str) -> bool {
    let digits = raw.strip_prefix(['-', '+']).unwrap_or(raw);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `Value.Value(nil)` fails for numbers Go cannot hold.
fn value_converts(v: &Val) -> bool {
    match v.kind {
        INT => v.raw.parse::<i64>().is_ok(),
        FLOAT => v.raw.parse::<f64>().is_ok_and(f64::is_finite),
        LIST | OBJECT => v.children.iter().all(|c| value_converts(&c.value)),
        _ => true,
    }
}

// -- the walker and the rules --

struct Walker<'a, 'd> {
    schema: &'a Schema,
    ops: &'d [Op<'a>],
    frags: &'d [Frag<'a>],
    errors: Vec<Error>,
    current_op: Option<usize>,
    /// `VariableDefinition.Used`, per operation.
    used: Vec<Vec<bool>>,
    validated_spreads: BTreeSet<String>,
    // rule state
    cycle_visited: BTreeSet<String>,
    in_fragment_definition: bool,
    fragment_used: BTreeSet<String>,
    seen_fragments: BTreeSet<String>,
    seen_operations: BTreeSet<String>,
    misplaced_directives: BTreeSet<(String, Pos)>,
    compared_fragment_pairs: BTreeMap<String, BTreeMap<String, bool>>,
    /// The fragments already compared with the current field set. gqlparser keeps one such
    /// map on its manager and replaces it where a comparison starts, including inside nested
    /// comparisons, whose map the outer loop then goes on with; one cleared set reproduces that.
    compared_fragments: BTreeSet<String>,
    /// Field pairs compared so far (OverlappingFieldsCanBeMerged is quadratic in the fields that
    /// share a response name); past `MAX_COMPARISONS` the query is refused.
    comparisons: usize,
}

/// gqlparser compares without limit; here a query needing more comparisons than this (about
/// 1,400 fields of one response name) is an error rather than seconds of a webhook worker.
const MAX_COMPARISONS: usize = 1_000_000;

/// Validates a query document against a schema as gqlparser's `validator.Validate` does.
pub(super) fn validate(schema: &Schema, doc: &Json) -> Vec<Error> {
    let reader = Reader {
        schema,
        fragments: Vec::new(),
        next_id: 0,
    };
    let (ops, frags) = reader.document(doc);
    let mut w = Walker {
        schema,
        used: ops.iter().map(|o| vec![false; o.vars.len()]).collect(),
        ops: &ops,
        frags: &frags,
        errors: Vec::new(),
        current_op: None,
        validated_spreads: BTreeSet::new(),
        cycle_visited: BTreeSet::new(),
        in_fragment_definition: false,
        fragment_used: BTreeSet::new(),
        seen_fragments: BTreeSet::new(),
        seen_operations: BTreeSet::new(),
        misplaced_directives: BTreeSet::new(),
        compared_fragment_pairs: BTreeMap::new(),
        compared_fragments: BTreeSet::new(),
        comparisons: 0,
    };
    for i in 0..ops.len() {
        w.validated_spreads.clear();
        w.walk_operation(i);
    }
    for f in frags.iter() {
        w.validated_spreads.clear();
        w.walk_fragment(f);
    }
    if w.comparisons > MAX_COMPARISONS {
        return vec![Error {
            rule: "OverlappingFieldsCanBeMerged",
            message: format!(
                "the query is too large to validate: its fields need more than {MAX_COMPARISONS} comparisons"
            ),
            pos: None,
        }];
    }
    w.errors
}

impl<'a, 'd> Walker<'a, 'd> {
    fn error(&mut self, rule: &'static str, message: String, pos: Option<Pos>) {
        self.errors.push(Error { rule, message, pos });
    }

    fn walk_operation(&mut self, i: usize) {
        let op = &self.ops[i];
        self.current_op = Some(i);
        for v in &op.vars {
            self.on_variable(v);
        }
        for v in &op.vars {
            if let Some(d) = &v.default {
                self.walk_value(d);
            }
            self.walk_directives(&v.dirs);
        }
        self.walk_directives(&op.dirs);
        self.walk_selections(&op.sel);
        self.on_operation(op);
        self.current_op = None;
    }

    fn walk_fragment(&mut self, f: &'d Frag<'a>) {
        self.walk_directives(&f.dirs);
        self.walk_selections(&f.sel);
        self.on_fragment(f);
    }

    fn walk_directives(&mut self, dirs: &'d [Dir<'a>]) {
        for d in dirs {
            for a in &d.args {
                self.walk_value(&a.value);
            }
            self.on_directive(d);
        }
        self.on_directive_list(dirs);
    }

    fn walk_value(&mut self, v: &'d Val<'a>) {
        let mut link = None;
        if v.kind == VARIABLE {
            if let Some(i) = self.current_op {
                link = self.ops[i].vars.iter().position(|d| d.variable == v.raw);
                if let Some(k) = link {
                    self.used[i][k] = true;
                }
            }
        }
        for c in &v.children {
            self.walk_value(&c.value);
        }
        let link = link.and_then(|k| self.current_op.map(|i| &self.ops[i].vars[k]));
        self.on_value(v, link);
    }

    fn walk_selections(&mut self, sel: &'d [Sel<'a>]) {
        for s in sel {
            match s {
                Sel::Field(f) => {
                    for a in &f.args {
                        self.walk_value(&a.value);
                    }
                    self.walk_directives(&f.dirs);
                    self.walk_selections(&f.sel);
                    self.on_field(f);
                }
                Sel::Inline(f) => {
                    self.walk_directives(&f.dirs);
                    self.walk_selections(&f.sel);
                    self.on_inline(f);
                }
                Sel::Spread(s) => {
                    self.walk_directives(&s.dirs);
                    if let Some(frag) = self.fragment_of(s) {
                        if self.validated_spreads.insert(frag.name.clone()) {
                            self.walk_selections(&frag.sel);
                        }
                    }
                    self.on_spread(s);
                }
            }
        }
    }

    // -- events, each running the rules in registration order --

    fn on_variable(&mut self, v: &VarDef) {
        // KnownTypeNames
        if self.schema.get(v.ty.name()).is_none() {
            let msg = format!("Unknown type \"{}\".", v.ty.name());
            self.error("KnownTypeNames", msg, Some(v.pos));
        }
    }

    fn on_operation(&mut self, op: &'d Op<'a>) {
        // KnownRootType
        if self.schema.root(&op.operation).is_none() {
            let msg = format!(
                "Schema does not support operation type \"{}\"",
                op.operation
            );
            self.error("KnownRootType", msg, Some(op.pos));
        }
        // LoneAnonymousOperation
        if op.name.is_empty() && self.ops.len() > 1 {
            self.error(
                "LoneAnonymousOperation",
                "This anonymous operation must be the only defined operation.".into(),
                Some(op.pos),
            );
        }
        // NoUnusedVariables
        let i = self.current_op.unwrap_or_default();
        for (k, v) in op.vars.iter().enumerate() {
            if self.used[i][k] {
                continue;
            }
            let msg = if op.name.is_empty() {
                format!("Variable \"${}\" is never used.", v.variable)
            } else {
                format!(
                    "Variable \"${}\" is never used in operation \"{}\".",
                    v.variable, op.name
                )
            };
            self.error("NoUnusedVariables", msg, Some(v.pos));
        }
        // OverlappingFieldsCanBeMerged
        self.conflicts_within(&op.sel);
        // SingleFieldSubscriptions
        if self.schema.subscription.is_some() && op.operation == "subscription" {
            let fields = self.top_fields(&op.sel);
            let name = if op.name.is_empty() {
                "Anonymous Subscription".to_string()
            } else {
                format!("Subscription {}", super::go_quote(&op.name))
            };
            if fields.len() > 1 {
                let msg = format!("{name} must select only one top level field.");
                self.error("SingleFieldSubscriptions", msg, Some(fields[1].1));
            }
            for (field, pos) in &fields {
                if field.starts_with("__") {
                    let msg = format!("{name} must not select an introspection top level field.");
                    self.error("SingleFieldSubscriptions", msg, Some(*pos));
                }
            }
        }
        // UniqueOperationNames
        if !self.seen_operations.insert(op.name.clone()) {
            let msg = format!("There can be only one operation named \"{}\".", op.name);
            self.error("UniqueOperationNames", msg, Some(op.pos));
        }
        // UniqueVariableNames
        let mut seen = BTreeSet::new();
        for v in &op.vars {
            if !seen.insert(v.variable.as_str()) {
                let msg = format!("There can be only one variable named \"${}\".", v.variable);
                self.error("UniqueVariableNames", msg, Some(v.pos));
            }
        }
        // VariablesAreInputTypes
        for v in &op.vars {
            if v.def.is_some_and(|d| !d.is_input()) {
                let msg = format!(
                    "Variable \"${}\" cannot be non-input type \"{}\".",
                    v.variable,
                    v.ty.string()
                );
                self.error("VariablesAreInputTypes", msg, Some(v.pos));
            }
        }
    }

    fn on_fragment(&mut self, f: &'d Frag<'a>) {
        // FragmentsOnCompositeTypes
        if f.def.is_some_and(|d| !d.is_composite()) && !f.type_condition.is_empty() {
            let msg = format!(
                "Fragment \"{}\" cannot condition on non composite type \"{}\".",
                f.name, f.type_condition
            );
            self.error("FragmentsOnCompositeTypes", msg, Some(f.pos));
        }
        // KnownTypeNames
        if f.def.is_none() {
            let mut msg = format!("Unknown type \"{}\".", f.type_condition);
            let names: Vec<String> = self.schema.types.keys().cloned().collect();
            suggest_quoted(&mut msg, "Did you mean", &f.type_condition, &names);
            self.error("KnownTypeNames", msg, Some(f.pos));
        }
        // NoFragmentCycles
        let mut path: Vec<&Spread> = Vec::new();
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        self.detect_cycles(f, &mut path, &mut index);
        // NoUnusedFragments
        self.in_fragment_definition = true;
        if !self.fragment_used.contains(&f.name) {
            let msg = format!("Fragment \"{}\" is never used.", f.name);
            self.error("NoUnusedFragments", msg, Some(f.pos));
        }
        // OverlappingFieldsCanBeMerged
        self.conflicts_within(&f.sel);
        // UniqueFragmentNames
        if !self.seen_fragments.insert(f.name.clone()) {
            let msg = format!("There can be only one fragment named \"{}\".", f.name);
            self.error("UniqueFragmentNames", msg, Some(f.pos));
        }
    }

    fn detect_cycles(
        &mut self,
        f: &'d Frag<'a>,
        path: &mut Vec<&'d Spread<'a>>,
        index: &mut BTreeMap<String, usize>,
    ) {
        if !self.cycle_visited.insert(f.name.clone()) {
            return;
        }
        let spreads = fragment_spreads(&f.sel);
        if spreads.is_empty() {
            return;
        }
        index.insert(f.name.clone(), path.len());
        for s in spreads {
            let cycle = index.get(&s.name).copied();
            path.push(s);
            match cycle {
                None => {
                    if let Some(frag) = self.fragment_of(s) {
                        self.detect_cycles(frag, path, index);
                    }
                }
                Some(start) => {
                    let names: Vec<&str> = path[start..path.len() - 1]
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect();
                    let via = if names.is_empty() {
                        String::new()
                    } else {
                        format!(" via {}", names.join(", "))
                    };
                    let msg = format!("Cannot spread fragment \"{}\" within itself{via}.", s.name);
                    self.error("NoFragmentCycles", msg, Some(s.pos));
                }
            }
            path.pop();
        }
        index.remove(&f.name);
    }

    fn on_field(&mut self, f: &'d Field<'a>) {
        // FieldsOnCorrectType
        if let (Some(obj), None) = (f.obj, f.def) {
            let mut msg = format!(
                "Cannot query field \"{}\" on type \"{}\".",
                f.name, obj.name
            );
            let types = self.suggested_type_names(obj, &f.name);
            if !types.is_empty() {
                msg.push_str(&format!(
                    " Did you mean to use an inline fragment on {}?",
                    quoted_or_list(&types)
                ));
            } else if matches!(obj.kind.as_str(), "OBJECT" | "INTERFACE") {
                let names: Vec<String> = obj.fields.iter().map(|x| x.name.clone()).collect();
                let s = suggestion_list(&f.name, &names);
                if !s.is_empty() {
                    msg.push_str(&format!(" Did you mean {}?", quoted_or_list(&s)));
                }
            }
            self.error("FieldsOnCorrectType", msg, Some(f.pos));
        }
        // KnownArgumentNames
        if let (Some(def), Some(obj)) = (f.def, f.obj) {
            for a in &f.args {
                if def.args.iter().any(|d| d.name == a.name) {
                    continue;
                }
                let mut msg = format!(
                    "Unknown argument \"{}\" on field \"{}\" of type \"{}\".",
                    a.name, f.name, obj.name
                );
                let names: Vec<String> = def.args.iter().map(|d| d.name.clone()).collect();
                suggest_quoted(&mut msg, "Did you mean", &a.name, &names);
                self.error("KnownArgumentNames", msg, Some(f.pos));
            }
        }
        // OverlappingFieldsCanBeMerged (fragments are checked once, as definitions)
        if self.current_op.is_some() {
            self.conflicts_within(&f.sel);
        }
        // ProvidedRequiredArguments
        if let Some(def) = f.def {
            for ad in &def.args {
                if !ad.ty.non_null || ad.default.is_some() {
                    continue;
                }
                if f.args.iter().any(|a| a.name == ad.name) {
                    continue;
                }
                let msg = format!(
                    "Field \"{}\" argument \"{}\" of type \"{}\" is required, but it was not provided.",
                    f.name,
                    ad.name,
                    ad.ty.string()
                );
                self.error("ProvidedRequiredArguments", msg, Some(f.pos));
            }
        }
        // ScalarLeafs
        if let Some(def) = f.def {
            if let Some(t) = self.schema.get(def.ty.name()) {
                if t.is_leaf() && !f.sel.is_empty() {
                    let msg = format!(
                        "Field \"{}\" must not have a selection since type \"{}\" has no subfields.",
                        f.name, t.name
                    );
                    self.error("ScalarLeafs", msg, Some(f.pos));
                }
                if !t.is_leaf() && f.sel.is_empty() {
                    let msg = format!(
                        "Field \"{}\" of type \"{}\" must have a selection of subfields. Did you mean \"{} {{ ... }}\"?",
                        f.name,
                        def.ty.string(),
                        f.name
                    );
                    self.error("ScalarLeafs", msg, Some(f.pos));
                }
            }
        }
        // UniqueArgumentNames
        self.unique_args(&f.args, f.pos);
    }

    fn on_inline(&mut self, f: &'d Inline<'a>) {
        let fragment_type = self.schema.get(&f.type_condition);
        // FragmentsOnCompositeTypes
        if fragment_type.is_some_and(|t| !t.is_composite()) {
            let msg = format!(
                "Fragment cannot condition on non composite type \"{}\".",
                f.type_condition
            );
            self.error("FragmentsOnCompositeTypes", msg, Some(f.pos));
        }
        // KnownTypeNames
        if !f.type_condition.is_empty() && fragment_type.is_none() {
            let msg = format!("Unknown type \"{}\".", f.type_condition);
            self.error("KnownTypeNames", msg, Some(f.pos));
        }
        // OverlappingFieldsCanBeMerged
        self.conflicts_within(&f.sel);
        // PossibleFragmentSpreads
        if let Some(obj) = f.obj {
            if !self.spread_possible(obj, &f.type_condition) {
                let msg = format!(
                    "Fragment cannot be spread here as objects of type \"{}\" can never be of type \"{}\".",
                    obj.name, f.type_condition
                );
                self.error("PossibleFragmentSpreads", msg, Some(f.pos));
            }
        }
    }

    fn on_spread(&mut self, s: &'d Spread<'a>) {
        // KnownFragmentNames
        if s.frag.is_none() {
            let msg = format!("Unknown fragment \"{}\".", s.name);
            self.error("KnownFragmentNames", msg, Some(s.pos));
        }
        // NoUnusedFragments
        if !self.in_fragment_definition {
            self.fragment_used.insert(s.name.clone());
        }
        // PossibleFragmentSpreads
        if let (Some(frag), Some(obj)) = (self.fragment_of(s), s.obj) {
            let tc = &frag.type_condition;
            if !self.spread_possible(obj, tc) {
                let msg = format!(
                    "Fragment \"{}\" cannot be spread here as objects of type \"{}\" can never be of type \"{}\".",
                    s.name, obj.name, tc
                );
                self.error("PossibleFragmentSpreads", msg, Some(s.pos));
            }
        }
    }

    fn on_directive(&mut self, d: &'d Dir<'a>) {
        // KnownArgumentNames
        if let Some(def) = d.def {
            for a in &d.args {
                if def.args.iter().any(|x| x.name == a.name) {
                    continue;
                }
                let mut msg = format!(
                    "Unknown argument \"{}\" on directive \"@{}\".",
                    a.name, d.name
                );
                let names: Vec<String> = def.args.iter().map(|x| x.name.clone()).collect();
                suggest_quoted(&mut msg, "Did you mean", &a.name, &names);
                self.error("KnownArgumentNames", msg, Some(d.pos));
            }
        }
        // KnownDirectives
        match d.def {
            None => {
                let msg = format!("Unknown directive \"@{}\".", d.name);
                self.error("KnownDirectives", msg, Some(d.pos));
            }
            Some(def) if !def.locations.iter().any(|l| l == d.location) => {
                if self.misplaced_directives.insert((d.name.clone(), d.pos)) {
                    let msg = format!(
                        "Directive \"@{}\" may not be used on {}.",
                        d.name, d.location
                    );
                    self.error("KnownDirectives", msg, Some(d.pos));
                }
            }
            Some(_) => {}
        }
        // ProvidedRequiredArguments
        if let Some(def) = d.def {
            for ad in &def.args {
                if !ad.ty.non_null || ad.default.is_some() {
                    continue;
                }
                if d.args.iter().any(|a| a.name == ad.name) {
                    continue;
                }
                let msg = format!(
                    "Directive \"@{}\" argument \"{}\" of type \"{}\" is required, but it was not provided.",
                    def.name,
                    ad.name,
                    ad.ty.string()
                );
                self.error("ProvidedRequiredArguments", msg, Some(d.pos));
            }
        }
        // UniqueArgumentNames
        self.unique_args(&d.args, d.pos);
    }

    fn on_directive_list(&mut self, dirs: &'d [Dir<'a>]) {
        // UniqueDirectivesPerLocation
        let mut seen = BTreeSet::new();
        for d in dirs {
            if d.def.is_some_and(|x| x.repeatable) {
                continue;
            }
            if !seen.insert(d.name.as_str()) {
                let msg = format!(
                    "The directive \"@{}\" can only be used once at this location.",
                    d.name
                );
                self.error("UniqueDirectivesPerLocation", msg, Some(d.pos));
            }
        }
    }

    fn on_value(&mut self, v: &'d Val<'a>, link: Option<&'d VarDef<'a>>) {
        // NoUndefinedVariables
        if let Some(i) = self.current_op {
            if v.kind == VARIABLE && link.is_none() {
                let op = &self.ops[i].name;
                let msg = if op.is_empty() {
                    format!("Variable \"${}\" is not defined.", v.raw)
                } else {
                    format!(
                        "Variable \"${}\" is not defined by operation \"{op}\".",
                        v.raw
                    )
                };
                self.error("NoUndefinedVariables", msg, Some(v.pos));
            }
        }
        // UniqueInputFieldNames
        if v.kind == OBJECT {
            let mut seen = BTreeSet::new();
            for c in &v.children {
                if !seen.insert(c.name.as_str()) {
                    let msg = format!("There can be only one input field named \"{}\".", c.name);
                    self.error("UniqueInputFieldNames", msg, Some(c.pos));
                }
            }
        }
        // ValuesOfCorrectType
        self.values_of_correct_type(v);
        // VariablesInAllowedPosition
        if let (VARIABLE, Some(expected), Some(var), Some(_)) =
            (v.kind, v.expected.as_ref(), link, self.current_op)
        {
            let mut tmp = expected.clone();
            if var.default.as_ref().is_some_and(|d| d.kind != NULL) || v.expected_has_default {
                tmp.non_null = false;
            }
            if !var.ty.is_compatible(&tmp) {
                let msg = format!(
                    "Variable \"${}\" of type \"{}\" used in position expecting type \"{}\".",
                    v.raw,
                    var.ty.string(),
                    expected.string()
                );
                self.error("VariablesInAllowedPosition", msg, Some(v.pos));
            }
        }
    }

    fn unexpected_type(&mut self, v: &Val) {
        let expected = v.expected.as_ref().map(Ty::string).unwrap_or_default();
        let shown = value_string(v);
        let msg = match expected.as_str() {
            "Int" | "Int!" => {
                if is_integer_text(&v.raw) && v.raw.parse::<i32>().is_err() {
                    format!("Int cannot represent non 32-bit signed integer value: {shown}")
                } else {
                    format!("Int cannot represent non-integer value: {shown}")
                }
            }
            "String" | "String!" | "[String]" => {
                format!("String cannot represent a non string value: {shown}")
            }
            "Boolean" | "Boolean!" => {
                format!("Boolean cannot represent a non boolean value: {shown}")
            }
            "Float" | "Float!" => format!("Float cannot represent non numeric value: {shown}"),
            "ID" | "ID!" => {
                format!("ID cannot represent a non-string and non-integer value: {shown}")
            }
            _ if v.def.is_some_and(|d| d.kind == "ENUM") => {
                format!("Enum \"{expected}\" cannot represent non-enum value: {shown}.")
            }
            _ => format!("Expected value of type \"{expected}\", found {shown}."),
        };
        self.error("ValuesOfCorrectType", msg, Some(v.pos));
    }

    fn values_of_correct_type(&mut self, v: &'d Val<'a>) {
        const RULE: &str = "ValuesOfCorrectType";
        let (Some(def), Some(expected)) = (v.def, v.expected.as_ref()) else {
            return;
        };
        if v.kind == NULL && expected.non_null {
            let msg = format!(
                "Expected value of type \"{}\", found {}.",
                expected.string(),
                value_string(v)
            );
            self.error(RULE, msg, Some(v.pos));
        }
        let one_of = |names: &[&str]| names.contains(&def.name.as_str());
        // Custom scalars validate themselves.
        if def.kind == "SCALAR" && !one_of(&["Int", "Float", "String", "Boolean", "ID"]) {
            return;
        }
        let enums: Vec<String> = if def.kind == "ENUM" {
            def.enum_values.clone()
        } else {
            Vec::new()
        };
        let converts = value_converts(v);
        if !converts {
            self.unexpected_type(v);
        }
        match v.kind {
            NULL | VARIABLE => {}
            LIST if expected.elem.is_none() => self.unexpected_type(v),
            // An Int outside 32 bits too (gqlparser's coercion; graphql-js's message).
            INT if !one_of(&["Int", "Float", "ID"])
                || (converts && def.name == "Int" && v.raw.parse::<i32>().is_err()) =>
            {
                self.unexpected_type(v)
            }
            FLOAT if !one_of(&["Float"]) => self.unexpected_type(v),
            STRING | BLOCK => {
                if def.kind == "ENUM" {
                    let mut msg = format!(
                        "Enum \"{}\" cannot represent non-enum value: {}.",
                        expected.string(),
                        value_string(v)
                    );
                    suggest_quoted(&mut msg, "Did you mean the enum value", &v.raw, &enums);
                    self.error(RULE, msg, Some(v.pos));
                } else if !one_of(&["String", "ID"]) {
                    self.unexpected_type(v);
                }
            }
            ENUM => {
                if def.kind != "ENUM" {
                    let before = self.errors.len();
                    self.unexpected_type(v);
                    if let Some(e) = self.errors.get_mut(before) {
                        suggest_unquoted(
                            &mut e.message,
                            "Did you mean the enum value",
                            &v.raw,
                            &enums,
                        );
                    }
                } else if !def.enum_values.contains(&v.raw) {
                    let mut msg = format!(
                        "Value \"{}\" does not exist in \"{}\" enum.",
                        value_string(v),
                        expected.string()
                    );
                    suggest_quoted(&mut msg, "Did you mean the enum value", &v.raw, &enums);
                    self.error(RULE, msg, Some(v.pos));
                }
            }
            BOOLEAN if !one_of(&["Boolean"]) => self.unexpected_type(v),
            OBJECT => {
                for fd in &def.fields {
                    if fd.ty.non_null
                        && fd.default.is_none()
                        && !v.children.iter().any(|c| c.name == fd.name)
                    {
                        let msg = format!(
                            "Field \"{}.{}\" of required type \"{}\" was not provided.",
                            def.name,
                            fd.name,
                            fd.ty.string()
                        );
                        self.error(RULE, msg, Some(v.pos));
                    }
                }
                for c in &v.children {
                    if def.field(&c.name).is_none() {
                        let mut msg = format!(
                            "Field \"{}\" is not defined by type \"{}\".",
                            c.name, def.name
                        );
                        let names: Vec<String> =
                            def.fields.iter().map(|f| f.name.clone()).collect();
                        suggest_quoted(&mut msg, "Did you mean", &c.name, &names);
                        self.error(RULE, msg, Some(c.pos));
                    }
                }
            }
            _ => {}
        }
    }

    fn unique_args(&mut self, args: &[Arg], pos: Pos) {
        let mut seen = BTreeSet::new();
        for a in args {
            if !seen.insert(a.name.as_str()) {
                let msg = format!("There can be only one argument named \"{}\".", a.name);
                self.error("UniqueArgumentNames", msg, Some(pos));
            }
        }
    }

    /// FieldsOnCorrectType's suggestions: the possible types (and their interfaces) that have
    /// the field, interfaces first, by how many of them use it.
    fn suggested_type_names(&self, parent: Def<'a>, name: &str) -> Vec<String> {
        if !parent.is_abstract() {
            return Vec::new();
        }
        let mut objects = Vec::new();
        let mut interfaces: Vec<String> = Vec::new();
        let mut usage: BTreeMap<String, usize> = BTreeMap::new();
        for t in self.schema.possible(&parent.name) {
            if t.field(name).is_none() {
                continue;
            }
            objects.push(t.name.clone());
            for i in &t.interfaces {
                if self.schema.get(i).is_some_and(|d| d.field(name).is_some()) {
                    let n = usage.entry(i.clone()).or_default();
                    if *n == 0 {
                        interfaces.push(i.clone());
                    }
                    *n += 1;
                }
            }
        }
        interfaces.extend(objects);
        interfaces.sort_by(|a, b| {
            let (ua, ub) = (
                usage.get(a).copied().unwrap_or_default(),
                usage.get(b).copied().unwrap_or_default(),
            );
            ub.cmp(&ua).then_with(|| a.cmp(b))
        });
        interfaces
    }

    /// PossibleFragmentSpreads: some possible type of the fragment's type is one of the
    /// parent's. Unknown or non-composite fragment types are other rules' business.
    fn spread_possible(&self, parent: Def<'a>, fragment_type: &str) -> bool {
        let parents: Vec<&str> = match parent.kind.as_str() {
            "OBJECT" => vec![parent.name.as_str()],
            "INTERFACE" | "UNION" => self
                .schema
                .possible(&parent.name)
                .map(|d| d.name.as_str())
                .collect(),
            _ => return true,
        };
        let Some(t) = self.schema.get(fragment_type) else {
            return true;
        };
        if !t.is_composite() {
            return true;
        }
        self.schema
            .possible(&t.name)
            .any(|d| parents.contains(&d.name.as_str()))
    }

    /// SingleFieldSubscriptions' top-level fields, fragments flattened, unique by name.
    fn top_fields(&self, sel: &'d [Sel<'a>]) -> Vec<(String, Pos)> {
        fn walk<'a, 'd>(
            w: &Walker<'a, 'd>,
            sel: &'d [Sel<'a>],
            seen_frags: &mut BTreeSet<String>,
            out: &mut Vec<(String, Pos)>,
        ) {
            for s in sel {
                match s {
                    Sel::Field(f) => out.push((f.name.clone(), f.pos)),
                    Sel::Inline(i) => walk(w, &i.sel, seen_frags, out),
                    Sel::Spread(s) => {
                        let Some(k) = s.frag else {
                            return;
                        };
                        let frag = &w.frags[k];
                        if seen_frags.insert(frag.name.clone()) {
                            walk(w, &frag.sel, seen_frags, out);
                        }
                    }
                }
            }
        }
        let mut all = Vec::new();
        walk(self, sel, &mut BTreeSet::new(), &mut all);
        let mut seen = BTreeSet::new();
        all.into_iter()
            .filter(|(n, _)| seen.insert(n.clone()))
            .collect()
    }
}

fn fragment_spreads<'a, 'd>(sel: &'d [Sel<'a>]) -> Vec<&'d Spread<'a>> {
    let mut spreads = Vec::new();
    let mut to_visit = vec![sel];
    while let Some(set) = to_visit.pop() {
        for s in set {
            match s {
                Sel::Spread(sp) => spreads.push(sp),
                Sel::Field(f) => to_visit.push(&f.sel),
                Sel::Inline(i) => to_visit.push(&i.sel),
            }
        }
    }
    spreads
}

// -- OverlappingFieldsCanBeMerged --

/// A selection set's fields by response name (in first-seen order) and its fragment spreads.
struct Collected<'a, 'd> {
    fields: Vec<(String, Vec<&'d Field<'a>>)>,
    spreads: Vec<&'d Spread<'a>>,
}

impl<'a, 'd> Collected<'a, 'd> {
    fn of(sel: &'d [Sel<'a>]) -> Self {
        let mut c = Collected {
            fields: Vec::new(),
            spreads: Vec::new(),
        };
        c.collect(sel);
        c
    }

    fn collect(&mut self, sel: &'d [Sel<'a>]) {
        for s in sel {
            match s {
                Sel::Field(f) => {
                    let response = if f.alias.is_empty() {
                        &f.name
                    } else {
                        &f.alias
                    };
                    match self.fields.iter_mut().find(|(n, _)| n == response) {
                        Some((_, v)) => v.push(f),
                        None => self.fields.push((response.clone(), vec![f])),
                    }
                }
                Sel::Inline(i) => self.collect(&i.sel),
                Sel::Spread(sp) => self.spreads.push(sp),
            }
        }
    }

    fn get(&self, response: &str) -> Option<&Vec<&'d Field<'a>>> {
        self.fields
            .iter()
            .find(|(n, _)| n == response)
            .map(|(_, v)| v)
    }

    /// `reflect.DeepEqual` of two field maps: the same fields under the same names.
    fn same_fields(&self, other: &Self) -> bool {
        self.fields.len() == other.fields.len()
            && self
                .fields
                .iter()
                .zip(&other.fields)
                .all(|((a, fa), (b, fb))| {
                    a == b && fa.len() == fb.len() && fa.iter().zip(fb).all(|(x, y)| x.id == y.id)
                })
    }
}

struct Conflict {
    response: String,
    message: String,
    sub: Vec<Conflict>,
    pos: Pos,
}

impl Conflict {
    fn reason(&self, out: &mut String) {
        if self.sub.is_empty() {
            out.push_str(&self.message);
            return;
        }
        for (i, s) in self.sub.iter().enumerate() {
            out.push_str(&format!("subfields \"{}\" conflict because ", s.response));
            s.reason(out);
            if i != self.sub.len() - 1 {
                out.push_str(" and ");
            }
        }
    }
}

impl<'a, 'd> Walker<'a, 'd> {
    fn conflicts_within(&mut self, sel: &'d [Sel<'a>]) {
        if sel.is_empty() || self.comparisons > MAX_COMPARISONS {
            return;
        }
        let fields = Collected::of(sel);
        let mut conflicts = Vec::new();
        for (_, fs) in &fields.fields {
            for (i, a) in fs.iter().enumerate() {
                if self.comparisons > MAX_COMPARISONS {
                    return;
                }
                for b in &fs[i + 1..] {
                    if let Some(c) = self.find_conflict(false, a, b) {
                        conflicts.push(c);
                    }
                }
            }
        }
        self.compared_fragments.clear();
        for (i, a) in fields.spreads.iter().enumerate() {
            self.between_fields_and_fragment(&mut conflicts, false, &fields, a);
            for b in &fields.spreads[i + 1..] {
                self.between_fragments(&mut conflicts, false, a, b);
            }
        }
        for c in conflicts {
            let mut reason = String::new();
            c.reason(&mut reason);
            let msg = format!(
                "Fields \"{}\" conflict because {reason}. Use different aliases on the fields to fetch both if this was intentional.",
                c.response
            );
            self.error("OverlappingFieldsCanBeMerged", msg, Some(c.pos));
        }
    }

    fn fragment_of(&self, s: &Spread) -> Option<&'d Frag<'a>> {
        s.frag.map(|k| &self.frags[k])
    }

    fn between_fields_and_fragment(
        &mut self,
        conflicts: &mut Vec<Conflict>,
        exclusive: bool,
        fields: &Collected<'a, 'd>,
        spread: &'d Spread<'a>,
    ) {
        if !self.compared_fragments.insert(spread.name.clone()) {
            return;
        }
        let Some(frag) = self.fragment_of(spread) else {
            return;
        };
        let other = Collected::of(&frag.sel);
        if fields.same_fields(&other) {
            return;
        }
        self.between(conflicts, exclusive, fields, &other);
        for s in &other.spreads {
            if s.name == spread.name {
                continue;
            }
            self.between_fields_and_fragment(conflicts, exclusive, fields, s);
        }
    }

    fn between_fragments(
        &mut self,
        conflicts: &mut Vec<Conflict>,
        exclusive: bool,
        a: &'d Spread<'a>,
        b: &'d Spread<'a>,
    ) {
        if a.name == b.name {
            return;
        }
        let known = self
            .compared_fragment_pairs
            .get(&a.name)
            .and_then(|m| m.get(&b.name))
            .copied();
        // A pair compared as not mutually exclusive covers both cases.
        if known.is_some_and(|was_exclusive| exclusive || !was_exclusive) {
            return;
        }
        for (x, y) in [(&a.name, &b.name), (&b.name, &a.name)] {
            self.compared_fragment_pairs
                .entry(x.clone())
                .or_default()
                .insert(y.clone(), exclusive);
        }
        let (Some(fa), Some(fb)) = (self.fragment_of(a), self.fragment_of(b)) else {
            return;
        };
        let ca = Collected::of(&fa.sel);
        let cb = Collected::of(&fb.sel);
        self.between(conflicts, exclusive, &ca, &cb);
        for s in &cb.spreads {
            self.between_fragments(conflicts, exclusive, a, s);
        }
        for s in &ca.spreads {
            self.between_fragments(conflicts, exclusive, s, b);
        }
    }

    fn between(
        &mut self,
        conflicts: &mut Vec<Conflict>,
        exclusive: bool,
        a: &Collected<'a, 'd>,
        b: &Collected<'a, 'd>,
    ) {
        for (response, fa) in &a.fields {
            let Some(fb) = b.get(response) else {
                continue;
            };
            for x in fa {
                if self.comparisons > MAX_COMPARISONS {
                    return;
                }
                for y in fb {
                    if let Some(c) = self.find_conflict(exclusive, x, y) {
                        conflicts.push(c);
                    }
                }
            }
        }
    }

    fn find_conflict(
        &mut self,
        parent_exclusive: bool,
        a: &'d Field<'a>,
        b: &'d Field<'a>,
    ) -> Option<Conflict> {
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            return None;
        }
        let (Some(da), Some(oa), Some(db), Some(ob)) = (a.def, a.obj, b.def, b.obj) else {
            return None;
        };
        let exclusive =
            parent_exclusive || (oa.name != ob.name && oa.kind == "OBJECT" && ob.kind == "OBJECT");
        let response = if a.alias.is_empty() {
            a.name.clone()
        } else {
            a.alias.clone()
        };
        let conflict = |message: String, sub: Vec<Conflict>| Conflict {
            response: response.clone(),
            message,
            sub,
            pos: b.pos,
        };
        if !exclusive {
            if a.name != b.name {
                return Some(conflict(
                    format!("{} and {} are different fields", a.name, b.name),
                    Vec::new(),
                ));
            }
            if !same_arguments(&a.args, &b.args) {
                return Some(conflict("they have differing arguments".into(), Vec::new()));
            }
        }
        if self.types_conflict(&da.ty, &db.ty) {
            return Some(conflict(
                format!(
                    "they return conflicting types {} and {}",
                    da.ty.string(),
                    db.ty.string()
                ),
                Vec::new(),
            ));
        }
        let sub = self.conflicts_between_subselections(exclusive, &a.sel, &b.sel);
        if sub.is_empty() {
            return None;
        }
        Some(conflict(String::new(), sub))
    }

    fn conflicts_between_subselections(
        &mut self,
        exclusive: bool,
        a: &'d [Sel<'a>],
        b: &'d [Sel<'a>],
    ) -> Vec<Conflict> {
        let mut conflicts = Vec::new();
        let ca = Collected::of(a);
        let cb = Collected::of(b);
        self.between(&mut conflicts, exclusive, &ca, &cb);
        for s in &cb.spreads {
            self.compared_fragments.clear();
            self.between_fields_and_fragment(&mut conflicts, exclusive, &ca, s);
        }
        for s in &ca.spreads {
            self.compared_fragments.clear();
            self.between_fields_and_fragment(&mut conflicts, exclusive, &cb, s);
        }
        for x in &ca.spreads {
            for y in &cb.spreads {
                self.between_fragments(&mut conflicts, exclusive, x, y);
            }
        }
        conflicts
    }

    fn types_conflict(&self, a: &Ty, b: &Ty) -> bool {
        match (&a.elem, &b.elem) {
            (Some(x), Some(y)) => return self.types_conflict(x, y),
            (Some(_), None) | (None, Some(_)) => return true,
            (None, None) => {}
        }
        if a.non_null != b.non_null {
            return true;
        }
        let (Some(ta), Some(tb)) = (self.schema.get(&a.named), self.schema.get(&b.named)) else {
            return false;
        };
        if ta.is_leaf() && tb.is_leaf() {
            return ta.name != tb.name;
        }
        false
    }
}

/// The same arguments, in any order, with values of the same kind and text.
fn same_arguments(a: &[Arg], b: &[Arg]) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| {
            b.iter().any(|y| {
                x.name == y.name && x.value.kind == y.value.kind && x.value.raw == y.value.raw
            })
        })
}

#[cfg(test)]
mod tests {
    use super::super::Parser;
    use super::*;

    /// The spec suites' schema (graphql-js's test schema, as gqlparser imports it).
    const PETS: &str = r#"
schema { query: QueryRoot }
directive @onField on FIELD
directive @directive on FIELD | FRAGMENT_DEFINITION
directive @repeatable repeatable on FIELD | FRAGMENT_DEFINITION
interface Mammal { mother: Mammal father: Mammal }
interface Pet { name(surname: Boolean): String }
interface Canine implements Mammal { name(surname: Boolean): String mother: Canine father: Canine }
enum DogCommand { SIT HEEL DOWN }
type Dog implements Pet & Mammal & Canine {
  name(surname: Boolean): String
  nickname: String
  barkVolume: Int
  barks: Boolean
  doesKnowCommand(dogCommand: DogCommand): Boolean
  isHouseTrained(atOtherHomes: Boolean = true): Boolean
  isAtLocation(x: Int, y: Int): Boolean
  mother: Dog
  father: Dog
}
type Cat implements Pet { name(surname: Boolean): String nickname: String meows: Boolean meowsVolume: Int furColor: FurColor }
union CatOrDog = Cat | Dog
type Human { name(surname: Boolean): String pets: [Pet] relatives: [Human] }
enum FurColor { BROWN BLACK TAN SPOTTED NO_FUR UNKNOWN }
input ComplexInput {
  requiredField: Boolean!
  nonNullField: Boolean! = false
  intField: Int
  stringField: String
  booleanField: Boolean
  stringListField: [String]
}
type ComplicatedArgs {
  intArgField(intArg: Int): String
  nonNullIntArgField(nonNullIntArg: Int!): String
  stringArgField(stringArg: String): String
  booleanArgField(booleanArg: Boolean): String
  enumArgField(enumArg: FurColor): String
  floatArgField(floatArg: Float): String
  idArgField(idArg: ID): String
  stringListArgField(stringListArg: [String]): String
  stringListNonNullArgField(stringListNonNullArg: [String!]): String
  complexArgField(complexArg: ComplexInput): String
  multipleReqs(req1: Int!, req2: Int!): String
  nonNullFieldWithDefault(arg: Int! = 0): String
  multipleOpts(opt1: Int = 0, opt2: Int = 0): String
  multipleOptAndReq(req1: Int!, req2: Int!, opt1: Int = 0, opt2: Int = 0): String
}
type QueryRoot {
  human(id: ID): Human
  dog: Dog
  cat: Cat
  pet: Pet
  catOrDog: CatOrDog
  complicatedArgs: ComplicatedArgs
}
"#;

    /// Every error the validator gives, as `Rule: message @line`.
    fn errors(schema: &str, query: &str) -> Vec<String> {
        let schema_doc = Parser::new(schema)
            .schema_document()
            .expect("schema parses");
        let schema = super::super::schema::validate(&schema_doc).expect("schema is valid");
        let doc = Parser::new(query).query_document().expect("query parses");
        validate(&schema, &doc)
            .into_iter()
            .map(|e| {
                format!(
                    "{}: {} @{}",
                    e.rule,
                    e.message,
                    e.pos.map(|p| p.line).unwrap_or(0)
                )
            })
            .collect()
    }

    /// The errors of one rule.
    fn rule(name: &str, query: &str) -> Vec<String> {
        let prefix = format!("{name}: ");
        errors(PETS, query)
            .into_iter()
            .filter_map(|e| e.strip_prefix(&prefix).map(str::to_string))
            .collect()
    }

    /// (rule, query, that rule's errors as `message @line`) — cases after graphql-js's
    /// validation tests, which gqlparser imports (only the named rule's errors are compared).
    const CASES: &[(&str, &str, &[&str])] = &[
        ("FieldsOnCorrectType", "{ dog { meowVolume } }", &["Cannot query field \"meowVolume\" on type \"Dog\". Did you mean \"barkVolume\"? @1"]),
        ("FieldsOnCorrectType", "{ dog { __typename name } }", &[]),
        ("FieldsOnCorrectType", "{ pet { nickname } }", &["Cannot query field \"nickname\" on type \"Pet\". Did you mean to use an inline fragment on \"Cat\" or \"Dog\"? @1"]),
        ("FieldsOnCorrectType", "{ catOrDog { name } }", &["Cannot query field \"name\" on type \"CatOrDog\". Did you mean to use an inline fragment on \"Pet\", \"Canine\", \"Cat\", or \"Dog\"? @1"]),
        ("FieldsOnCorrectType", "{ catOrDog { __typename ... on Dog { name } } }", &[]),
        ("FragmentsOnCompositeTypes", "{ dog { ... on Boolean { name } } }", &["Fragment cannot condition on non composite type \"Boolean\". @1"]),
        ("FragmentsOnCompositeTypes", "{ dog { ...scalarFragment } } fragment scalarFragment on Boolean { bad }", &["Fragment \"scalarFragment\" cannot condition on non composite type \"Boolean\". @1"]),
        ("FragmentsOnCompositeTypes", "{ dog { ... { name } ... on Pet { name } } }", &[]),
        ("KnownArgumentNames", "{ dog { doesKnowCommand(dogCommand: SIT) } }", &[]),
        ("KnownArgumentNames", "{ dog { doesKnowCommand(dogcommand: SIT) } }", &["Unknown argument \"dogcommand\" on field \"doesKnowCommand\" of type \"Dog\". Did you mean \"dogCommand\"? @1"]),
        ("KnownArgumentNames", "{ dog @skip(iff: true) { name } }", &["Unknown argument \"iff\" on directive \"@skip\". Did you mean \"if\"? @1"]),
        ("KnownDirectives", "{ dog @unknown(directive: \"value\") { name } }", &["Unknown directive \"@unknown\". @1"]),
        ("KnownDirectives", "query Foo @include(if: true) { dog { name @onField } }", &["Directive \"@include\" may not be used on QUERY. @1"]),
        ("KnownFragmentNames", "{ dog { ...Known ...Unknown } } fragment Known on Dog { name }", &["Unknown fragment \"Unknown\". @1"]),
        ("KnownRootType", "mutation { dog { name } }", &["Schema does not support operation type \"mutation\" @1"]),
        ("KnownTypeNames", "query Foo($var: Badger) { dog { ... on Bagel { name } ...F } } fragment F on Peat { name }", &["Unknown type \"Badger\". @1", "Unknown type \"Bagel\". @1", "Unknown type \"Peat\". Did you mean \"Pet\" or \"Cat\"? @1"]),
        ("LoneAnonymousOperation", "{ dog { name } } query Foo { cat { name } }", &["This anonymous operation must be the only defined operation. @1"]),
        ("LoneAnonymousOperation", "{ dog { name } } fragment F on Dog { name }", &[]),
        ("NoFragmentCycles", "{ dog { ...A } } fragment A on Dog { ...B } fragment B on Dog { ...A }", &["Cannot spread fragment \"A\" within itself via B. @1"]),
        ("NoFragmentCycles", "{ dog { ...A } } fragment A on Dog { name ...A }", &["Cannot spread fragment \"A\" within itself. @1"]),
        ("NoFragmentCycles", "{ dog { ...A ...B } } fragment A on Dog { ...B } fragment B on Dog { name }", &[]),
        ("NoUndefinedVariables", "query Foo($a: Int) { complicatedArgs { multipleOpts(opt1: $a, opt2: $b) } }", &["Variable \"$b\" is not defined by operation \"Foo\". @1"]),
        ("NoUndefinedVariables", "{ complicatedArgs { intArgField(intArg: $x) } }", &["Variable \"$x\" is not defined. @1"]),
        ("NoUndefinedVariables", "query Foo($a: Int) { ...F } fragment F on QueryRoot { complicatedArgs { intArgField(intArg: $a) } }", &[]),
        ("NoUnusedFragments", "{ dog { ...Used } } fragment Used on Dog { name } fragment Unused on Dog { name }", &["Fragment \"Unused\" is never used. @1"]),
        ("NoUnusedVariables", "query Foo($a: Int, $b: Int) { complicatedArgs { intArgField(intArg: $a) } }", &["Variable \"$b\" is never used in operation \"Foo\". @1"]),
        ("NoUnusedVariables", "query Foo($a: Boolean) { ...F } fragment F on QueryRoot { dog @include(if: $a) { name } }", &[]),
        ("OverlappingFieldsCanBeMerged", "{ dog { name: nickname name } }", &["Fields \"name\" conflict because nickname and name are different fields. Use different aliases on the fields to fetch both if this was intentional. @1"]),
        ("OverlappingFieldsCanBeMerged", "{ dog { doesKnowCommand(dogCommand: SIT) doesKnowCommand(dogCommand: HEEL) } }", &["Fields \"doesKnowCommand\" conflict because they have differing arguments. Use different aliases on the fields to fetch both if this was intentional. @1"]),
        ("OverlappingFieldsCanBeMerged", "{ dog { isAtLocation(x: 0, y: 1) isAtLocation(y: 1, x: 0) name name } }", &[]),
        ("OverlappingFieldsCanBeMerged", "{ dog { ...A ...B } } fragment A on Dog { x: name } fragment B on Dog { x: nickname }", &["Fields \"x\" conflict because name and nickname are different fields. Use different aliases on the fields to fetch both if this was intentional. @1"]),
        ("OverlappingFieldsCanBeMerged", "{ catOrDog { ... on Cat { x: meowsVolume } ... on Dog { x: barkVolume } } }", &[]),
        ("OverlappingFieldsCanBeMerged", "{ dog { mother { name: nickname } mother { name } } }", &["Fields \"mother\" conflict because subfields \"name\" conflict because nickname and name are different fields. Use different aliases on the fields to fetch both if this was intentional. @1"]),
        ("PossibleFragmentSpreads", "{ dog { ... on Cat { meows } } }", &["Fragment cannot be spread here as objects of type \"Dog\" can never be of type \"Cat\". @1"]),
        ("PossibleFragmentSpreads", "{ dog { ...catFields } } fragment catFields on Cat { meows }", &["Fragment \"catFields\" cannot be spread here as objects of type \"Dog\" can never be of type \"Cat\". @1"]),
        ("PossibleFragmentSpreads", "{ pet { ... on Dog { barks } } catOrDog { ... on Pet { name } } }", &[]),
        ("PossibleFragmentSpreads", "{ human { pets { ... on Human { name } } } }", &["Fragment cannot be spread here as objects of type \"Pet\" can never be of type \"Human\". @1"]),
        ("ProvidedRequiredArguments", "{ complicatedArgs { multipleReqs(req1: 1) } }", &["Field \"multipleReqs\" argument \"req2\" of type \"Int!\" is required, but it was not provided. @1"]),
        ("ProvidedRequiredArguments", "{ complicatedArgs { nonNullFieldWithDefault multipleOptAndReq(req1: 1, req2: 2) } }", &[]),
        ("ProvidedRequiredArguments", "{ dog @include { name } }", &["Directive \"@include\" argument \"if\" of type \"Boolean!\" is required, but it was not provided. @1"]),
        ("ScalarLeafs", "{ dog }", &["Field \"dog\" of type \"Dog\" must have a selection of subfields. Did you mean \"dog { ... }\"? @1"]),
        ("ScalarLeafs", "{ dog { barks { sinceWhen } } }", &["Field \"barks\" must not have a selection since type \"Boolean\" has no subfields. @1"]),
        ("UniqueArgumentNames", "{ dog { isAtLocation(x: 1, x: 2) } }", &["There can be only one argument named \"x\". @1"]),
        ("UniqueDirectivesPerLocation", "{ dog { name @directive @directive } }", &["The directive \"@directive\" can only be used once at this location. @1"]),
        ("UniqueDirectivesPerLocation", "{ dog { name @repeatable @repeatable @directive } }", &[]),
        ("UniqueFragmentNames", "{ dog { ...F } } fragment F on Dog { name } fragment F on Dog { nickname }", &["There can be only one fragment named \"F\". @1"]),
        ("UniqueInputFieldNames", "{ complicatedArgs { complexArgField(complexArg: { requiredField: true, requiredField: false }) } }", &["There can be only one input field named \"requiredField\". @1"]),
        ("UniqueOperationNames", "query Foo { dog { name } } query Foo { cat { name } }", &["There can be only one operation named \"Foo\". @1"]),
        ("UniqueVariableNames", "query Foo($x: Int, $x: Int) { complicatedArgs { intArgField(intArg: $x) } }", &["There can be only one variable named \"$x\". @1"]),
        ("ValuesOfCorrectType", "{ complicatedArgs { stringArgField(stringArg: 1) } }", &["String cannot represent a non string value: 1 @1"]),
        ("ValuesOfCorrectType", "{ complicatedArgs { intArgField(intArg: 829384293849283498239482938) } }", &["Int cannot represent non 32-bit signed integer value: 829384293849283498239482938 @1"]),
        ("ValuesOfCorrectType", "{ complicatedArgs { intArgField(intArg: 2147483648) } }", &["Int cannot represent non 32-bit signed integer value: 2147483648 @1"]),
        ("ValuesOfCorrectType", "{ complicatedArgs { intArgField(intArg: 3.0) } }", &["Int cannot represent non-integer value: 3.0 @1"]),
        ("ValuesOfCorrectType", "{ complicatedArgs { floatArgField(floatArg: 1) idArgField(idArg: 1) booleanArgField(booleanArg: true) intArgField(intArg: null) } }", &[]),
        ("ValuesOfCorrectType", "{ complicatedArgs { stringListArgField(stringListArg: \"one\") enumArgField(enumArg: NO_FUR) } }", &[]),
        ("ValuesOfCorrectType", "{ complicatedArgs { booleanArgField(booleanArg: \"true\") } }", &["Boolean cannot represent a non boolean value: \"true\" @1"]),
        ("ValuesOfCorrectType", "{ complicatedArgs { idArgField(idArg: 1.0) } }", &["ID cannot represent a non-string and non-integer value: 1.0 @1"]),
        ("ValuesOfCorrectType", "{ dog { doesKnowCommand(dogCommand: 2) } }", &["Enum \"DogCommand\" cannot represent non-enum value: 2. @1"]),
        ("ValuesOfCorrectType", "{ dog { doesKnowCommand(dogCommand: \"SIT\") } }", &["Enum \"DogCommand\" cannot represent non-enum value: \"SIT\". Did you mean the enum value \"SIT\"? @1"]),
        ("ValuesOfCorrectType", "{ dog { doesKnowCommand(dogCommand: sit) } }", &["Value \"sit\" does not exist in \"DogCommand\" enum. Did you mean the enum value \"SIT\"? @1"]),
        ("ValuesOfCorrectType", "{ complicatedArgs { stringListArgField(stringListArg: [\"one\", 2]) } }", &["String cannot represent a non string value: 2 @1"]),
        ("ValuesOfCorrectType", "{ complicatedArgs { multipleReqs(req1: null, req2: 1) } }", &["Expected value of type \"Int!\", found null. @1"]),
        ("ValuesOfCorrectType", "{ complicatedArgs { complexArgField(complexArg: { intField: 4 }) } }", &["Field \"ComplexInput.requiredField\" of required type \"Boolean!\" was not provided. @1"]),
        ("ValuesOfCorrectType", "{ complicatedArgs { complexArgField(complexArg: { requiredField: true,\n invalidField: \"value\" }) } }", &["Field \"invalidField\" is not defined by type \"ComplexInput\". Did you mean \"intField\"? @2"]),
        ("ValuesOfCorrectType", "query Q($c: ComplexInput = \"NotVeryComplex\", $d: Int! = 123) { dog { name } }", &["Expected value of type \"ComplexInput\", found \"NotVeryComplex\". @1"]),
        ("ValuesOfCorrectType", "{ dog @include(if: \"yes\") { name @skip(if: ENUM) } }", &["Boolean cannot represent a non boolean value: \"yes\" @1", "Boolean cannot represent a non boolean value: ENUM @1"]),
        ("VariablesAreInputTypes", "query Foo($a: Dog, $b: [[CatOrDog!]]!, $c: Pet) { dog { name } }", &["Variable \"$a\" cannot be non-input type \"Dog\". @1", "Variable \"$b\" cannot be non-input type \"[[CatOrDog!]]!\". @1", "Variable \"$c\" cannot be non-input type \"Pet\". @1"]),
        ("VariablesInAllowedPosition", "query Q($intArg: Int) { complicatedArgs { nonNullIntArgField(nonNullIntArg: $intArg) } }", &["Variable \"$intArg\" of type \"Int\" used in position expecting type \"Int!\". @1"]),
        ("VariablesInAllowedPosition", "query Q($intArg: Int = 1) { complicatedArgs { nonNullIntArgField(nonNullIntArg: $intArg) } }", &[]),
        ("VariablesInAllowedPosition", "query Q($intArg: Int) { complicatedArgs { nonNullFieldWithDefault(arg: $intArg) } }", &[]),
        ("VariablesInAllowedPosition", "query Q($s: String) { complicatedArgs { stringListArgField(stringListArg: $s) } }", &["Variable \"$s\" of type \"String\" used in position expecting type \"[String]\". @1"]),
        ("VariablesInAllowedPosition", "query Q($b: Boolean!) { dog @include(if: $b) { name } complicatedArgs { stringListArgField(stringListArg: [$s]) } }", &[]),
        ("VariablesInAllowedPosition", "query Q($b: Boolean) { ...F } fragment F on QueryRoot { dog @include(if: $b) { name } }", &["Variable \"$b\" of type \"Boolean\" used in position expecting type \"Boolean!\". @1"]),
    ];

    #[test]
    fn each_rule_reports_what_gqlparser_reports() {
        let mut failures = Vec::new();
        for (name, query, want) in CASES {
            let got = rule(name, query);
            if got != *want {
                failures.push(format!(
                    "{name}: {query}\n  got:  {got:?}\n  want: {want:?}"
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// OverlappingFieldsCanBeMerged compares every pair of fields sharing a response name: a
    /// few hundred are validated as gqlparser validates them; past a million comparisons the
    /// query is refused (gqlparser would go on for seconds).
    #[test]
    fn field_comparisons_are_bounded() {
        let copies = |n: usize| format!("{{ {} }}", "dog { name } ".repeat(n));
        assert_eq!(errors(PETS, &copies(300)), Vec::<String>::new());
        let start = std::time::Instant::now();
        assert_eq!(
            errors(PETS, &copies(5_000)),
            vec!["OverlappingFieldsCanBeMerged: the query is too large to validate: its fields need more than 1000000 comparisons @0"]
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(30));
    }

    #[test]
    fn a_valid_query_has_no_errors() {
        let q = "query Q($id: ID) { human(id: $id) { name pets { ... on Dog { barkVolume } ...catName } } }
fragment catName on Cat { name meows }";
        assert_eq!(errors(PETS, q), Vec::<String>::new());
    }
}
