//! A fast reader for the YAML that manifests are written in — block mappings and sequences,
//! plain, quoted and block scalars, one-line flow collections, comments — straight into JSON.
//!
//! It is an accelerator, not a second YAML implementation: it answers `None` for anything it does
//! not recognise with certainty (anchors, aliases, tags, multi-line plain, quoted or flow scalars,
//! `|+`, indentation indicators, complex keys, tabs, duplicate keys, errors of any kind, …) and
//! the caller then reads the document with serde_yaml as before, so errors, their lines and every
//! rare construct keep serde_yaml's behaviour. Where it answers, the value is the one
//! `yaml::to_json(serde_yaml::from_str(text))` gives: plain scalars are resolved by a copy of
//! serde_yaml 0.9's own rules (`resolve_plain`), and the two readers are compared on every YAML
//! file in the repository, on generated documents (tests below) and by the `yaml_fast_path` fuzz
//! target. Profiles of `check` had libyaml and serde_yaml at ~35% of its time (docs/benchmarks.md).

use serde_json::{Map, Number, Value as Json};

/// serde_yaml's recursion limit is 128; stay well inside it so a deep document is left to it.
const MAX_DEPTH: usize = 100;
/// libyaml refuses implicit keys longer than 1024 characters.
const MAX_KEY: usize = 1024;

/// Reads one document (the text between `---` separators), or `None` when the slow path must.
pub fn parse(text: &str) -> Option<Json> {
    if !plain_text(text) {
        return None;
    }
    let lines: Vec<Line<'_>> = text.split('\n').map(Line::new).collect();
    let mut p = Reader {
        lines,
        line: 0,
        col: None,
    };
    let value = p.node(0)?;
    // Everything must have been read: anything left over is an error or a construct we skip.
    if p.peek().is_some() {
        return None;
    }
    Some(value)
}

/// Only characters whose handling is certain: printable ASCII, `\n`, and non-ASCII characters
/// libyaml treats as ordinary printable text (not NEL, the Unicode line and paragraph separators,
/// a BOM, C1 controls, or non-characters). Tabs and `\r` send the document to the slow path.
fn plain_text(text: &str) -> bool {
    if text
        .bytes()
        .all(|b| b == b'\n' || (0x20..0x7f).contains(&b))
    {
        return true;
    }
    text.chars().all(|c| match c {
        '\n' | ' '..='~' => true,
        '\u{feff}' | '\u{2028}' | '\u{2029}' => false,
        c => {
            let u = c as u32;
            (0xa0..0xd800).contains(&u) || (0xe000..0xfffe).contains(&u) || u >= 0x10000
        }
    })
}

struct Line<'a> {
    text: &'a str,
    indent: usize,
    /// Blank, or only a comment: skipped between nodes.
    empty: bool,
}

impl<'a> Line<'a> {
    fn new(text: &'a str) -> Self {
        let indent = text.len() - text.trim_start_matches(' ').len();
        let rest = &text[indent..];
        Line {
            text,
            indent,
            empty: rest.is_empty() || rest.starts_with('#'),
        }
    }
}

struct Reader<'a> {
    lines: Vec<Line<'a>>,
    /// The line being read.
    line: usize,
    /// Set when the current line's content continues at this column after a `- ` already read.
    col: Option<usize>,
}

/// `- item` (or a lone `-`).
fn is_item(rest: &str) -> bool {
    rest == "-" || rest.starts_with("- ")
}

/// Characters that may not start a plain scalar (YAML's c-indicators).
fn indicator(c: u8) -> bool {
    matches!(
        c,
        b'-' | b'?'
            | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    )
}

impl<'a> Reader<'a> {
    /// The next content: its column and the text from there, skipping blank and comment lines.
    fn peek(&mut self) -> Option<(usize, &'a str)> {
        if let Some(c) = self.col {
            let text = self.lines[self.line].text;
            return Some((c, &text[c..]));
        }
        while let Some(l) = self.lines.get(self.line) {
            if !l.empty {
                return Some((l.indent, &l.text[l.indent..]));
            }
            self.line += 1;
        }
        None
    }

    fn advance(&mut self) {
        self.line += 1;
        self.col = None;
    }

