//! XML in the shape conftest's converter gives it: `{"root": {...}}`, attributes as `-name`,
//! text beside attributes or children as `#content`, repeated children as lists, text-only
//! elements as strings.

use super::ParseError;
use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::{Map, Value as Json};

/// Nesting bound: a hostile document must not exhaust the stack when we later drop or convert it.
const MAX_DEPTH: usize = 256;

struct Element {
    name: String,
    fields: Map<String, Json>,
    text: String,
}

impl Element {
    fn into_json(self) -> Json {
        let text = self.text.trim().to_string();
        if self.fields.is_empty() {
            return Json::String(text);
        }
        let mut fields = self.fields;
        if !text.is_empty() {
            fields.insert("#content".into(), Json::String(text));
        }
        Json::Object(fields)
    }
}

fn add_child(fields: &mut Map<String, Json>, name: String, value: Json) {
    match fields.get_mut(&name) {
        Some(Json::Array(list)) => list.push(value),
        Some(existing) => {
            let prev = existing.take();
            *existing = Json::Array(vec![prev, value]);
        }
        None => {
            fields.insert(name, value);
        }
    }
}

fn line_of(text: &str, pos: u64) -> usize {
    let pos = (pos as usize).min(text.len());
    text[..pos].matches('\n').count() + 1
}

pub(super) fn parse(text: &str) -> Result<Json, ParseError> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Map<String, Json> = Map::new();
    let err = |reader: &Reader<&[u8]>, msg: String| {
        ParseError::new(
            line_of(text, reader.buffer_position()),
            format!("invalid XML: {msg}"),
        )
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| err(&reader, e.to_string()))?;
        let is_empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(start) | Event::Empty(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(
                        &reader,
                        format!("nested deeper than {MAX_DEPTH} elements"),
                    ));
                }
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                let mut fields = Map::new();
                for attr in start.attributes() {
                    let attr = attr.map_err(|e| err(&reader, e.to_string()))?;
                    let key = format!("-{}", String::from_utf8_lossy(attr.key.as_ref()));
                    let value = attr
                        .unescape_value()
                        .map_err(|e| err(&reader, e.to_string()))?;
                    fields.insert(key, Json::String(value.into_owned()));
                }
                let element = Element {
                    name,
                    fields,
                    text: String::new(),
                };
                if is_empty {
                    close(element, &mut stack, &mut root);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| err(&reader, "closing tag without opening tag".into()))?;
                close(element, &mut stack, &mut root);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let s = t.unescape().map_err(|e| err(&reader, e.to_string()))?;
                    top.text.push_str(&s);
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(ParseError::new(
            line_of(text, reader.buffer_position()),
            format!("invalid XML: element <{}> is never closed", open.name),
        ));
    }
    if root.is_empty() {
        return Err(ParseError::new(1, "invalid XML: no root element"));
    }
    Ok(Json::Object(root))
}

fn close(element: Element, stack: &mut [Element], root: &mut Map<String, Json>) {
    let name = element.name.clone();
    let value = element.into_json();
    match stack.last_mut() {
        Some(parent) => add_child(&mut parent.fields, name, value),
        None => add_child(root, name, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        let v = parse("<project version=\"1\"><dep>a</dep><dep>b</dep><name>x</name></project>")
            .unwrap();
        assert_eq!(v["project"]["-version"], "1");
        assert_eq!(v["project"]["dep"], serde_json::json!(["a", "b"]));
        assert_eq!(v["project"]["name"], "x");
    }

    #[test]
    fn unclosed_is_an_error() {
        assert!(parse("<a>\n<b>\n").is_err());
        assert!(parse(&"<a>".repeat(1000))
            .unwrap_err()
            .message
            .contains("deeper"));
    }
}
