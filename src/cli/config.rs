//! `policyctl.toml` / `conftest.toml`: flag defaults from a config file in the working
//! directory, as conftest reads `conftest.toml`. Keys are the long flag names (`policy`,
//! `namespace`, `output`, `fail-on-warn`, …, with `-` or `_`); values are strings, booleans,
//! integers or arrays of strings. Precedence: command line, then `POLICYCTL_*` environment
//! variables, then the config file, then built-in defaults. An unknown key is an error naming
//! the file and the key, never silently ignored.

use anyhow::{bail, Context};
use std::ffi::OsString;

/// The flags a config file may set, and the environment variable each one reads.
const KEYS: &[(&str, &str)] = &[
    ("policy", "POLICYCTL_POLICY"),
    ("data", "POLICYCTL_DATA"),
    ("namespace", "POLICYCTL_NAMESPACE"),
    ("all-namespaces", "POLICYCTL_ALL_NAMESPACES"),
    ("rego-version", "POLICYCTL_REGO_VERSION"),
    ("inventory", "POLICYCTL_INVENTORY"),
    ("rego-engine", "POLICYCTL_REGO_ENGINE"),
    ("gatekeeper-engine", "POLICYCTL_GATEKEEPER_ENGINE"),
    ("parser", "POLICYCTL_PARSER"),
    ("ignore", "POLICYCTL_IGNORE"),
    ("combine", "POLICYCTL_COMBINE"),
    ("output", "POLICYCTL_OUTPUT"),
    ("fail-on-warn", "POLICYCTL_FAIL_ON_WARN"),
    ("no-fail", "POLICYCTL_NO_FAIL"),
    ("suppress-exceptions", "POLICYCTL_SUPPRESS_EXCEPTIONS"),
    ("quiet", "POLICYCTL_QUIET"),
    ("threads", "POLICYCTL_THREADS"),
    ("max-file-size", "POLICYCTL_MAX_FILE_SIZE"),
    ("color", "POLICYCTL_COLOR"),
    ("no-color", "POLICYCTL_NO_COLOR"),
    ("policy-key", "POLICYCTL_POLICY_KEY"),
    ("policy-identity", "POLICYCTL_POLICY_IDENTITY"),
    ("policy-identity-regexp", "POLICYCTL_POLICY_IDENTITY_REGEXP"),
    ("policy-issuer", "POLICYCTL_POLICY_ISSUER"),
    ("policy-issuer-regexp", "POLICYCTL_POLICY_ISSUER_REGEXP"),
    ("policy-trusted-root", "POLICYCTL_POLICY_TRUSTED_ROOT"),
    ("policy-cache", "POLICYCTL_POLICY_CACHE"),
];

/// The config file's keys become the flags' `POLICYCTL_*` variables where those are unset, so
/// clap applies them with the environment's precedence. Only `check` reads a config file.
pub(super) fn apply(args: &[OsString]) -> anyhow::Result<()> {
    if args.get(1).and_then(|a| a.to_str()) != Some("check") {
        return Ok(());
    }
    let Some((file, text)) = ["policyctl.toml", "conftest.toml"]
        .iter()
        .find_map(|f| std::fs::read_to_string(f).ok().map(|t| (*f, t)))
    else {
        return Ok(());
    };
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{file}: not valid TOML"))?;
    for (key, value) in table {
        let name = key.replace('_', "-");
        let Some((_, var)) = KEYS.iter().find(|(k, _)| *k == name) else {
            bail!(
                "{file}: unknown key `{key}` (keys are check's long flag names: {})",
                KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
            );
        };
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(s.clone()),
                    other => bail!("{file}: `{key}` must list strings, not {other}"),
                })
                .collect::<anyhow::Result<Vec<_>>>()?
                .join(","),
            other => {
                bail!("{file}: `{key}` must be a string, boolean, integer or list, not {other}")
            }
        };
        if std::env::var_os(var).is_none() {
            // Single-threaded here: the command line is not parsed yet.
            std::env::set_var(var, text);
        }
    }
    Ok(())
}