    /// After a scalar or flow value that ended a line: a following line indented deeper than the
    /// node holding the value would continue it (a multi-line scalar) or be an error.
    fn ends_here(&self, parent: usize) -> bool {
        self.lines[self.line..]
            .iter()
            .find(|l| l.text.len() > l.indent)
            .is_none_or(|l| l.indent <= parent)
    }

    /// A block node whose first content is at the current position.
    fn node(&mut self, depth: usize) -> Option<Json> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (indent, rest) = self.peek()?;
        if is_item(rest) {
            self.sequence(indent, depth)
        } else {
            self.mapping(indent, depth)
        }
    }

    fn sequence(&mut self, n: usize, depth: usize) -> Option<Json> {
        let mut items = Vec::new();
        while let Some((indent, rest)) = self.peek() {
            if indent != n || !is_item(rest) {
                break;
            }
            let after = &rest[1..];
            let content = after.trim_start_matches(' ');
            if content.is_empty() || content.starts_with('#') {
                self.advance();
                items.push(self.value_below(n, depth)?);
                continue;
            }
            let c = n + 1 + (after.len() - content.len());
            if is_item(content) {
                self.col = Some(c);
                items.push(self.sequence(c, depth + 1)?);
            } else if key_of(content)?.is_some() {
                self.col = Some(c);
                items.push(self.mapping(c, depth + 1)?);
            } else {
                items.push(self.inline(content, n, depth + 1)?);
            }
        }
        Some(Json::Array(items))
    }

    fn mapping(&mut self, n: usize, depth: usize) -> Option<Json> {
        let mut map = Map::new();
        while let Some((indent, rest)) = self.peek() {
            if indent != n || is_item(rest) {
                break;
            }
            let Some((key, after)) = key_of(rest)? else {
                return None; // a scalar where an entry belongs: an error or a multi-line key
            };
            if map.contains_key(&key) {
                return None; // serde_yaml refuses duplicate keys; let it say so
            }
            let content = after.trim_start_matches(' ');
            let value = if content.is_empty() || content.starts_with('#') {
                self.advance();
                match self.peek() {
                    Some((i, r)) if i == n && is_item(r) => self.sequence(n, depth + 1)?,
                    _ => self.value_below(n, depth)?,
                }
            } else {
                self.inline(content, n, depth + 1)?
            };
            map.insert(key, value);
        }
        Some(Json::Object(map))
    }

    /// The value of an entry whose line ended after `key:` or `-`: a deeper node, else null.
    fn value_below(&mut self, n: usize, depth: usize) -> Option<Json> {
        match self.peek() {
            Some((i, _)) if i > n => self.node(depth + 1),
            _ => Some(Json::Null),
        }
    }

    /// A value that starts on the current line at `text` (non-empty, not a comment), inside a
    /// node indented `n`.
    fn inline(&mut self, text: &'a str, n: usize, depth: usize) -> Option<Json> {
        if depth > MAX_DEPTH {
            return None;
        }
        let first = text.as_bytes()[0];
        if first == b'|' || first == b'>' {
            return self.block_scalar(text, n);
        }
        let (value, rest) = match first {
            b'"' | b'\'' => quoted(text)?,
            b'[' | b'{' => flow(text, depth)?,
            _ => {
                if indicator(first) && !dash_scalar(text) {
                    return None;
                }
                let end = text.find(" #").unwrap_or(text.len());
                let scalar = text[..end].trim_end_matches(' ');
                if scalar.contains(": ") || scalar.ends_with(':') {
                    return None; // `a: b: c` is an error
                }
                (resolve_plain(scalar)?, &text[end..])
            }
        };
        if !line_end(rest) {
            return None;
        }
        self.advance();
        self.ends_here(n).then_some(value)
    }

    /// `|`, `|-`, `>`, `>-` with content indented deeper than `n` (the enclosing node).
    fn block_scalar(&mut self, header: &str, n: usize) -> Option<Json> {
        let b = header.as_bytes();
        let literal = b[0] == b'|';
        let (strip, rest) = match b.get(1) {
            Some(b'-') => (true, &header[2..]),
            Some(b'+') | Some(b'0'..=b'9') => return None,
            _ => (false, &header[1..]),
        };
        if !line_end(rest) {
            return None;
        }
        let start = self.line + 1;
        let mut m = None;
        let mut content: Vec<&str> = Vec::new();
        let mut end = self.lines.len();
        let mut last_text = 0;
        for (i, l) in self.lines.iter().enumerate().skip(start) {
            let blank = l.text.len() == l.indent;
            if blank {
                if m.is_none() || l.indent > m.unwrap_or(0) {
                    return None; // leading blank lines, or spaces kept as content
                }
                content.push("");
                continue;
            }
            let indent = *m.get_or_insert(l.indent);
            if indent <= n {
                return None; // empty block scalar
            }
            if l.indent < indent {
                end = i;
                break;
            }
            content.push(&l.text[indent..]);
            last_text = i;
        }
        if last_text + 1 == self.lines.len() {
            return None; // the text ends without a line break: chomping differs
        }
        m?; // no content at all
        while content.last() == Some(&"") {
            content.pop();
        }
        let mut out = String::new();
        if literal {
            out = content.join("\n");
        } else {
            for (i, line) in content.iter().enumerate() {
                if line.starts_with(' ') {
                    return None; // more-indented lines fold differently
                }
                if i > 0 {
                    // One break between text lines folds to a space; k blank lines keep k breaks.
                    let prev_text = !content[i - 1].is_empty();
                    if line.is_empty() {
                        out.push('\n');
                    } else if prev_text {
                        out.push(' ');
                    }
                }
                out.push_str(line);
            }
        }
        if !strip {
            out.push('\n');
        }
        self.line = end;
        self.col = None;
        Some(Json::String(out))
    }
}

