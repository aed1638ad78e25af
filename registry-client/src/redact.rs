//! Registry URLs shown to people go through here: passwords, tokens in the
//! user-info part and query strings never reach a message.

use url::Url;

/// `url` with the password replaced by `****` and any query dropped.
pub fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("****"));
    }
    if shown.query().is_some() {
        shown.set_query(Some("REDACTED"));
    }
    shown.to_string()
}

/// The origin of `url` (scheme, host, port) for naming a registry in messages.
pub fn registry_name(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
        (Some(host), None) => format!("{}://{host}", url.scheme()),
        _ => redact(url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_password_and_query() {
        let url = Url::parse("https://user:secret@example.test/simple/?token=abc").unwrap();
        let shown = redact(&url);
        assert!(!shown.contains("secret"), "{shown}");
        assert!(!shown.contains("abc"), "{shown}");
        assert!(shown.contains("user:****@example.test"), "{shown}");
        assert_eq!(registry_name(&url), "https://example.test");
    }
}
