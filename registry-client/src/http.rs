//! One blocking HTTP client for every registry: rustls (aws-lc-rs) with the
//! platform's roots plus `SSL_CERT_FILE`, proxies from the environment
//! (`HTTPS_PROXY`, `NO_PROXY`), timeouts, and retries with backoff on
//! connection errors and 5xx answers. Offline mode refuses every request.
//! Plain HTTP is refused except on loopback, for every request and every redirect.

use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use url::Url;

use crate::Error;
use crate::redact::{redact, registry_name};

/// How the client talks to the network.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Never touch the network.
    pub offline: bool,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// How long a response may go without a byte arriving.
    pub read_timeout: Duration,
    /// Retries after the first attempt on connection errors and 5xx.
    pub retries: u32,
    /// Extra trusted roots (PEM bundle), in addition to the platform's. Defaults
    /// to `SSL_CERT_FILE` when set.
    pub extra_roots: Option<PathBuf>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            offline: false,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            retries: 3,
            extra_roots: std::env::var_os("SSL_CERT_FILE")
                .filter(|value| !value.is_empty())
                .map(PathBuf::from),
        }
    }
}

pub(crate) struct Http {
    /// Not built in offline mode: loading TLS roots is the slowest part of a warm launch.
    client: Option<Client>,
    settings: HttpSettings,
}

fn load_roots(path: &Path) -> Result<Vec<reqwest::Certificate>, Error> {
    let pem = fs_err::read(path).map_err(|error| Error::Config {
        path: path.to_owned(),
        reason: error.to_string(),
    })?;
    reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| Error::Config {
        path: path.to_owned(),
        reason: format!("not a PEM certificate bundle: {}", error.without_url()),
    })
}

impl Http {
    pub(crate) fn new(settings: HttpSettings) -> Result<Http, Error> {
        if settings.offline {
            return Ok(Http {
                client: None,
                settings,
            });
        }
        // The blocking client's timeout bounds the wait for the response head and
        // then each read of the body (the deadline restarts per read): a large
        // download may take long, a stalled one fails after `read_timeout`.
        let mut builder = Client::builder()
            .user_agent(concat!("mcpin/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.read_timeout)
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    attempt.error("too many redirects")
                } else if let Err(error) = require_secure(attempt.url()) {
                    attempt.error(error.to_string())
                } else {
                    attempt.follow()
                }
            }))
            .pool_max_idle_per_host(4);
        if let Some(path) = &settings.extra_roots {
            builder = builder.tls_certs_merge(load_roots(path)?);
        }
        let client = builder.build().map_err(|error| Error::Config {
            path: PathBuf::from("<http client>"),
            reason: error.without_url().to_string(),
        })?;
        Ok(Http {
            client: Some(client),
            settings,
        })
    }

    pub(crate) fn offline(&self) -> bool {
        self.settings.offline
    }

    /// Sends the request `build` makes, retrying connection errors and 5xx
    /// with exponential backoff. Any other status is returned to the caller.
    pub(crate) fn send(
        &self,
        url: &Url,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, Error> {
        if self.settings.offline {
            return Err(Error::Offline {
                what: format!("a request to {}", redact(url)),
                store: PathBuf::from("(offline mode never touches the network)"),
            });
        }
        require_secure(url)?;
        let mut attempt = 0;
        loop {
            let client = self.client.as_ref().expect("an online Http has a client");
            let result = build(client).send();
            let retryable = match &result {
                Ok(response) => response.status().is_server_error(),
                Err(error) => error.is_connect() || error.is_timeout() || error.is_request(),
            };
            if !retryable || attempt >= self.settings.retries {
                return result.map_err(|source| Error::Network {
                    registry: registry_name(url),
                    url: redact(url),
                    source: source.without_url(),
                });
            }
            sleep(backoff(attempt));
            attempt += 1;
        }
    }

    /// `send`, then map 401/403, 404 and other failures onto typed errors.
    pub(crate) fn get_ok(
        &self,
        url: &Url,
        what: &str,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, Error> {
        let response = self.send(url, build)?;
        check_status(response, url, what)
    }
}

/// Redirects followed before a request fails (reqwest's default).
const MAX_REDIRECTS: usize = 10;

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The wait before retry `attempt` (0-based): 200 ms, doubling, at most [`MAX_BACKOFF`],
/// whatever `--retries` asks for.
fn backoff(attempt: u32) -> Duration {
    1u64.checked_shl(attempt)
        .and_then(|factor| factor.checked_mul(200))
        .map_or(MAX_BACKOFF, Duration::from_millis)
        .min(MAX_BACKOFF)
}

/// Whether `url`'s host is this machine: `localhost`, 127.0.0.0/8 or `::1`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Refuses anything but `https://`, or `http://` to a loopback host (a local mirror), so
/// neither credentials nor metadata cross the network in the clear.
pub fn require_secure(url: &Url) -> Result<(), Error> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        _ => Err(Error::Insecure { url: redact(url) }),
    }
}