/// `-1`, `-x`: a plain scalar may start with `-` when a non-space follows.
fn dash_scalar(text: &str) -> bool {
    text.starts_with('-') && text.as_bytes().get(1).is_some_and(|&c| c != b' ')
}

/// Only spaces, or a comment after at least one space.
fn line_end(rest: &str) -> bool {
    let t = rest.trim_start_matches(' ');
    t.is_empty() || (t.starts_with('#') && t.len() < rest.len())
}

/// A block mapping entry's key and the text after its `:` (empty or starting with a space).
/// `Some(None)`: not an entry; `None`: something to leave to the slow path.
#[allow(clippy::option_option)]
fn key_of(text: &str) -> Option<Option<(String, &str)>> {
    let first = *text.as_bytes().first()?;
    if first == b'"' || first == b'\'' {
        let (key, rest) = quoted(text)?;
        let Some(after) = rest.strip_prefix(':') else {
            return Some(None); // a quoted scalar, not a key
        };
        if text.len() - after.len() > MAX_KEY {
            return None;
        }
        if !(after.is_empty() || after.starts_with(' ')) {
            return None;
        }
        let Json::String(key) = key else { return None };
        return Some(Some((key, after)));
    }
    if indicator(first) {
        return Some(None); // a flow collection, block scalar, alias, …: `inline` decides
    }
    let colon = match text.find(": ") {
        Some(i) => i,
        None if text.ends_with(':') => text.len() - 1,
        None => return Some(None),
    };
    let raw = &text[..colon];
    if raw.contains(" #") || raw.ends_with(':') || raw.len() > MAX_KEY {
        return None;
    }
    let key = raw.trim_end_matches(' ');
    match resolve_plain(key)? {
        Json::String(s) => Some(Some((s, &text[colon + 1..]))),
        _ => None, // numbers, booleans, null as keys: serde_yaml's stringification is kept
    }
}

