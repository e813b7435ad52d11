//! conftest's spellings (issue 12, item 7): `-o stdout`, `--no-color`, `--quiet`,
//! `--suppress-exceptions`, comma-separated `-p/-d/-n`, `POLICYCTL_*` environment variables and
//! a `conftest.toml` / `policyctl.toml` config file, with the command line winning.

mod common;
use common::policyctl;

const POLICY: &str = "testdata/conftest/policy";
const INPUTS: &str = "testdata/conftest/inputs";

/// (exit code, stdout, stderr) of `policyctl ARGS` with `env` set, in `dir` (default: the
/// crate root).
fn run(
    args: &[&str],
    env: &[(&str, &str)],
    dir: Option<&std::path::Path>,
) -> (i32, String, String) {
    let mut cmd = policyctl();
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let out = cmd.args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn stdout_is_text_and_no_color_wins_over_color_always() {
    let (c1, text, _) = run(
        &[
            "check", "-p", POLICY, INPUTS, "-o", "text", "--color", "never",
        ],
        &[],
        None,
    );
    let (c2, stdout, _) = run(
        &[
            "check",
            "-p",
            POLICY,
            INPUTS,
            "-o",
            "stdout",
            "--color",
            "always",
            "--no-color",
        ],
        &[],
        None,
    );
    assert_eq!((c1, c2), (1, 1));
    assert_eq!(text, stdout);
    assert!(!stdout.contains('\u{1b}'), "{stdout}");
    let (_, colored, _) = run(
        &["check", "-p", POLICY, INPUTS, "--color", "always"],
        &[],
        None,
    );
    assert!(
        colored.contains('\u{1b}'),
        "--color always still colours: {colored}"
    );
}

#[test]
fn quiet_drops_the_summary_and_suppress_exceptions_drops_exceptions() {
    let (code, out, _) = run(
        &[
            "check",
            "-p",
            POLICY,
            INPUTS,
            "--color",
            "never",
            "--quiet",
            "--suppress-exceptions",
        ],
        &[],
        None,
    );
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("tests,"), "no summary: {out}");
    assert!(!out.contains("EXCP"), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("FAIL")).count(),
        3,
        "{out}"
    );
    // Without them: the exception and the summary are there.
    let (_, full, _) = run(
        &["check", "-p", POLICY, INPUTS, "--color", "never"],
        &[],
        None,
    );
    assert!(
        full.contains("EXCP") && full.contains("1 exceptions"),
        "{full}"
    );
    // JSON keeps the summary count; the finding itself is left out.
    let (_, json, _) = run(
        &[
            "check",
            "-p",
            POLICY,
            INPUTS,
            "-o",
            "json",
            "--suppress-exceptions",
        ],
        &[],
        None,
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["summary"]["exceptions"], 1, "{v:#}");
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] != "exception"),
        "{v:#}"
    );
}

#[test]
fn comma_separated_lists_as_conftest_splits_them() {
    let (code, out, err) = run(
        &[
            "check",
            "-p",
            &format!("{POLICY},builtin"),
            "-n",
            "main,policyctl.k8s.*",
            INPUTS,
            "-o",
            "json",
        ],
        &[],
        None,
    );
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let packages: std::collections::BTreeSet<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["policy"].as_str().unwrap().to_string())
        .collect();
    assert!(packages.contains("main"), "{packages:?}");
    assert!(
        packages.iter().any(|p| p.starts_with("policyctl.k8s")),
        "the built-in library ran too: {packages:?}"
    );
}

#[test]
fn environment_variables_set_flags_and_the_command_line_wins() {
    let env = [
        ("POLICYCTL_POLICY", POLICY),
        ("POLICYCTL_OUTPUT", "json"),
        ("POLICYCTL_NO_FAIL", "true"),
    ];
    let (code, out, err) = run(&["check", INPUTS], &env, None);
    assert_eq!(code, 0, "POLICYCTL_NO_FAIL: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("POLICYCTL_OUTPUT=json");
    assert_eq!(v["summary"]["failures"], 3, "POLICYCTL_POLICY: {v:#}");
    let (code, out, _) = run(&["check", INPUTS, "-o", "tap"], &env, None);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("TAP version") || out.starts_with("1.."),
        "-o beats the variable: {out}"
    );
    // A variable with a value the flag does not take is a usage error naming it.
    let (code, _, err) = run(&["check", INPUTS], &[("POLICYCTL_OUTPUT", "yaml")], None);
    assert_eq!(code, 2);
    assert!(err.contains("yaml"), "{err}");
}

#[test]
fn conftest_toml_sets_defaults_below_environment_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    std::fs::write(
        dir.path().join("conftest.toml"),
        format!(
            "policy = [\"{root}/{POLICY}\"]\nnamespace = \"main\"\noutput = \"json\"\nfail_on_warn = true\n"
        ),
    )
    .unwrap();
    let inputs = format!("{root}/{INPUTS}");
    let (code, out, err) = run(&["check", &inputs], &[], Some(dir.path()));
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&out).expect("output = json from conftest.toml");
    assert_eq!(v["summary"]["failures"], 3, "{v:#}");
    // The environment beats the file, the command line beats both.
    let (_, out, _) = run(
        &["check", &inputs],
        &[("POLICYCTL_OUTPUT", "tap")],
        Some(dir.path()),
    );
    assert!(!out.trim_start().starts_with('{'), "{out}");
    let (_, out, _) = run(
        &["check", &inputs, "-o", "text", "--color", "never"],
        &[("POLICYCTL_OUTPUT", "tap")],
        Some(dir.path()),
    );
    assert!(out.contains("tests,"), "{out}");
    // policyctl.toml is read before conftest.toml; an unknown key is an error naming it.
    std::fs::write(dir.path().join("policyctl.toml"), "polciy = \"x\"\n").unwrap();
    let (code, _, err) = run(&["check", &inputs], &[], Some(dir.path()));
    assert_eq!(code, 2);
    assert!(
        err.contains("policyctl.toml") && err.contains("unknown key `polciy`"),
        "{err}"
    );
}
