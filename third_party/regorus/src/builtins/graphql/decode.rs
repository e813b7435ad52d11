// Copyright (c) Microsoft Corporation.
// Licensed under the MIT License.
#![allow(clippy::pattern_type_mismatch)]

//! An AST given to the builtins as an object, read as OPA reads it: `encoding/json` into
//! gqlparser's structs, then marshalled back. Unknown keys are dropped, absent strings, booleans
//! and numbers come back as their zero values (`"Alias": ""`, `"Used": false`), a value of the
//! wrong JSON type is an error (`graphql.is_valid` is then `false`), and — gqlparser's
//! `UnmarshalSelectionSet` tries `Field` first, whose decoder accepts any object — every
//! selection of a query given as an object is a field: a fragment spread `{"Name": "F"}` is the
//! field `F`, an inline fragment a field with no name. The annotations gqlparser's walker sets
//! (`Definition`, `ExpectedType`, …) and `Position` are not read.

use crate::*;
use serde_json::{Map, Value as Json};

type Decoded = core::result::Result<Json, String>;

#[derive(Clone, Copy)]
enum F {
    Str,
    Bool,
    Int,
    StrList,
    Node(fn(&Json) -> Decoded),
    List(fn(&Json) -> Decoded),
}

fn mismatch(key: &str, want: &str, v: &Json) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field .{key} of type {want}",
        kind(v)
    )
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// One struct: its fields as `encoding/json` decodes and marshals them.
fn node(j: &Json, fields: &[(&str, F)]) -> Decoded {
    let obj = match j {
        Json::Null => return Ok(Json::Null),
        Json::Object(o) => o,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value",
                kind(other)
            ))
        }
    };
    let mut out = Map::new();
    for (key, f) in fields {
        let v = obj.get(*key).unwrap_or(&Json::Null);
        let decoded = match (f, v) {
            (F::Str, Json::Null) => Json::String(String::new()),
            (F::Str, Json::String(_)) => v.clone(),
            (F::Str, _) => return Err(mismatch(key, "string", v)),
            (F::Bool, Json::Null) => Json::Bool(false),
            (F::Bool, Json::Bool(_)) => v.clone(),
            (F::Bool, _) => return Err(mismatch(key, "bool", v)),
            (F::Int, Json::Null) => Json::from(0),
            (F::Int, Json::Number(n)) if n.is_i64() => v.clone(),
            (F::Int, _) => return Err(mismatch(key, "int", v)),
            (F::StrList | F::List(_), Json::Null) => Json::Null,
            (F::StrList, Json::Array(items)) => {
                if let Some(bad) = items.iter().find(|i| !i.is_string() && !i.is_null()) {
                    return Err(mismatch(key, "string", bad));
                }
                Json::Array(
                    items
                        .iter()
                        .map(|i| i.as_str().map_or(Json::String(String::new()), Json::from))
                        .collect(),
                )
            }
            (F::List(each), Json::Array(items)) => Json::Array(
                items
                    .iter()
                    .map(each)
                    .collect::<core::result::Result<_, _>>()?,
            ),
            (F::StrList | F::List(_), _) => return Err(mismatch(key, "list", v)),
            (F::Node(each), _) => each(v)?,
        };
        out.insert((*key).to_string(), decoded);
    }
    Ok(Json::Object(out))
}

// -- query documents --

pub(super) fn query_document(j: &Json) -> Decoded {
    if !j.is_object() {
        return Err(format!("json: cannot unmarshal {} into Go value", kind(j)));
    }
    node(
        j,
        &[
            ("Operations", F::List(operation)),
            ("Fragments", F::List(fragment)),
        ],
    )
}

fn operation(j: &Json) -> Decoded {
    node(
        j,
        &[
            ("Operation", F::Str),
            ("Name", F::Str),
            ("VariableDefinitions", F::List(variable_definition)),
            ("Directives", F::List(directive)),
            ("SelectionSet", F::List(selection)),
        ],
    )
}

fn fragment(j: &Json) -> Decoded {
    node(
        j,
        &[
            ("Name", F::Str),
            ("VariableDefinition", F::List(variable_definition)),
            ("TypeCondition", F::Str),
            ("Directives", F::List(directive)),
            ("SelectionSet", F::List(selection)),
        ],
    )
}

fn variable_definition(j: &Json) -> Decoded {
    node(
        j,
        &[
            ("Variable", F::Str),
            ("Type", F::Node(type_ref)),
            ("DefaultValue", F::Node(value)),
            ("Directives", F::List(directive)),
            ("Used", F::Bool),
        ],
    )
}