/// Maps a non-success status onto the matching error.
pub(crate) fn check_status(response: Response, url: &Url, what: &str) -> Result<Response, Error> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let registry = registry_name(url);
    let shown = redact(url);
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::Auth {
            registry,
            url: shown,
            status: status.as_u16(),
        },
        StatusCode::NOT_FOUND => Error::NotFound {
            registry,
            what: what.to_owned(),
            url: shown,
        },
        _ => Error::Http {
            registry,
            url: shown,
            status: status.as_u16(),
        },
    })
}

/// Reads a metadata body, refusing anything larger than `limit` bytes.
pub(crate) fn read_limited(response: Response, url: &Url, limit: u64) -> Result<Vec<u8>, Error> {
    read_limited_from(response, url, limit)
}

/// Reads `reader` (a response body, perhaps behind a progress bar), refusing anything larger
/// than `limit` bytes.
pub(crate) fn read_limited_from(
    reader: impl std::io::Read,
    url: &Url,
    limit: u64,
) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let mut body = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut body)
        .map_err(|error| Error::Metadata {
            url: redact(url),
            reason: format!("reading the body: {error}"),
        })?;
    if body.len() as u64 > limit {
        return Err(Error::Metadata {
            url: redact(url),
            reason: format!("larger than {limit} bytes"),
        });
    }
    Ok(body)
}

/// Parses a JSON metadata body.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    url: &Url,
) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|error| Error::Metadata {
        url: redact(url),
        reason: error.to_string(),
    })
}

/// Splits user-info credentials off `url`: the URL to request and (user, password).
pub(crate) fn split_credentials(url: &Url) -> (Url, Option<(String, Option<String>)>) {
    if url.username().is_empty() && url.password().is_none() {
        return (url.clone(), None);
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let credentials = (decode(url.username()), url.password().map(decode));
    let mut bare = url.clone();
    let _ = bare.set_username("");
    let _ = bare.set_password(None);
    (bare, Some(credentials))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped_for_any_retry_count() {
        assert_eq!(backoff(0), Duration::from_millis(200));
        assert_eq!(backoff(3), Duration::from_millis(1600));
        // `200 << attempt` overflowed (and panicked) for large --retries.
        for attempt in [8, 63, 64, 1000, u32::MAX] {
            assert_eq!(backoff(attempt), MAX_BACKOFF, "attempt {attempt}");
        }
    }

    #[test]
    fn plain_http_is_refused_except_on_loopback() {
        for ok in [
            "https://registry.npmjs.org/",
            "http://127.0.0.1:4873/",
            "http://127.1.2.3/",
            "http://localhost:8080/x",
            "http://[::1]:5000/v2/",
        ] {
            assert!(require_secure(&Url::parse(ok).unwrap()).is_ok(), "{ok}");
        }
        for refused in [
            "http://registry.example/",
            "http://10.0.0.1/",
            "http://localhost.attacker.example/",
            "ftp://127.0.0.1/",
            "data:x",
        ] {
            assert!(
                matches!(
                    require_secure(&Url::parse(refused).unwrap()),
                    Err(Error::Insecure { .. })
                ),
                "{refused}"
            );
        }
    }
}
