//! Arguments for the audit record (`log-arguments = true`): values under secret-looking keys,
//! and strings that look like credentials, are replaced; long strings are cut; the whole is
//! capped.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Value, json};

const MAX_STRING_CHARS: usize = 256;
const MAX_RECORD_BYTES: usize = 4096;
const REDACTED: &str = "[redacted]";

static SECRET_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)pass(word|phrase)?|secret|token|api[_-]?key|auth|credential|private[_-]?key|cookie|session|signature")
        .expect("valid pattern")
});

static SECRET_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|sk-[A-Za-z0-9_-]{20,}|xox[abpr]-[A-Za-z0-9-]{10,}",
        r"|AKIA[0-9A-Z]{16}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*|-----BEGIN [A-Z ]*PRIVATE KEY-----.*)$"
    ))
    .expect("valid pattern")
});

/// The arguments as they may be written to the audit log.
pub(crate) fn for_audit(arguments: &Value) -> Value {
    let redacted = redact(arguments, false);
    let size = serde_json::to_vec(&redacted).map_or(0, |bytes| bytes.len());
    if size > MAX_RECORD_BYTES {
        return json!({"truncated": true, "size": size});
    }
    redacted
}

fn redact(value: &Value, secret_key: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), redact(value, SECRET_KEY.is_match(key))))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| redact(v, secret_key)).collect()),
        Value::String(text) if secret_key || SECRET_VALUE.is_match(text.trim()) => {
            Value::String(REDACTED.to_owned())
        }
        Value::String(text) if text.chars().count() > MAX_STRING_CHARS => {
            let cut: String = text.chars().take(MAX_STRING_CHARS).collect();
            Value::String(format!("{cut}…"))
        }
        other if secret_key && !other.is_null() => Value::String(REDACTED.to_owned()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_sizes_capped() {
        let logged = for_audit(&json!({
            "path": "/tmp/a",
            "apiKey": "abc",
            "headers": {"Authorization": "Bearer x", "accept": "json"},
            "note": "ghp_0123456789abcdefghijABCDEFGHIJ",
            "pin": 1234,
            "password": 42,
            "long": "x".repeat(1000),
        }));
        assert_eq!(logged["path"], "/tmp/a");
        assert_eq!(logged["apiKey"], REDACTED);
        assert_eq!(logged["headers"]["Authorization"], REDACTED);
        assert_eq!(logged["headers"]["accept"], "json");
        assert_eq!(logged["note"], REDACTED);
        assert_eq!(logged["pin"], 1234);
        assert_eq!(logged["password"], REDACTED);
        assert_eq!(logged["long"].as_str().unwrap().chars().count(), 257);
        let many: Vec<String> = (0..100)
            .map(|i| format!("item {i} {}", "y".repeat(100)))
            .collect();
        assert_eq!(for_audit(&json!({ "items": many }))["truncated"], true);
    }
}