/// A single- or double-quoted scalar that closes on this line, and the text after it.
fn quoted(text: &str) -> Option<(Json, &str)> {
    let b = text.as_bytes();
    let q = b[0];
    let mut out = String::new();
    let mut i = 1;
    let mut run = 1; // start of the literal run being copied
    while i < b.len() {
        let c = b[i];
        if q == b'\'' && c == b'\'' {
            out.push_str(&text[run..i]);
            if b.get(i + 1) == Some(&b'\'') {
                out.push('\'');
                i += 2;
                run = i;
                continue;
            }
            return Some((Json::String(out), &text[i + 1..]));
        }
        if q == b'"' && c == b'"' {
            out.push_str(&text[run..i]);
            return Some((Json::String(out), &text[i + 1..]));
        }
        if q == b'"' && c == b'\\' {
            out.push_str(&text[run..i]);
            let (ch, len) = escape(&text[i + 1..])?;
            out.push(ch);
            i += 1 + len;
            run = i;
            continue;
        }
        i += 1;
    }
    None // closes on a later line: folding rules, left to the slow path
}

/// A double-quoted escape (after the backslash): the character and the length consumed.
fn escape(s: &str) -> Option<(char, usize)> {
    let c = *s.as_bytes().first()?;
    let simple = match c {
        b'\\' => '\\',
        b'"' => '"',
        b'/' => '/',
        b'n' => '\n',
        b't' => '\t',
        b'r' => '\r',
        b'0' => '\0',
        b' ' => ' ',
        b'x' | b'u' | b'U' => {
            let len = match c {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let hex = s.get(1..1 + len)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let ch = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
            return Some((ch, 1 + len));
        }
        _ => return None,
    };
    Some((simple, 1))
}

/// A flow collection that closes on this line, and the text after it.
fn flow(text: &str, depth: usize) -> Option<(Json, &str)> {
    if depth > MAX_DEPTH {
        return None;
    }
    let open = text.as_bytes()[0];
    let close = if open == b'[' { ']' } else { '}' };
    let mut rest = text[1..].trim_start_matches(' ');
    let mut items = Vec::new();
    let mut map = Map::new();
    if let Some(after) = rest.strip_prefix(close) {
        return Some((collection(open, items, map), after));
    }
    loop {
        if open == b'[' {
            let (item, after) = flow_node(rest, depth)?;
            if after.starts_with(':') {
                return None; // `[a: b]` is a single-pair mapping
            }
            items.push(item);
            rest = after;
        } else {
            let (key, after) = flow_node(rest, depth)?;
            let Json::String(key) = key else { return None };
            let after = after.strip_prefix(": ")?.trim_start_matches(' ');
            if after.starts_with([',', '}']) || map.contains_key(&key) {
                return None;
            }
            let (value, after) = flow_node(after, depth)?;
            map.insert(key, value);
            rest = after;
        }
        rest = rest.trim_start_matches(' ');
        if let Some(after) = rest.strip_prefix(close) {
            return Some((collection(open, items, map), after));
        }
        rest = rest.strip_prefix(',')?.trim_start_matches(' ');
        if rest.starts_with([']', '}']) || rest.is_empty() {
            return None; // a trailing comma, or the collection goes on past this line
        }
    }
}

/// The finished flow collection opened by `open`.
fn collection(open: u8, items: Vec<Json>, map: Map<String, Json>) -> Json {
    if open == b'[' {
        Json::Array(items)
    } else {
        Json::Object(map)
    }
}

/// One node inside a flow collection and the text after it (leading spaces skipped).
fn flow_node(text: &str, depth: usize) -> Option<(Json, &str)> {
    let first = *text.as_bytes().first()?;
    let (value, rest) = match first {
        b'[' | b'{' => flow(text, depth + 1)?,
        b'"' | b'\'' => quoted(text)?,
        _ if indicator(first) && !dash_scalar(text) => return None,
        _ => {
            let end = text
                .find([',', '[', ']', '{', '}', ':', '#'])
                .unwrap_or(text.len());
            let stop = text.as_bytes().get(end).copied();
            if stop == Some(b'#') || (stop == Some(b':') && !text[end..].starts_with(": ")) {
                return None; // `a:b` and `a#b` in flow context: leave to libyaml
            }
            let scalar = text[..end].trim_end_matches(' ');
            if scalar.is_empty() {
                return None;
            }
            (resolve_plain(scalar)?, &text[end..])
        }
    };
    Some((value, rest.trim_start_matches(' ')))
}

/// A plain scalar resolved as serde_yaml 0.9 resolves an untagged one into `serde_yaml::Value`
/// (`de::visit_untagged_scalar`: null, bool, int, float, string — the functions below are
/// copies of its private helpers), then as `yaml::to_json` converts it. `None` where
/// serde_yaml's value would not be a plain JSON one: 128-bit integers, infinities, NaN.
fn resolve_plain(v: &str) -> Option<Json> {
    if v.is_empty() || matches!(v, "null" | "Null" | "NULL" | "~") {
        return Some(Json::Null);
    }
    match v {
        "true" | "True" | "TRUE" => return Some(Json::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Json::Bool(false)),
        _ => {}
    }
    // Fast exit for the common case: text that cannot be a number.
    let b = v.as_bytes()[0];
    if !(b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')) {
        return Some(Json::String(v.to_string()));
    }
    if let Some(u) = parse_unsigned_int(v, u64::from_str_radix) {
        return Some(Json::Number(u.into()));
    }
    if let Some(i) = parse_negative_int(v, i64::from_str_radix) {
        return Some(Json::Number(i.into()));
    }
    if parse_unsigned_int(v, u128::from_str_radix).is_some()
        || parse_negative_int(v, i128::from_str_radix).is_some()
    {
        return None;
    }
    if !digits_but_not_number(v) {
        if let Some(f) = parse_f64(v) {
            return Number::from_f64(f).map(Json::Number);
        }
    }
    Some(Json::String(v.to_string()))
}

// serde_yaml 0.9.34 `de.rs` (MIT OR Apache-2.0), verbatim apart from formatting.
type Radix<T> = fn(&str, u32) -> Result<T, std::num::ParseIntError>;

fn parse_unsigned_int<T>(scalar: &str, from_str_radix: Radix<T>) -> Option<T> {
    let unpositive = scalar.strip_prefix('+').unwrap_or(scalar);
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = unpositive.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return None;
            }
            if let Ok(int) = from_str_radix(rest, radix) {
                return Some(int);
            }
        }
    }
    if unpositive.starts_with(['+', '-']) {
        return None;
    }
    if digits_but_not_number(scalar) {
        return None;
    }
    from_str_radix(unpositive, 10).ok()
}

