//! Key/value formats: INI (values typed as conftest does: number, then bool, else string),
//! dotenv and Java properties (all strings).

use super::ParseError;
use serde_json::{Map, Value as Json};

/// conftest's `convertType`: a float if it parses, then a bool, else the string.
fn typed(value: &str) -> Json {
    if let Ok(n) = value.parse::<f64>() {
        if let Some(num) = serde_json::Number::from_f64(n) {
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                return Json::Number((n as i64).into());
            }
            return Json::Number(num);
        }
    }
    match value {
        "true" | "TRUE" | "True" | "t" | "T" | "1" => Json::Bool(true),
        "false" | "FALSE" | "False" | "f" | "F" | "0" => Json::Bool(false),
        _ => Json::String(value.to_string()),
    }
}

pub(super) fn ini(text: &str) -> Result<Json, ParseError> {
    let conf = ini::Ini::load_from_str(text)
        .map_err(|e| ParseError::new(e.line, format!("invalid INI: {}", e.msg)))?;
    let mut out = Map::new();
    for (section, props) in conf.iter() {
        // Keys before the first section go under "DEFAULT" (conftest drops them; we keep them).
        let name = section.unwrap_or("DEFAULT");
        if section.is_none() && props.is_empty() {
            continue;
        }
        let entry = out
            .entry(name.to_string())
            .or_insert_with(|| Json::Object(Map::new()));
        if let Json::Object(m) = entry {
            for (k, v) in props.iter() {
                m.insert(k.to_string(), typed(v));
            }
        }
    }
    Ok(Json::Object(out))
}

pub(super) fn dotenv(text: &str) -> Result<Json, ParseError> {
    let mut out = Map::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok((k, v)) => {
                out.insert(k, Json::String(v));
            }
            Err(dotenvy::Error::LineParse(line, index)) => {
                let lineno = text.lines().position(|l| l == line).map_or(0, |i| i + 1);
                return Err(ParseError::new(
                    lineno,
                    format!("invalid dotenv line {line:?} at character {index}"),
                ));
            }
            Err(e) => return Err(ParseError::new(0, format!("invalid dotenv file: {e}"))),
        }
    }
    Ok(Json::Object(out))
}

pub(super) fn properties(text: &str) -> Result<Json, ParseError> {
    let map = java_properties::read(text.as_bytes()).map_err(|e| {
        ParseError::new(
            e.line_number().unwrap_or(0),
            format!("invalid properties: {e}"),
        )
    })?;
    let sorted: std::collections::BTreeMap<_, _> = map.into_iter().collect();
    Ok(Json::Object(
        sorted
            .into_iter()
            .map(|(k, v)| (k, Json::String(v)))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_values_are_typed() {
        let v = ini("top = 1\n[server]\nport = 8080\ndebug = true\nname = web\n").unwrap();
        assert_eq!(v["server"]["port"], 8080);
        assert_eq!(v["server"]["debug"], true);
        assert_eq!(v["server"]["name"], "web");
        assert_eq!(v["DEFAULT"]["top"], 1);
    }

    #[test]
    fn dotenv_and_properties() {
        let v = dotenv("# c\nA=1\nexport B=\"two words\"\n").unwrap();
        assert_eq!(v["B"], "two words");
        let p = properties("a.b=1\nc : two\n").unwrap();
        assert_eq!(p["a.b"], "1");
        assert_eq!(p["c"], "two");
    }
}
