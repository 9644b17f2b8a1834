//! A JSON tree that keeps every key of an object in order, repeated keys
//! included, so that a repeated key is reported instead of silently keeping
//! the last one (what `serde_json::Value` does). Parsing is serde_json's, with
//! its nesting limit of 128, so no input can recurse without bound.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

use crate::foreign::{Object, parse_flag, parse_number};
use crate::problems::{Problems, path_key};
use crate::text::shown;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// What the value is, for messages: "a string", "an object", …
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    /// The value as `serde_json::Value` (for serde-derived documents).
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Json::Null => serde_json::Value::Null,
            Json::Bool(b) => serde_json::Value::Bool(*b),
            Json::Number(n) => serde_json::Value::Number(n.clone()),
            Json::String(s) => serde_json::Value::String(s.clone()),
            Json::Array(a) => serde_json::Value::Array(a.iter().map(Json::to_value).collect()),
            Json::Object(o) => serde_json::Value::Object(
                o.iter().map(|(k, v)| (k.clone(), v.to_value())).collect(),
            ),
        }
    }
}

/// Parses JSON text; a syntax error is reported with its line and column and
/// ends the import (nothing after it can be read). Repeated keys are reported
/// too, but the tree is still returned so the rest can be checked.
pub(crate) fn parse(text: &str, problems: &mut Problems) -> Option<Json> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match serde_json::from_str::<Json>(text) {
        Ok(tree) => {
            report_repeated_keys(&tree, problems);
            Some(tree)
        }
        Err(e) => {
            let message = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let message = message.strip_suffix(&suffix).unwrap_or(&message);
            problems.push_syntax(format!("line {}, column {}", e.line(), e.column()), message);
            None
        }
    }
}

/// Walks the tree; a path is only written out for a repeated key (a wide or
/// deep input with long keys must not cost a path per value).
fn report_repeated_keys(tree: &Json, problems: &mut Problems) {
    /// One step from the root to the value being walked.
    enum PathSegment<'a> {
        Key(&'a str),
        Index(usize),
    }
    fn walk<'a>(tree: &'a Json, path: &mut Vec<PathSegment<'a>>, problems: &mut Problems) {
        match tree {
            Json::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(PathSegment::Index(i));
                    walk(item, path, problems);
                    path.pop();
                }
            }
            Json::Object(fields) => {
                let mut seen = HashSet::with_capacity(fields.len());
                for (key, value) in fields {
                    path.push(PathSegment::Key(key));
                    if !seen.insert(key.as_str()) {
                        let mut at = String::new();
                        for segment in path.iter() {
                            match segment {
                                PathSegment::Key(k) => at = join(&at, k),
                                PathSegment::Index(i) => at.push_str(&format!("[{i}]")),
                            }
                        }
                        problems.push(
                            at,
                            format!("key {} appears more than once in this object", shown(key)),
                        );
                    }
                    walk(value, path, problems);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    walk(tree, &mut Vec::new(), problems);
}

/// `path` + `.key` (or `key` at the root); a long key is cut (see [`path_key`]).
pub(crate) fn join(path: &str, key: &str) -> String {
    let key = path_key(key);
    if path.is_empty() {
        key.into_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Typed access to an object's fields, reporting wrong types with their path.
pub(crate) struct Fields<'a> {
    pub path: String,
    fields: &'a [(String, Json)],
}

impl<'a> Fields<'a> {
    /// `value` as an object, or a problem at `path`.
    pub fn of(value: &'a Json, path: &str, problems: &mut Problems) -> Option<Fields<'a>> {
        match value {
            Json::Object(fields) => Some(Fields {
                path: path.to_owned(),
                fields,
            }),
            other => {
                problems.push(
                    display_path(path),
                    format!("expected an object, found {}", other.kind()),
                );
                None
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&'a Json> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// A required string field.
    pub fn string(&self, key: &str, problems: &mut Problems) -> Option<&'a str> {
        match self.get(key) {
            None => {
                problems.missing(self.path_of(key));
                None
            }
            Some(v) => self.as_string(key, v, problems),
        }
    }

    /// An optional string field.
    pub fn opt_string(&self, key: &str, problems: &mut Problems) -> Option<&'a str> {
        self.get(key).and_then(|v| self.as_string(key, v, problems))
    }

    fn as_string(&self, key: &str, v: &'a Json, problems: &mut Problems) -> Option<&'a str> {
        match v {
            Json::String(s) => Some(s),
            other => {
                problems.push(
                    self.path_of(key),
                    format!("expected a string, found {}", other.kind()),
                );
                None
            }
        }
    }

    /// An optional array field; a problem if present but not an array.
    pub fn opt_array(&self, key: &str, problems: &mut Problems) -> Option<&'a [Json]> {
        match self.get(key)? {
            Json::Array(items) => Some(items),
            other => {
                problems.push(
                    self.path_of(key),
                    format!("expected an array, found {}", other.kind()),
                );
                None
            }
        }
    }

    /// An optional number field, given as a JSON number or a string holding one
    /// (the emulators write both).
    pub fn opt_number(&self, key: &str, problems: &mut Problems) -> Option<f64> {
        let v = self.get(key)?;
        match number_of(v) {
            Ok(n) => Some(n),
            Err(message) => {
                problems.push(self.path_of(key), message);
                None
            }
        }
    }
}

impl Object for Fields<'_> {
    fn path_of(&self, key: &str) -> String {
        Fields::path_of(self, key)
    }
    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    fn text(&self, key: &str, problems: &mut Problems) -> Option<&str> {
        self.string(key, problems)
    }
    fn opt_number(&self, key: &str, problems: &mut Problems) -> Option<f64> {
        Fields::opt_number(self, key, problems)
    }
    fn object(&self, key: &str, problems: &mut Problems) -> Option<Self> {
        let value = self.get(key)?;
        Fields::of(value, &self.path_of(key), problems)
    }
}

/// A JSON number: an integer when the value is one (and exactly representable).
pub(crate) fn json_number(v: f64) -> Number {
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        Number::from(v as i64)
    } else {
        Number::from_f64(v).unwrap_or_else(|| Number::from(0))
    }
}

/// A path for messages: the root is `(root)`.
pub(crate) fn display_path(path: &str) -> String {
    if path.is_empty() {
        "(root)".to_owned()
    } else {
        path.to_owned()
    }
}

/// A JSON number, or a string holding a decimal number.
pub(crate) fn number_of(v: &Json) -> Result<f64, String> {
    match v {
        Json::Number(n) => n
            .as_f64()
            .ok_or_else(|| format!("{n} is not a usable number")),
        Json::String(s) => parse_number(s)
            .ok_or_else(|| format!("expected a number, found the string {}", shown(s))),
        other => Err(format!("expected a number, found {}", other.kind())),
    }
}

/// A flag written as `0`/`1`, `"0"`/`"1"`, `true`/`false` or `"true"`/`"false"`
/// (the emulators accept all of them).
pub(crate) fn flag_of(v: &Json) -> Result<bool, String> {
    match v {
        Json::Bool(b) => Ok(*b),
        Json::Number(n) if n.as_u64() == Some(0) => Ok(false),
        Json::Number(n) if n.as_u64() == Some(1) => Ok(true),
        Json::String(s) => {
            parse_flag(s).ok_or_else(|| format!("expected 0 or 1, found the string {}", shown(s)))
        }
        Json::Number(n) => Err(format!("expected 0 or 1, found {n}")),
        other => Err(format!("expected 0 or 1, found {}", other.kind())),
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        Number::from_f64(v)
            .map(Json::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut fields = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            fields.push((k, v));
        }
        Ok(Json::Object(fields))
    }
}
