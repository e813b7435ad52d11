// Copyright (c) Microsoft Corporation.
// Licensed under the MIT License.
#![allow(
    clippy::pattern_type_mismatch,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

//! gqlparser's `validator.ValidateSchemaDocument` (OPA's `internal/gqlparser/validator/
//! schema.go`) over the schema AST as `graphql.parse_schema` builds it, merged after gqlparser's
//! prelude (the built-in scalars, directives and introspection types): redeclared types and
//! directives, extensions of another kind, schema roots, field and argument types, interfaces
//! and their ancestors, union members, enum values, input fields, directive locations, names
//! reserved by introspection. The error says which rule failed (only validity is returned).

use super::Parser;
use crate::*;
use alloc::collections::BTreeMap;
use serde_json::Value as Json;

/// gqlparser's prelude (`validator/prelude.graphql`) as OPA vendors it, descriptions left out.
const PRELUDE: &str = r#"
scalar Int
scalar Float
scalar String
scalar Boolean
scalar ID
directive @defer(if: Boolean = true, label: String) on FRAGMENT_SPREAD | INLINE_FRAGMENT
directive @include(if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
directive @skip(if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
directive @deprecated(reason: String = "No longer supported") on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | ENUM_VALUE
directive @specifiedBy(url: String!) on SCALAR
type __Schema {
  description: String
  types: [__Type!]!
  queryType: __Type!
  mutationType: __Type
  subscriptionType: __Type
  directives: [__Directive!]!
}
type __Type {
  kind: __TypeKind!
  name: String
  description: String
  fields(includeDeprecated: Boolean = false): [__Field!]
  interfaces: [__Type!]
  possibleTypes: [__Type!]
  enumValues(includeDeprecated: Boolean = false): [__EnumValue!]
  inputFields: [__InputValue!]
  ofType: __Type
  specifiedByURL: String
}
type __Field {
  name: String!
  description: String
  args: [__InputValue!]!
  type: __Type!
  isDeprecated: Boolean!
  deprecationReason: String
}
type __InputValue {
  name: String!
  description: String
  type: __Type!
  defaultValue: String
}
type __EnumValue {
  name: String!
  description: String
  isDeprecated: Boolean!
  deprecationReason: String
}
enum __TypeKind {
  SCALAR
  OBJECT
  INTERFACE
  UNION
  ENUM
  INPUT_OBJECT
  LIST
  NON_NULL
}
type __Directive {
  name: String!
  description: String
  locations: [__DirectiveLocation!]!
  args: [__InputValue!]!
  isRepeatable: Boolean!
}
enum __DirectiveLocation {
  QUERY
  MUTATION
  SUBSCRIPTION
  FIELD
  FRAGMENT_DEFINITION
  FRAGMENT_SPREAD
  INLINE_FRAGMENT
  VARIABLE_DEFINITION
  SCHEMA
  SCALAR
  OBJECT
  FIELD_DEFINITION
  ARGUMENT_DEFINITION
  INTERFACE
  UNION
  ENUM
  ENUM_VALUE
  INPUT_OBJECT
  INPUT_FIELD_DEFINITION
}
"#;

lazy_static::lazy_static! {
    /// The prelude's AST, parsed once rather than on every builtin call.
    static ref PRELUDE_DOCUMENT: core::result::Result<Json, String> =
        Parser::new(PRELUDE).schema_document().map_err(|e| e.to_string());
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Ty {
    pub(super) named: String,
    pub(super) elem: Option<Box<Ty>>,
    pub(super) non_null: bool,
}

impl Ty {
    pub(super) fn from(j: &Json) -> Ty {
        Ty {
            named: str_of(j, "NamedType"),
            elem: j
                .get("Elem")
                .filter(|e| e.is_object())
                .map(|e| Box::new(Ty::from(e))),
            non_null: j.get("NonNull").and_then(Json::as_bool).unwrap_or(false),
        }
    }

    fn named(name: &str, non_null: bool) -> Ty {
        Ty {
            named: name.to_string(),
            elem: None,
            non_null,
        }
    }

    /// `Type.String()`: `[Elem]` or the name, `!` when non-null.
    pub(super) fn string(&self) -> String {
        let mut s = match &self.elem {
            Some(e) if self.named.is_empty() => format!("[{}]", e.string()),
            _ => self.named.clone(),
        };
        if self.non_null {
            s.push('!');
        }
        s
    }

    /// `Type.Name()`: the named type inside any lists.
    pub(super) fn name(&self) -> &str {
        match (&self.elem, self.named.is_empty()) {
            (Some(e), true) => e.name(),
            _ => &self.named,
        }
    }

    /// `Type.IsCompatible`.
    pub(super) fn is_compatible(&self, other: &Ty) -> bool {
        if self.named != other.named {
            return false;
        }
        match (&self.elem, &other.elem) {
            (Some(_), None) => return false,
            (Some(a), Some(b)) if !a.is_compatible(b) => return false,
            _ => {}
        }
        if other.non_null {
            return self.non_null;
        }
        true
    }
}

#[derive(Clone, Debug, Default)]
pub(super) struct Arg {
    pub(super) name: String,
    pub(super) ty: Ty,
    /// The kind of the default value (`Value.Kind`), when there is one.
    pub(super) default: Option<u8>,
    directives: Vec<String>,
}

impl Arg {
    fn has_default(&self) -> bool {
        self.default.is_some()
    }
}

/// A field definition; input object fields are the same shape (their default in `default`).
#[derive(Clone, Debug, Default)]
pub(super) struct Field {
    pub(super) name: String,
    pub(super) ty: Ty,
    pub(super) args: Vec<Arg>,
    pub(super) default: Option<u8>,
    directives: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Def {
    pub(super) kind: String,
    pub(super) name: String,
    pub(super) fields: Vec<Field>,
    pub(super) interfaces: Vec<String>,
    types: Vec<String>,
    pub(super) enum_values: Vec<String>,
    directives: Vec<String>,
    builtin: bool,
}

impl Def {
    /// `Fields.ForName`.
    pub(super) fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
    pub(super) fn is_composite(&self) -> bool {
        matches!(self.kind.as_str(), "OBJECT" | "INTERFACE" | "UNION")
    }
    pub(super) fn is_leaf(&self) -> bool {
        matches!(self.kind.as_str(), "ENUM" | "SCALAR")
    }
    pub(super) fn is_abstract(&self) -> bool {
        matches!(self.kind.as_str(), "INTERFACE" | "UNION")
    }
    pub(super) fn is_input(&self) -> bool {
        is_input_kind(&self.kind)
    }
}

#[derive(Clone, Debug, Default)]
pub(super) struct DirDef {
    pub(super) name: String,
    pub(super) args: Vec<Arg>,
    pub(super) locations: Vec<String>,
    pub(super) repeatable: bool,
}

fn str_of(j: &Json, key: &str) -> String {
    j.get(key)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string()
}

fn list<'a>(j: &'a Json, key: &str) -> impl Iterator<Item = &'a Json> {
    j.get(key)
        .and_then(Json::as_array)
        .map(|a| a.iter())
        .into_iter()
        .flatten()
}

fn names(j: &Json, key: &str) -> Vec<String> {
    list(j, key)
        .filter_map(Json::as_str)
        .map(str::to_string)
        .collect()
}

fn directive_names(j: &Json) -> Vec<String> {
    list(j, "Directives").map(|d| str_of(d, "Name")).collect()
}

fn default_kind(j: &Json) -> Option<u8> {
    j.get("DefaultValue")
        .filter(|d| !d.is_null())
        .map(|d| d.get("Kind").and_then(Json::as_u64).unwrap_or(0) as u8)
}

fn arg(j: &Json) -> Arg {
    Arg {
        name: str_of(j, "Name"),
        ty: j.get("Type").map(Ty::from).unwrap_or_default(),
        default: default_kind(j),
        directives: directive_names(j),
    }
}

fn def(j: &Json, builtin: bool) -> Def {
    Def {
        kind: str_of(j, "Kind"),
        name: str_of(j, "Name"),
        fields: list(j, "Fields")
            .map(|f| Field {
                name: str_of(f, "Name"),
                ty: f.get("Type").map(Ty::from).unwrap_or_default(),
                args: list(f, "Arguments").map(arg).collect(),
                default: default_kind(f),
                directives: directive_names(f),
            })
            .collect(),
        interfaces: names(j, "Interfaces"),
        types: names(j, "Types"),
        enum_values: list(j, "EnumValues").map(|v| str_of(v, "Name")).collect(),
        directives: directive_names(j),
        builtin,
    }
}

pub(super) struct Schema {
    pub(super) types: BTreeMap<String, Def>,
    pub(super) directives: BTreeMap<String, DirDef>,
    pub(super) possible_types: BTreeMap<String, Vec<String>>,
    /// The root operation types, by name.
    pub(super) query: Option<String>,
    pub(super) mutation: Option<String>,
    pub(super) subscription: Option<String>,
    /// The definition the walker gives `__typename` on any type.
    pub(super) typename: Field,
}

impl Schema {
    pub(super) fn get(&self, name: &str) -> Option<&Def> {
        self.types.get(name)
    }
    /// `GetPossibleTypes`.
    pub(super) fn possible(&self, name: &str) -> impl Iterator<Item = &Def> {
        self.possible_types
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|n| self.types.get(n))
    }
    pub(super) fn root(&self, operation: &str) -> Option<&Def> {
        let name = match operation {
            "query" | "" => &self.query,
            "mutation" => &self.mutation,
            "subscription" => &self.subscription,
            _ => &None,
        };
        name.as_deref().and_then(|n| self.types.get(n))
    }
}

type Check = core::result::Result<(), String>;

fn quote(s: &str) -> String {
    super::go_quote(s)
}

/// Validates a schema document (its JSON AST) after the prelude, and returns the schema the
/// query validator uses (roots resolved, `__schema` and `__type` added to the query type).
pub(super) fn validate(doc: &Json) -> core::result::Result<Schema, String> {
    let prelude = PRELUDE_DOCUMENT
        .as_ref()
        .map_err(|e| format!("prelude: {e}"))?;
    let mut definitions: Vec<Def> = list(prelude, "Definitions")
        .map(|d| def(d, true))
        .collect();
    definitions.extend(list(doc, "Definitions").map(|d| def(d, false)));
    let extensions: Vec<Def> = list(doc, "Extensions").map(|d| def(d, false)).collect();
    let mut directive_defs: Vec<&Json> = list(prelude, "Directives").collect();
    directive_defs.extend(list(doc, "Directives"));

    let mut schema = Schema {
        types: BTreeMap::new(),
        directives: BTreeMap::new(),
        possible_types: BTreeMap::new(),
        query: None,
        mutation: None,
        subscription: None,
        typename: Field {
            name: "__typename".into(),
            ty: Ty::named("String", false),
            ..Default::default()
        },
    };
    let mut order: Vec<String> = Vec::new();
    for d in definitions {
        if schema.types.contains_key(&d.name) {
            return Err(format!("Cannot redeclare type {}.", d.name));
        }
        order.push(d.name.clone());
        schema.types.insert(d.name.clone(), d);
    }
    for ext in extensions {
        let base = schema.types.entry(ext.name.clone()).or_insert_with(|| {
            order.push(ext.name.clone());
            Def {
                kind: ext.kind.clone(),
                name: ext.name.clone(),
                ..Default::default()
            }
        });
        if base.kind != ext.kind {
            return Err(format!(
                "Cannot extend type {} because the base type is a {}, not {}.",
                ext.name, base.kind, ext.kind
            ));
        }
        base.directives.extend(ext.directives);
        base.interfaces.extend(ext.interfaces);
        base.fields.extend(ext.fields);
        base.types.extend(ext.types);
        base.enum_values.extend(ext.enum_values);
    }
    for name in &order {
        let d = &schema.types[name];
        let mut add = |of: &str, ty: &str| {
            schema
                .possible_types
                .entry(of.to_string())
                .or_default()
                .push(ty.to_string())
        };
        match d.kind.as_str() {
            "UNION" => {
                for t in &d.types {
                    add(&d.name, t);
                }
            }
            "INPUT_OBJECT" | "OBJECT" => {
                for i in &d.interfaces {
                    add(i, &d.name);
                }
                add(&d.name, &d.name);
            }
            "INTERFACE" => {
                for i in &d.interfaces {
                    add(i, &d.name);
                }
            }
            _ => {}
        }
    }
    for dir in directive_defs {
        let name = str_of(dir, "Name");
        if schema.directives.contains_key(&name)
            && !matches!(
                name.as_str(),
                "include" | "skip" | "deprecated" | "specifiedBy"
            )
        {
            return Err(format!("Cannot redeclare directive {name}."));
        }
        schema.directives.insert(
            name.clone(),
            DirDef {
                name,
                args: list(dir, "Arguments").map(arg).collect(),
                locations: names(dir, "Locations"),
                repeatable: dir
                    .get("IsRepeatable")
                    .and_then(Json::as_bool)
                    .unwrap_or(false),
            },
        );
    }
    let roots: Vec<&Json> = list(doc, "Schema").collect();
    if roots.len() > 1 {
        return Err(
            "Cannot have multiple schema entry points, consider schema extensions instead.".into(),
        );
    }
    let explicit_schema = !roots.is_empty();
    for root in roots.into_iter().chain(list(doc, "SchemaExtension")) {
        for entry in list(root, "OperationTypes") {
            let ty = str_of(entry, "Type");
            if !schema.types.contains_key(&ty) {
                return Err(format!(
                    "Schema root {} refers to a type {ty} that does not exist.",
                    str_of(entry, "Operation")
                ));
            }
            match str_of(entry, "Operation").as_str() {
                "query" => schema.query = Some(ty),
                "mutation" => schema.mutation = Some(ty),
                "subscription" => schema.subscription = Some(ty),
                _ => {}
            }
        }
    }
    // validateTypeDefinitions, then validateDirectiveDefinitions, both in name order.
    for d in schema.types.values() {
        validate_definition(&schema, d)?;
    }
    for d in schema.directives.values() {
        validate_name(&d.name)?;
        validate_args(&schema, &d.args, Some(&d.name))?;
    }
    // Root names are inferred only without a `schema` definition.
    if !explicit_schema {
        for (slot, name) in [
            (&mut schema.query, "Query"),
            (&mut schema.mutation, "Mutation"),
            (&mut schema.subscription, "Subscription"),
        ] {
            if slot.is_none() && schema.types.contains_key(name) {
                *slot = Some(name.to_string());
            }
        }
    }
    if let Some(q) = schema.query.clone() {
        if let Some(def) = schema.types.get_mut(&q) {
            def.fields.push(Field {
                name: "__schema".into(),
                ty: Ty::named("__Schema", true),
                ..Default::default()
            });
            def.fields.push(Field {
                name: "__type".into(),
                ty: Ty::named("__Type", false),
                args: vec![Arg {
                    name: "name".into(),
                    ty: Ty::named("String", true),
                    ..Default::default()
                }],
                ..Default::default()
            });
        }
    }
    Ok(schema)
}

fn validate_name(name: &str) -> Check {
    if name.starts_with("__") {
        return Err(format!(
            "Name \"{name}\" must not begin with \"__\", which is reserved by GraphQL introspection."
        ));
    }
    Ok(())
}

fn validate_type_ref(schema: &Schema, ty: &Ty) -> Check {
    if !schema.types.contains_key(ty.name()) {
        return Err(format!("Undefined type {}.", ty.name()));
    }
    Ok(())
}

fn is_input_kind(kind: &str) -> bool {
    matches!(kind, "SCALAR" | "ENUM" | "INPUT_OBJECT")
}

fn validate_args(schema: &Schema, args: &[Arg], current: Option<&str>) -> Check {
    for a in args {
        validate_name(&a.name)?;
        validate_type_ref(schema, &a.ty)?;
        let kind = schema
            .types
            .get(a.ty.name())
            .map(|d| d.kind.as_str())
            .unwrap_or_default();
        if !is_input_kind(kind) {
            return Err(format!(
                "cannot use {} as argument {} because {kind} is not a valid input type",
                a.ty.name(),
                a.name
            ));
        }
        validate_directives(schema, &a.directives, "ARGUMENT_DEFINITION", current)?;
    }
    Ok(())
}

fn validate_directives(
    schema: &Schema,
    dirs: &[String],
    location: &str,
    current: Option<&str>,
) -> Check {
    for name in dirs {
        validate_name(name)?;
        if current == Some(name.as_str()) {
            return Err(format!("Directive {name} cannot refer to itself."));
        }
        let Some(def) = schema.directives.get(name) else {
            return Err(format!("Undefined directive {name}."));
        };
        if !def.locations.iter().any(|l| l == location) {
            return Err(format!("Directive {name} is not applicable on {location}."));
        }
    }
    Ok(())
}

fn validate_definition(schema: &Schema, d: &Def) -> Check {
    let field_location = if d.kind == "INPUT_OBJECT" {
        "INPUT_FIELD_DEFINITION"
    } else {
        "FIELD_DEFINITION"
    };
    for f in &d.fields {
        validate_name(&f.name)?;
        validate_type_ref(schema, &f.ty)?;
        validate_args(schema, &f.args, None)?;
        validate_directives(schema, &f.directives, field_location, None)?;
    }
    for t in &d.types {
        match schema.types.get(t) {
            None => return Err(format!("Undefined type {}.", quote(t))),
            Some(member) if member.kind != "OBJECT" => {
                return Err(format!("{} type {} must be OBJECT.", d.kind, quote(t)))
            }
            _ => {}
        }
    }
    for i in &d.interfaces {
        validate_implements(schema, d, i)?;
    }
    let field_kind = |f: &Field| schema.types.get(f.ty.name()).map(|t| t.kind.as_str());
    match d.kind.as_str() {
        "OBJECT" | "INTERFACE" => {
            if d.fields.is_empty() {
                return Err(format!(
                    "{} {}: must define one or more fields.",
                    d.kind, d.name
                ));
            }
            for f in &d.fields {
                if let Some(k) = field_kind(f) {
                    if !matches!(k, "SCALAR" | "OBJECT" | "INTERFACE" | "UNION" | "ENUM") {
                        return Err(format!(
                            "{} {}: field must be one of SCALAR, OBJECT, INTERFACE, UNION, ENUM.",
                            d.kind, d.name
                        ));
                    }
                }
            }
        }
        "ENUM" => {
            if d.enum_values.is_empty() {
                return Err(format!(
                    "{} {}: must define one or more unique enum values.",
                    d.kind, d.name
                ));
            }
            if let Some(v) = d
                .enum_values
                .iter()
                .find(|v| matches!(v.as_str(), "true" | "false" | "null"))
            {
                return Err(format!("{} {}: non-enum value {v}.", d.kind, d.name));
            }
        }
        "INPUT_OBJECT" => {
            if d.fields.is_empty() {
                return Err(format!(
                    "{} {}: must define one or more input fields.",
                    d.kind, d.name
                ));
            }
            for f in &d.fields {
                if let Some(k) = field_kind(f) {
                    if !is_input_kind(k) {
                        return Err(format!(
                            "{k} {}: field must be one of SCALAR, ENUM, INPUT_OBJECT.",
                            f.name
                        ));
                    }
                }
            }
        }
        _ => {}
    }
    for (i, f1) in d.fields.iter().enumerate() {
        if d.fields[i + 1..].iter().any(|f2| f2.name == f1.name) {
            return Err(format!(
                "Field {}.{} can only be defined once.",
                d.name, f1.name
            ));
        }
    }
    if !d.builtin {
        validate_name(&d.name)?;
    }
    validate_directives(schema, &d.directives, &d.kind, None)
}

fn is_covariant(schema: &Schema, required: &Ty, actual: &Ty) -> bool {
    if required.non_null && !actual.non_null {
        return false;
    }
    if !required.named.is_empty() {
        return required.named == actual.named
            || schema
                .possible_types
                .get(&required.named)
                .is_some_and(|p| p.contains(&actual.named));
    }
    match (&required.elem, &actual.elem) {
        (Some(_), None) => false,
        (Some(r), Some(a)) => is_covariant(schema, r, a),
        // gqlparser would dereference a nil element here; neither is a list: not covariant.
        (None, _) => false,
    }
}

fn validate_implements(schema: &Schema, d: &Def, intf_name: &str) -> Check {
    let Some(intf) = schema.types.get(intf_name) else {
        return Err(format!("Undefined type {}.", quote(intf_name)));
    };
    if intf.kind != "INTERFACE" {
        return Err(format!(
            "{} is a non interface type {}.",
            quote(intf_name),
            intf.kind
        ));
    }
    for required in &intf.fields {
        let Some(found) = d.fields.iter().find(|f| f.name == required.name) else {
            return Err(format!(
                "For {} to implement {} it must have a field called {}.",
                d.name, intf.name, required.name
            ));
        };
        if !is_covariant(schema, &required.ty, &found.ty) {
            return Err(format!(
                "For {} to implement {} the field {} must have type {}.",
                d.name,
                intf.name,
                required.name,
                required.ty.string()
            ));
        }
        for ra in &required.args {
            let Some(fa) = found.args.iter().find(|a| a.name == ra.name) else {
                return Err(format!(
                    "For {} to implement {} the field {} must have the same arguments but it is missing {}.",
                    d.name, intf.name, required.name, ra.name
                ));
            };
            if !ra.ty.is_compatible(&fa.ty) {
                return Err(format!(
                    "For {} to implement {} the field {} must have the same arguments but {} has the wrong type.",
                    d.name, intf.name, required.name, ra.name
                ));
            }
        }
        for fa in &found.args {
            if !required.args.iter().any(|a| a.name == fa.name)
                && fa.ty.non_null
                && !fa.has_default()
            {
                return Err(format!(
                    "For {} to implement {} any additional arguments on {} must be optional or have a default value but {} is required.",
                    d.name, intf.name, found.name, fa.name
                ));
            }
        }
    }
    for transitive in &intf.interfaces {
        if !d.interfaces.contains(transitive) {
            if *transitive == d.name {
                return Err(format!(
                    "Type {} cannot implement {intf_name} because it would create a circular reference.",
                    d.name
                ));
            }
            return Err(format!(
                "Type {} must implement {transitive} because it is implemented by {intf_name}.",
                d.name
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(s: &str) -> bool {
        Parser::new(s)
            .schema_document()
            .ok()
            .is_some_and(|d| validate(&d).is_ok())
    }

    // OPA's v1/test/cases/testdata/v1/graphql/test-graphql-schema-is-valid.yaml.
    #[test]
    fn opas_cases() {
        assert!(valid("extend type User { id: ID! } extend type Product { upc: String! } union _Entity = Product | User extend type Query { entity: _Entity }"));
        assert!(valid("extend type Query { myAction(myEnum: Locale!): SomeResult! } type SomeResult { id: String } enum Locale { EN LT DE }"));
        assert!(valid("type DeprecatedType { deprecatedField: String @deprecated newField(deprecatedArg: Int): Boolean } enum DeprecatedEnum { ALPHA @deprecated }"));
        assert!(valid("type Employee { id: String! salary: Int! } schema { query: Query } type Query { employeeByID(id: String): Employee }"));
        assert!(valid(
            "type Hello { world(flag: Boolean = true, things: [String], n: Int): String }"
        ));
        assert!(!valid("type Hello {}"));
        assert!(valid("extend type Hello { world: String }"));
        assert!(!valid("extend type Hello implements Greeting"));
        assert!(!valid(
            "extend scalar Foo @deprecated extend type Foo @deprecated"
        ));
        assert!(!valid("schema { query: Query }"));
        assert!(!valid("extend schema { mutation: Mutation }"));
        assert!(valid("type Query { x: Int } directive @directive(a: String = \"b\") on SCHEMA extend schema @directive"));
        assert!(!valid("type Hello implements World { field: String }"));
        assert!(valid("enum Hello { WO, RLD }"));
        assert!(!valid("enum Hello { true }"));
        assert!(valid("interface Hello { world: String }"));
        assert!(!valid("interface IA { id: ID! } interface IIA implements IA { id: ID! } type A implements IIA { id: ID! }"));
        assert!(valid("interface IA { id: ID! } interface IIA implements IA { id: ID! } type A implements IIA & IA { id: ID! }"));
        assert!(!valid("union Hello = World"));
        assert!(valid("scalar Hello"));
        assert!(valid("input Hello { world: String }"));
        assert!(!valid("input Hello { world(foo: Int): String }"));
        assert!(!valid("type Hello { a: Int a: String }"));
        assert!(!valid("type __Hello { a: Int }"));
        assert!(!valid("scalar String"));
        assert!(!valid("type Q { a(x: Q): Int }"));
        assert!(!valid("type Q { a: Int @include(if: true) }"));
        assert!(valid("directive @foo on FIELD"));
        assert!(!valid("directive @foo(a: Int @foo) on ARGUMENT_DEFINITION"));
        assert!(!valid(
            "interface I { f(a: Int): Int } type T implements I { f: Int }"
        ));
        assert!(!valid(
            "interface I { f: Int } type T implements I { f(b: Int!): Int }"
        ));
        assert!(valid("interface I { f: I } type T implements I { f: T }"));
        assert!(!valid(
            "interface I { f: Int! } type T implements I { f: Int }"
        ));
    }
}