fn parse_negative_int<T>(scalar: &str, from_str_radix: Radix<T>) -> Option<T> {
    for (prefix, radix) in [("-0x", 16), ("-0o", 8), ("-0b", 2)] {
        if let Some(rest) = scalar.strip_prefix(prefix) {
            if let Ok(int) = from_str_radix(&format!("-{rest}"), radix) {
                return Some(int);
            }
        }
    }
    if digits_but_not_number(scalar) {
        return None;
    }
    from_str_radix(scalar, 10).ok()
}

fn parse_f64(scalar: &str) -> Option<f64> {
    let unpositive = if let Some(unpositive) = scalar.strip_prefix('+') {
        if unpositive.starts_with(['+', '-']) {
            return None;
        }
        unpositive
    } else {
        scalar
    };
    if let ".inf" | ".Inf" | ".INF" = unpositive {
        return Some(f64::INFINITY);
    }
    if let "-.inf" | "-.Inf" | "-.INF" = scalar {
        return Some(f64::NEG_INFINITY);
    }
    if let ".nan" | ".NaN" | ".NAN" = scalar {
        return Some(f64::NAN.copysign(1.0));
    }
    if let Ok(float) = unpositive.parse::<f64>() {
        if float.is_finite() {
            return Some(float);
        }
    }
    None
}

