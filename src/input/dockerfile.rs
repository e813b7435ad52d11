//! Dockerfiles in conftest's shape (BuildKit's parser): a list of instructions
//! `{Cmd, SubCmd, JSON, Flags, Value, Stage}` with the command lower-cased, comments as
//! `Cmd: "comment"`, plus `Line` (1-based) so policies can point at the instruction.

use super::ParseError;
use serde_json::{json, Value as Json};

struct Instruction {
    line: usize,
    text: String,
}

/// Joins continuation lines (`\` or the `# escape=` character) into logical instructions.
fn logical_lines(text: &str) -> Vec<Instruction> {
    let mut escape = '\\';
    let mut out: Vec<Instruction> = Vec::new();
    let mut current: Option<Instruction> = None;
    let mut directives_allowed = true;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim_start();
        if directives_allowed {
            if let Some(d) = trimmed.strip_prefix('#') {
                if let Some((k, v)) = d.split_once('=') {
                    if k.trim().eq_ignore_ascii_case("escape") {
                        escape = v.trim().chars().next().unwrap_or('\\');
                        continue;
                    }
                }
            }
            directives_allowed = false;
        }
        if current.is_some() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue; // blank and comment lines inside a continuation are dropped, as BuildKit does
        }
        let (body, continues) = match trimmed.trim_end().strip_suffix(escape) {
            Some(b) => (b, true),
            None => (trimmed, false),
        };
        match current.as_mut() {
            Some(inst) => {
                inst.text.push(' ');
                inst.text.push_str(body.trim());
            }
            None => {
                if trimmed.is_empty() {
                    continue;
                }
                current = Some(Instruction {
                    line: i + 1,
                    text: body.trim_end().to_string(),
                });
            }
        }
        if !continues {
            out.extend(current.take());
        }
    }
    out.extend(current);
    out
}

fn parse_json_array(rest: &str) -> Option<Vec<String>> {
    if !rest.trim_start().starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(rest.trim()).ok()
}

/// Splits `KEY=value KEY2="v 2"` or legacy `KEY value` into alternating keys and values.
fn name_values(rest: &str) -> Vec<String> {
    let words = shell_words(rest);
    if words.first().is_some_and(|w| !w.contains('=')) {
        let (key, value) = rest
            .trim()
            .split_once(char::is_whitespace)
            .unwrap_or((rest.trim(), ""));
        return vec![key.to_string(), value.trim().to_string()];
    }
    words
        .into_iter()
        .flat_map(|w| match w.split_once('=') {
            Some((k, v)) => vec![k.to_string(), v.to_string()],
            None => vec![w, String::new()],
        })
        .collect()
}

/// Whitespace-separated words honouring double and single quotes.
fn shell_words(rest: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut has_word = false;
    for c in rest.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                has_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if has_word {
                    words.push(std::mem::take(&mut word));
                    has_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                has_word = true;
            }
        }
    }
    if has_word {
        words.push(word);
    }
    words
}

fn split_flags(rest: &str) -> (Vec<String>, &str) {
    let mut flags = Vec::new();
    let mut rest = rest.trim_start();
    while rest.starts_with("--") {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        flags.push(rest[..end].to_string());
        rest = rest[end..].trim_start();
    }
    (flags, rest)
}

fn values(cmd: &str, rest: &str) -> (Vec<String>, bool) {
    match cmd {
        "run" | "cmd" | "entrypoint" | "shell" => match parse_json_array(rest) {
            Some(v) => (v, true),
            None => (vec![rest.trim().to_string()], false),
        },
        "add" | "copy" | "volume" => match parse_json_array(rest) {
            Some(v) => (v, true),
            None => (rest.split_whitespace().map(str::to_string).collect(), false),
        },
        "env" | "label" => (name_values(rest), false),
        "maintainer" | "stopsignal" | "workdir" | "user" | "arg" => {
            (vec![rest.trim().to_string()], false)
        }
        _ => (rest.split_whitespace().map(str::to_string).collect(), false),
    }
}

pub(super) fn parse(text: &str) -> Result<Json, ParseError> {
    let mut commands = Vec::new();
    let mut stage: i64 = -1;
    let mut seen_instruction = false;
    for inst in logical_lines(text) {
        let stage_now = stage.max(0);
        if let Some(comment) = inst.text.strip_prefix('#') {
            commands.push(json!({
                "Cmd": "comment", "SubCmd": "", "JSON": false, "Flags": [],
                "Value": [comment.trim()], "Stage": stage_now, "Line": inst.line,
            }));
            continue;
        }
        let (word, rest) = inst
            .text
            .split_once(char::is_whitespace)
            .unwrap_or((inst.text.as_str(), ""));
        if !word.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(ParseError::new(
                inst.line,
                format!("invalid Dockerfile: `{word}` is not an instruction"),
            ));
        }
        let mut cmd = word.to_ascii_lowercase();
        if cmd == "from" {
            stage += 1;
        } else if !seen_instruction && cmd != "arg" {
            return Err(ParseError::new(
                inst.line,
                format!(
                    "invalid Dockerfile: the first instruction must be FROM (or ARG), found {word}"
                ),
            ));
        }
        seen_instruction = true;
        let mut sub_cmd = String::new();
        let mut rest = rest.to_string();
        if cmd == "onbuild" {
            let (sub, sub_rest) = rest
                .trim()
                .split_once(char::is_whitespace)
                .unwrap_or((rest.trim(), ""));
            sub_cmd = sub.to_ascii_lowercase();
            let sub_rest = sub_rest.to_string();
            rest = sub_rest;
            cmd = "onbuild".into();
        }
        let (flags, rest) = split_flags(&rest);
        let (value, is_json) = values(if sub_cmd.is_empty() { &cmd } else { &sub_cmd }, rest);
        commands.push(json!({
            "Cmd": cmd, "SubCmd": sub_cmd, "JSON": is_json, "Flags": flags,
            "Value": value, "Stage": stage.max(0), "Line": inst.line,
        }));
    }
    Ok(Json::Array(commands))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conftest_shape() {
        let v = parse(
            "# syntax=docker/dockerfile:1\nFROM golang:1.22 AS build\nRUN go build \\\n    -o /app .\nFROM gcr.io/distroless/static\nCOPY --from=build /app /app\nENV A=1 B=\"two words\"\nUSER nonroot\nCMD [\"/app\"]\n",
        )
        .unwrap();
        let cmds = v.as_array().unwrap();
        assert_eq!(cmds[0]["Cmd"], "comment");
        assert_eq!(cmds[1]["Value"], json!(["golang:1.22", "AS", "build"]));
        assert_eq!(cmds[2]["Value"], json!(["go build -o /app ."]));
        assert_eq!(cmds[2]["Line"], 3);
        assert_eq!(cmds[4]["Flags"], json!(["--from=build"]));
        assert_eq!(cmds[4]["Stage"], 1);
        assert_eq!(cmds[5]["Value"], json!(["A", "1", "B", "two words"]));
        assert_eq!(cmds[7]["JSON"], true);
    }

    #[test]
    fn garbage_is_an_error_with_line() {
        let err = parse("FROM a\n{\"x\": 1}\n").unwrap_err();
        assert_eq!(err.line, 2);
    }
}
