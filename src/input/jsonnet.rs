//! Jsonnet (`*.jsonnet`, `*.libsonnet`): the program is evaluated and policies see the JSON it
//! produces, as conftest's go-jsonnet parser does — with the standard library, and imports
//! resolved relative to the file. Evaluation errors (syntax, a failed `error`, a missing import)
//! are parse errors naming the file, never an empty document.

use super::ParseError;
use jrsonnet_evaluator::{manifest::JsonFormat, trace::PathResolver, FileImportResolver, State};
use serde_json::Value as Json;

pub(super) fn evaluate(file: &str, text: &str) -> Result<Json, ParseError> {
    let mut builder = State::builder();
    builder.import_resolver(FileImportResolver::new(Vec::new()));
    builder.context_initializer(jrsonnet_stdlib::ContextInitializer::new(
        PathResolver::new_cwd_fallback(),
    ));
    let state = builder.build();
    let Some(_entered) = state.try_enter() else {
        return Err(ParseError::new(
            0,
            "jsonnet: an evaluation is already running on this thread",
        ));
    };
    let fail = |e: &dyn std::fmt::Display| {
        ParseError::new(0, format!("jsonnet: {}", e.to_string().trim_end()))
    };
    // From disk when the input is a file, so relative imports resolve against its directory;
    // standard input is evaluated as a snippet.
    let value = if file != "-" && std::path::Path::new(file).is_file() {
        state
            .import(std::path::Path::new(file))
            .map_err(|e| fail(&e))?
    } else {
        state.evaluate_snippet(file, text).map_err(|e| fail(&e))?
    };
    let json = value.manifest(JsonFormat::minify()).map_err(|e| fail(&e))?;
    serde_json::from_str(&json).map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_with_stdlib_and_relative_imports() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lib.libsonnet"), "{ name(n):: 'app-' + n }").unwrap();
        let main = dir.path().join("app.jsonnet");
        let text = "local lib = import 'lib.libsonnet';\n{ kind: 'Deployment', metadata: { name: lib.name('x'), labels: std.mergePatch({a: 'b'}, {c: 'd'}) }, n: std.length([1, 2, 3]) }";
        std::fs::write(&main, text).unwrap();
        let v = evaluate(main.to_str().unwrap(), text).unwrap();
        assert_eq!(v["metadata"]["name"], "app-x");
        assert_eq!(
            v["metadata"]["labels"],
            serde_json::json!({"a": "b", "c": "d"})
        );
        assert_eq!(v["n"], 3);
    }

    #[test]
    fn errors_are_parse_errors() {
        for (text, needle) in [
            ("{ a: }", "syntax error"),
            ("error 'no deployments here'", "no deployments here"),
            ("import 'missing.libsonnet'", "missing.libsonnet"),
        ] {
            let err = evaluate("-", text).unwrap_err();
            assert!(
                err.message.starts_with("jsonnet: ") && err.message.contains(needle),
                "{err:?}"
            );
        }
    }
}
