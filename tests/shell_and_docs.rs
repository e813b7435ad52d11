//! Shell and docs integration (issue 12, item 1): completions that the real shells parse and
//! load, man pages that `man` renders, and a version that names what was built.

mod common;
use common::policyctl;
use std::process::Command;

fn output_of(args: &[&str]) -> String {
    let out = policyctl().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn write_temp(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn bash_loads_the_completion_and_completes_verbs_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let script = write_temp(&dir, "policyctl.bash", &output_of(&["completion", "bash"]));
    // Load it, then ask the completion function what `policyctl ch<TAB>` and
    // `policyctl check --fail<TAB>` complete to, as bash would.
    let probe = format!(
        r#"source {script}
complete -p policyctl
COMP_WORDS=(policyctl ch); COMP_CWORD=1; COMP_LINE="policyctl ch"; COMP_POINT=${{#COMP_LINE}}
_policyctl policyctl ch policyctl; echo "verbs: ${{COMPREPLY[*]}}"
COMP_WORDS=(policyctl check --fail); COMP_CWORD=2; COMP_LINE="policyctl check --fail"; COMP_POINT=${{#COMP_LINE}}
_policyctl policyctl --fail check; echo "flags: ${{COMPREPLY[*]}}""#
    );
    let out = Command::new("bash").args(["-c", &probe]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("-F _policyctl policyctl"), "{text}");
    assert!(text.contains("verbs: check"), "{text}");
    assert!(text.contains("--fail-on-warn"), "{text}");
}

#[test]
fn zsh_and_fish_parse_their_completions() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, check) in [("zsh", vec!["-n"]), ("fish", vec!["--no-execute"])] {
        let script = write_temp(&dir, shell, &output_of(&["completion", shell]));
        let out = Command::new(shell)
            .args(&check)
            .arg(&script)
            .output()
            .unwrap_or_else(|e| panic!("{shell} (scripts/install-test-deps.sh installs it): {e}"));
        assert!(
            out.status.success(),
            "{shell} rejects its completion script: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // fish loads it and completes the verbs.
    let script = write_temp(&dir, "policyctl.fish", &output_of(&["completion", "fish"]));
    let out = Command::new("fish")
        .args([
            "-c",
            &format!("source {script}; complete -C 'policyctl ve'"),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("verify-image"), "{text}");
    assert!(text.contains("version"), "{text}");
}

#[test]
fn powershell_and_elvish_completions_are_generated() {
    // No PowerShell in Debian's archive: its script is checked for the registration call only.
    let ps = output_of(&["completion", "powershell"]);
    assert!(
        ps.contains("Register-ArgumentCompleter") && ps.contains("'check'"),
        "{ps}"
    );
    let elvish = output_of(&["completion", "elvish"]);
    assert!(elvish.contains("policyctl;check"), "{elvish}");
}

#[test]
fn man_renders_policyctl_1_and_one_page_per_verb() {
    let dir = tempfile::tempdir().unwrap();
    let page = write_temp(&dir, "stdout.1", &output_of(&["man"]));
    let render = |path: &str| {
        let out = Command::new("man")
            .args(["-l", path])
            .env("MANWIDTH", "100")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .expect("man (scripts/install-test-deps.sh installs man-db)");
        assert!(out.status.success(), "man -l {path}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("warning"), "man -l {path}: {stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = render(&page);
    assert!(
        text.contains("NAME") && text.contains("policyctl"),
        "{text}"
    );
    assert!(text.contains("verify-image"), "{text}");

    let out = dir.path().join("man1");
    output_of(&["man", "--out", out.to_str().unwrap()]);
    let mut pages: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for verb in [
        "check",
        "test",
        "verify-image",
        "verify-blob",
        "serve",
        "parse",
        "completion",
        "man",
        "version",
    ] {
        assert!(pages.contains(&format!("policyctl-{verb}.1")), "{pages:?}");
    }
    assert!(pages.contains(&"policyctl.1".to_string()), "{pages:?}");
    let check = render(out.join("policyctl-check.1").to_str().unwrap());
    assert!(check.contains("--fail-on-warn"), "{check}");
}

#[test]
fn version_names_the_commit_and_the_engines() {
    let v = output_of(&["version"]);
    assert!(
        v.starts_with(&format!("policyctl {}\n", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    for line in ["commit: ", "regorus: 0.14.1", "sigstore: ", "oci-client: "] {
        assert!(v.contains(line), "{v}");
    }
    assert!(
        !v.contains("unknown\n"),
        "every engine version is known: {v}"
    );
    // `--version` prints the same long form; `-V` the short one.
    assert_eq!(output_of(&["--version"]), v);
    assert_eq!(
        output_of(&["-V"]),
        format!("policyctl {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// `policyctl version | grep -q …` closes the pipe at the first match: every verb that prints
/// must end as it would have (no panic, same exit code) when stdout is closed under it.
#[test]
fn a_closed_stdout_is_not_a_crash() {
    for args in [
        &["version"][..],
        &["--version"],
        &["completion", "bash"],
        &["man"],
        &["check", "testdata/k8s"],
    ] {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("policyctl"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // closed before the child writes a byte
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        let expected = if args[0] == "check" { 1 } else { 0 };
        assert_eq!(out.status.code(), Some(expected), "{args:?}: {stderr}");
    }
}