/// `UnmarshalSelectionSet`: `Field`, else `FragmentSpread`, else `InlineFragment`, else
/// nothing. `Field`'s decoder takes any object, so the others are reached only on a type error.
fn selection(j: &Json) -> Decoded {
    let field = node(
        j,
        &[
            ("Alias", F::Str),
            ("Name", F::Str),
            ("Arguments", F::List(argument)),
            ("Directives", F::List(directive)),
            ("SelectionSet", F::List(selection)),
        ],
    );
    if field.is_ok() {
        return field;
    }
    let spread = node(j, &[("Name", F::Str), ("Directives", F::List(directive))]);
    if spread.is_ok() {
        return spread;
    }
    node(
        j,
        &[
            ("TypeCondition", F::Str),
            ("Directives", F::List(directive)),
            ("SelectionSet", F::List(selection)),
        ],
    )
}

fn argument(j: &Json) -> Decoded {
    node(j, &[("Name", F::Str), ("Value", F::Node(value))])
}

fn value(j: &Json) -> Decoded {
    node(
        j,
        &[
            ("Raw", F::Str),
            ("Children", F::List(child_value)),
            ("Kind", F::Int),
            ("ExpectedTypeHasDefault", F::Bool),
        ],
    )
}

fn child_value(j: &Json) -> Decoded {
    node(j, &[("Name", F::Str), ("Value", F::Node(value))])
}

fn directive(j: &Json) -> Decoded {
    node(
        j,
        &[
            ("Name", F::Str),
            ("Arguments", F::List(argument)),
            ("Location", F::Str),
        ],
    )
}

fn type_ref(j: &Json) -> Decoded {
    node(
        j,
        &[
            ("NamedType", F::Str),
            ("Elem", F::Node(type_ref)),
            ("NonNull", F::Bool),
        ],
    )
}

// -- schema documents --

pub(super) fn schema_document(j: &Json) -> Decoded {
    if !j.is_object() {
        return Err(format!("json: cannot unmarshal {} into Go value", kind(j)));
    }
    node(
        j,
        &[
            ("Schema", F::List(schema_definition)),
            ("SchemaExtension", F::List(schema_definition)),
            ("Directives", F::List(directive_definition)),
            ("Definitions", F::List(definition)),
            ("Extensions", F::List(definition)),
        ],
    )
}

fn schema_definition(j: &Json) -> Decoded {
    node(
        j,
        &[
            ("Description", F::Str),
            ("Directives", F::List(directive)),
            ("OperationTypes", F::List(operation_type)),
        ],
    )
}

fn operation_type(j: &Json) -> Decoded {
    node(j, &[("Operation", F::Str), ("Type", F::Str)])
}

fn directive_definition(j: &Json) -> Decoded {
    node(
        j,
        &[
            ("Description", F::Str),
            ("Name", F::Str),
            ("Arguments", F::List(argument_definition)),
            ("Locations", F::StrList),
            ("IsRepeatable", F::Bool),
        ],
    )
}

fn definition(j: &Json) -> Decoded {
    node(
        j,
        &[
            ("Kind", F::Str),
            ("Description", F::Str),
            ("Name", F::Str),
            ("Directives", F::List(directive)),
            ("Interfaces", F::StrList),
            ("Fields", F::List(field_definition)),
            ("Types", F::StrList),
            ("EnumValues", F::List(enum_value)),
            ("BuiltIn", F::Bool),
        ],
    )
}

fn field_definition(j: &Json) -> Decoded {
    node(
        j,
        &[
            ("Description", F::Str),
            ("Name", F::Str),
            ("Arguments", F::List(argument_definition)),
            ("DefaultValue", F::Node(value)),
            ("Type", F::Node(type_ref)),
            ("Directives", F::List(directive)),
        ],
    )
}

fn argument_definition(j: &Json) -> Decoded {
    node(
        j,
        &[
            ("Description", F::Str),
            ("Name", F::Str),
            ("DefaultValue", F::Node(value)),
            ("Type", F::Node(type_ref)),
            ("Directives", F::List(directive)),
        ],
    )
}

fn enum_value(j: &Json) -> Decoded {
    node(
        j,
        &[
            ("Description", F::Str),
            ("Name", F::Str),
            ("Directives", F::List(directive)),
        ],
    )
}