fn digits_but_not_number(scalar: &str) -> bool {
    // Leading zero(s) followed by numeric characters is a string according to the YAML 1.2 spec.
    let scalar = scalar.strip_prefix(['-', '+']).unwrap_or(scalar);
    scalar.len() > 1 && scalar.starts_with('0') && scalar[1..].bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use crate::input::yaml_readers;

    /// The fast reader's answer must be serde_yaml's whenever it gives one.
    fn agrees(text: &str) -> bool {
        let (fast, reference) = yaml_readers(text);
        match (fast, reference) {
            (None, _) => false,
            (Some(fast), Ok(reference)) => {
                assert_eq!(fast, reference, "fast reader differs on:\n{text}");
                true
            }
            (Some(fast), Err(e)) => {
                panic!("fast reader read {fast} where serde_yaml says {e}:\n{text}")
            }
        }
    }

    #[test]
    fn manifests_are_read_fast_and_as_serde_yaml_reads_them() {
        let cases = [
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web # trailing\n  labels: {app: web, tier: \"front\"}\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n        - name: app\n          image: nginx:1.25\n          ports: [{containerPort: 8080}, {containerPort: 9090, protocol: UDP}]\n          args:\n          - --port=8080\n          - -v\n          resources: {limits: {cpu: 100m, memory: 64Mi}}\n",
            "# comment\n\nkind: ConfigMap\ndata:\n  script: |\n    #!/bin/sh\n    echo hi\n\n      indented\n  stripped: |-\n    a\n    b\n\n  folded: >\n    one\n    two\n\n    three\n  folded_strip: >-\n    x\n    y\nnext: 1\n",
            "a: 'it''s'\nb: \"tab\\tand \\u00e9 \\x41 \\\"q\\\" \\\\ \\/\"\nc: ''\nd: \"\"\n'e': 1\n\"f g\": 2\n",
            "numbers: [0, 1, -1, +5, 0x1F, 0o17, 0b101, -0x10, 1.5, 1e3, .5, -0, 01, 00, 1_000, 0., 1.0]\nwords: [null, ~, Null, true, False, TRUE, yes, no, on, inf, NaN, Infinity, .inf2]\n",
            "- a\n- - b\n  - c\n-\n  - d\n- e: 1\n  f:\n  - g\n  h:\n    i: j\n-\n- \"k\"\n- [l]\n- {m: n}\n- |\n  block\n- -1\n",
            "key:\n- x\n- y\nother:\nlast: ~\n",
            "url: http://example.com/a#frag\nratio: 1:2\nhash: a#b\nemoji: café ☕\nempty_flow: {}\nempty_seq: []\nnested: [[1, 2], [], {a: [b, {c: d}]}]\n",
            "- name: x\n  value: 'y'   # c\n-   name: z\n    value: w\n",
        ];
        for text in cases {
            assert!(
                agrees(text),
                "the fast reader left this to serde_yaml:\n{text}"
            );
        }
    }

    #[test]
    fn anything_uncertain_is_left_to_serde_yaml() {
        let cases: [&str; 25] = [
            "a: &x 1\nb: *x\n",          // anchors and aliases
            "a: !!str 1\n",              // tags
            "a: b\n  c\n",               // multi-line plain scalar
            "a: \"b\n  c\"\n",           // multi-line quoted scalar
            "a: [b,\n  c]\n",            // multi-line flow
            "a: |+\n  keep\n\n",         // keep chomping
            "a: |2\n   x\n",             // indentation indicator
            "? a\n: b\n",                // complex key
            "a:\tb\n",                   // tab
            "a: 1\na: 2\n",              // duplicate key (serde_yaml refuses it)
            "1: a\n",                    // non-string key (stringified by to_json)
            "a: 18446744073709551616\n", // 128-bit integer
            "a: .inf\n",                 // not a JSON number
            "a: b: c\n",                 // an error
            "a:\n  - b\n c: d\n",        // bad indentation
            "a: {b: 1, b: 2}\n",         // duplicate flow key
            "a: [b, ]\n",                // trailing comma
            "a: {b:c}\n",                // `:` inside a flow plain scalar
            "a: x\r\n",                  // CRLF
            "a: \"\\N\"\n",              // rare escape
            "%YAML 1.2\n---\na: 1\n",    // directive
            "a: |\n\n  leading blank\n", // leading blank line in a block scalar
            "plain scalar document\n",
            &format!("{}: 1\n", "k".repeat(1100)), // over libyaml's implicit-key limit
            &format!("'{}': 1\n", "k".repeat(1100)), // the same, quoted
        ];
        for text in cases {
            assert!(!agrees(text), "the fast reader answered for:\n{text}");
        }
    }

    /// Corner cases of the constructs the fast reader accepts: where it answers, it agrees.
    #[test]
    fn corner_cases_agree_where_read_fast() {
        let cases = [
            "a:    # comment\n  b: 1\n",
            "- # c\n  a: 1\n",
            "a: |\n  x\n # c\nb: 1\n",
            "a: >\n  x\n  y\n\n\n  z\nb: 1\n",
            "a:\n- b\n-\n- c\n",
            "a: 'x'  \n",
            "a: [1, 2]  # c\n",
            "a: b\n\n\n",
            "a:\n  - b\n  -\n    c: d\n",
            "  a: 1\n  b: 2\n",
            "a: --x\n",
            "a: 1.\n",
            "a: 0x_1\n",
            "a: +.5\n",
            "a   : 1\n",
            "ключ: значение\n",
            "a: |\n  x  \n",
            "a: |\n  x\n  \n  y\n",
            "a: |-\n  x\n\n",
            "a: >-\n  x\n  y\n",
            "- a: |\n    x\n  b: 1\n",
            "- |\n  x\n- y\n",
            "a: ['x, y', \"z]\"]\n",
            "a: [ ]\nb: { }\n",
            "a: [a , b]\nc: [a,b]\n",
            "a: [-1, -x]\n",
            "a: [~, null, true]\n",
            "a: {x: [1, {y: z}], w: 'v'}\n",
            "app.kubernetes.io/name: x\n",
            "a: 12:30\n",
            "a: 1e400\n",
            "a: -0.0\n",
            "a: 0o\n",
            "a: 9223372036854775808\nb: -9223372036854775808\n",
            "a: \"\\0\\ \\t\"\n",
            "a: '\\n'\n",
            "a: \"\\x00\"\n",
            "a: \"\\ud800\"\n",
            "a:\n    - b\n    - c\nd: e\n",
            "a:\n  b:\n    c:\n      d: [e]\n",
            "- - - a\n    - b\n  - c\n- d\n",
            "a: >\n  folded\n  more\n\n  para\n",
            "a: |\n  last line without break",
            "\"a b\": 'c d'\n'e''f': \"g\\\"h\"\n",
            "a: b # c # d\n",
            "a: b#c\n",
            "a: 'b' # c\n",
            "a: [b] # c\n",
            "a: {b: [c, d], e: {f: g}} # h\n",
        ];
        let mut fast = 0;
        for text in cases {
            if agrees(text) {
                fast += 1;
            }
        }
        assert!(
            fast >= 40,
            "only {fast} of {} corner cases read fast",
            cases.len()
        );
    }

    /// Every YAML document shipped in the repository reads the same both ways, and most are
    /// read fast (so the fast path is the one exercised).
    #[test]
    fn every_yaml_file_in_the_repository_reads_the_same() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let (mut docs, mut fast) = (0, 0);
        let dirs = [
            "testdata",
            "admission",
            "charts",
            "fuzz",
            "tests",
            "third_party/regorus/tests",
        ];
        for dir in dirs {
            for entry in walkdir::WalkDir::new(root.join(dir)).into_iter().flatten() {
                let path = entry.path();
                let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
                if !matches!(ext, "yaml" | "yml") {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(path) else {
                    continue;
                };
                for doc in text.split("\n---") {
                    docs += 1;
                    if agrees(doc) {
                        fast += 1;
                    }
                }
            }
        }
        assert!(docs > 400, "{docs} documents found");
        eprintln!("{fast} of {docs} documents read fast");
        assert!(
            fast * 10 >= docs * 7,
            "only {fast} of {docs} documents were read fast"
        );
    }

    /// Generated documents in every style, then mutated one character at a time: wherever the
    /// fast reader answers, serde_yaml must accept the text and give the same value.
    #[test]
    fn generated_and_mutated_documents_read_the_same() {
        let mut rng = Lcg(0x5eed);
        let (mut total, mut fast) = (0, 0);
        for round in 0..6000 {
            let mut text = String::new();
            emit(&mut rng, &mut text, 0, 0, round % 2 == 0);
            total += 1;
            if agrees(&text) {
                fast += 1;
            }
            for _ in 0..4 {
                let mutated = mutate(&mut rng, &text);
                agrees(&mutated);
            }
        }
        // Most generated documents hold at least one construct left to serde_yaml on purpose.
        assert!(
            fast * 10 >= total,
            "only {fast} of {total} generated documents were read fast"
        );
    }

    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) as usize) % n
        }
        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }
    }

    const SCALARS: &[&str] = &[
        "a",
        "app-1",
        "null",
        "~",
        "Null",
        "true",
        "False",
        "yes",
        "0",
        "01",
        "0x1F",
        "0o17",
        "0b101",
        "-0x1",
        "+5",
        "-5",
        "1.5",
        "1e3",
        ".5",
        "-.inf",
        ".nan",
        "18446744073709551616",
        "-9223372036854775809",
        "1_000",
        "1:2",
        "a:b",
        "http://x/y?q=1",
        "a#b",
        "a b",
        "-a",
        "-1",
        "'quoted'",
        "'it''s'",
        "\"dq\\n\"",
        "\"\\u00e9\"",
        "\"a\\x41\"",
        "é",
        "100m",
        "64Mi",
        "[]",
        "{}",
        "[a, 1, null]",
        "{a: 1, b: [x, 'y']}",
        "00",
        "0.",
        "0e0",
        "+.inf",
        "1.0",
        "-0",
        "+0",
        "0x",
        "inf",
        "NaN",
        "1__0",
        "\"\"",
        "''",
        "a,b",
        "[a, [b, {c: d}]]",
        "{a: {}}",
        "@x",
        "`x`",
        "%x",
        "&a x",
        "*a",
        "!t x",
        "? x",
        "a: b",
    ];
    const KEYS: &[&str] = &[
        "a", "b", "name", "b c", "\"q\"", "'s'", "1", "true", "a.b/c", "<<", "x-y", "null", "~",
    ];

    fn emit(rng: &mut Lcg, out: &mut String, indent: usize, depth: usize, compact: bool) {
        let pad = " ".repeat(indent);
        let entries = 1 + rng.below(4);
        let sequence = rng.below(3) == 0;
        for _ in 0..entries {
            out.push_str(&pad);
            if sequence {
                out.push_str("- ");
            } else {
                out.push_str(rng.pick(KEYS));
                out.push(':');
            }
            match rng.below(if depth < 3 { 6 } else { 3 }) {
                0 | 1 => {
                    if !sequence {
                        out.push(' ');
                    }
                    out.push_str(rng.pick(SCALARS));
                    if rng.below(5) == 0 {
                        out.push_str(" # note");
                    }
                    out.push('\n');
                }
                2 => {
                    if !sequence {
                        out.push(' ');
                    }
                    out.push_str(rng.pick(&["|", "|-", ">", ">-"]));
                    out.push('\n');
                    for _ in 0..1 + rng.below(3) {
                        out.push_str(&pad);
                        out.push_str(rng.pick(&[
                            "  text",
                            "  more text",
                            "    deeper",
                            "",
                            "  # x",
                        ]));
                        out.push('\n');
                    }
                }
                _ => {
                    out.push('\n');
                    let child = if compact && !sequence && rng.below(2) == 0 {
                        indent
                    } else {
                        indent + 2 + 2 * rng.below(2)
                    };
                    if child == indent {
                        // `key:` then `- item` at the key's column.
                        out.push_str(&pad);
                        out.push_str("- ");
                        out.push_str(rng.pick(SCALARS));
                        out.push('\n');
                    } else {
                        emit(rng, out, child, depth + 1, compact);
                    }
                }
            }
        }
    }

    fn mutate(rng: &mut Lcg, text: &str) -> String {
        let chars: Vec<char> = text.chars().collect();
        let at = rng.below(chars.len().max(1));
        let mut out: String = chars[..at].iter().collect();
        match rng.below(3) {
            0 => {}                                               // delete one character
            1 => out.push(chars.get(at).copied().unwrap_or(' ')), // duplicate it
            _ => out.push(
                rng.pick(&[
                    " ", ":", "-", "#", "\n", "'", "\"", "[", "]", "{", "}", "|", ">", ",", "\\",
                    "0", ".",
                ])
                .chars()
                .next()
                .unwrap_or(' '),
            ),
        }
        if at < chars.len() {
            out.extend(&chars[at + 1..]);
        }
        out
    }
}
