//! Newline-delimited JSON-RPC on stdio: reading bounded lines, refusing anything that is not
//! one strict JSON object (duplicate keys included: parsers disagree on them), and reading the
//! envelope of a message without building a tree of its contents.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Read};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// The longest message either side may send (one line, newline excluded).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// One read from a stream.
pub(crate) enum Line {
    /// A line is in the buffer (with its newline, unless the stream ended without one).
    Message,
    TooLarge,
    Eof,
}

/// Reads lines of at most `max` bytes into a reused buffer.
pub(crate) struct LineReader<R> {
    inner: BufReader<R>,
    max: usize,
}

impl<R: Read> LineReader<R> {
    pub(crate) fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner: BufReader::with_capacity(64 * 1024, inner),
            max,
        }
    }

    pub(crate) fn read(&mut self, buffer: &mut Vec<u8>) -> io::Result<Line> {
        buffer.clear();
        // One byte past the limit (plus the newline) tells "too large" from "exactly max".
        let read = (&mut self.inner)
            .take(self.max as u64 + 2)
            .read_until(b'\n', buffer)?;
        let body = buffer.strip_suffix(b"\n").unwrap_or(buffer);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        Ok(match read {
            0 => Line::Eof,
            _ if body.len() > self.max => Line::TooLarge,
            _ => Line::Message,
        })
    }
}

/// Why a line is not a message.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    #[error("not JSON: {0}")]
    Json(serde_json::Error),
    #[error("a JSON-RPC batch (arrays are not supported through the guard)")]
    Batch,
    #[error("not a JSON object")]
    NotObject,
}

/// Checks that `line` is exactly one JSON object with no duplicate keys at any depth.
pub(crate) fn check(line: &[u8]) -> Result<(), WireError> {
    match line.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(b'[') => {
            serde_json::from_slice::<Strict>(line).map_err(WireError::Json)?;
            return Err(WireError::Batch);
        }
        _ => {
            serde_json::from_slice::<Strict>(line).map_err(WireError::Json)?;
            return Err(WireError::NotObject);
        }
    }
    serde_json::from_slice::<Strict>(line)
        .map(drop)
        .map_err(WireError::Json)
}

/// Parses an already checked object (or part of one) into a value.
pub(crate) fn value(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).expect("checked JSON parses")
}

/// A JSON value walked for its syntax and for duplicate keys, keeping nothing.
struct Strict;

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_str<E>(self, _: &str) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        while seq.next_element::<Strict>()?.is_some() {}
        Ok(Strict)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut keys: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if keys.contains(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            map.next_value::<Strict>()?;
            keys.insert(key);
        }
        Ok(Strict)
    }
}

/// An object key, borrowed from the input unless it has escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(key))
            }
            fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(key.to_owned()))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The parts of a JSON-RPC message the guard routes on; the rest stays unparsed.
#[derive(Deserialize)]
pub(crate) struct Envelope<'a> {
    #[serde(default, borrow)]
    pub id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub method: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub params: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub result: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub error: Option<&'a RawValue>,
}

impl<'a> Envelope<'a> {
    /// Reads the envelope of a [`check`]ed line.
    pub(crate) fn parse(line: &'a [u8]) -> Result<Self, WireError> {
        serde_json::from_slice(line).map_err(WireError::Json)
    }

    /// The request id in canonical form, if this message has a string or integer one.
    pub(crate) fn request_id(&self) -> Option<Result<RequestId, ()>> {
        self.id.map(RequestId::from_raw)
    }
}

/// A JSON-RPC id (a string or an integer), in canonical JSON text so that the same id
/// written two ways is one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RequestId(String);

impl RequestId {
    pub(crate) fn from_raw(raw: &RawValue) -> Result<RequestId, ()> {
        match serde_json::from_str::<Value>(raw.get()) {
            Ok(id @ Value::String(_)) => Ok(RequestId(id.to_string())),
            Ok(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(RequestId(n.to_string())),
            _ => Err(()),
        }
    }

    pub(crate) fn from_value(value: &Value) -> Option<RequestId> {
        match value {
            Value::String(_) => Some(RequestId(value.to_string())),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(RequestId(n.to_string())),
            _ => None,
        }
    }

    /// A guard-made id (a string).
    pub(crate) fn guard(text: &str) -> RequestId {
        RequestId(Value::String(text.to_owned()).to_string())
    }

    /// The id as a JSON value, to answer with.
    pub(crate) fn to_value(&self) -> Value {
        serde_json::from_str(&self.0).expect("ids are JSON")
    }

    /// The string inside a string id.
    pub(crate) fn as_str(&self) -> Option<String> {
        match self.to_value() {
            Value::String(text) => Some(text),
            _ => None,
        }
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One newline-terminated line holding `message`.
pub(crate) fn line(message: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(message).expect("JSON values serialize");
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(check(br#"{"a":1,"b":{"c":[{"d":1}]}}"#).is_ok());
        for bad in [
            &br#"{"id":1,"id":2}"#[..],
            br#"{"params":{"arguments":{"path":"a","path":"b"}}}"#,
            br#"{"x":[{"k":1,"k":1}]}"#,
            // The same key written with an escape is still the same key.
            br#"{"id":1,"\u0069d":2}"#,
        ] {
            let error = check(bad).unwrap_err();
            assert!(error.to_string().contains("duplicate key"), "{error}");
        }
    }

    #[test]
    fn batches_non_objects_and_garbage_are_refused() {
        assert!(matches!(check(b"[{\"id\":1}]"), Err(WireError::Batch)));
        assert!(matches!(check(b"42"), Err(WireError::NotObject)));
        assert!(matches!(check(b"{\"a\":"), Err(WireError::Json(_))));
        assert!(matches!(check(b"{} {}"), Err(WireError::Json(_))));
        assert!(matches!(check(b"hello"), Err(WireError::Json(_))));
    }

    #[test]
    fn ids_compare_in_canonical_form() {
        let raw = |text: &str| RawValue::from_string(text.to_owned()).unwrap();
        assert_eq!(
            RequestId::from_raw(&raw("\"a\\u0062\"")),
            RequestId::from_raw(&raw("\"ab\""))
        );
        assert_eq!(
            RequestId::from_raw(&raw("7")).unwrap(),
            RequestId::from_value(&serde_json::json!(7)).unwrap()
        );
        assert!(RequestId::from_raw(&raw("1.5")).is_err());
        assert!(RequestId::from_raw(&raw("{}")).is_err());
        assert!(RequestId::from_raw(&raw("null")).is_err());
    }

    #[test]
    fn lines_over_the_limit_are_reported_not_buffered_whole() {
        let input = format!("{}\n{}\n{}", "a".repeat(10), "b".repeat(11), "c".repeat(3));
        let mut reader = LineReader::new(input.as_bytes(), 10);
        let mut buffer = Vec::new();
        assert!(matches!(reader.read(&mut buffer).unwrap(), Line::Message));
        assert_eq!(buffer, format!("{}\n", "a".repeat(10)).as_bytes());
        assert!(matches!(reader.read(&mut buffer).unwrap(), Line::TooLarge));
        assert!(buffer.len() <= 12);
    }
}
