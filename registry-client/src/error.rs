use std::path::PathBuf;

/// Everything that can go wrong fetching an artifact. Messages name the registry
/// or URL (always redacted: no credentials) or the store path at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SPEC on the command line does not follow the grammar.
    #[error("invalid spec `{spec}`: {reason}")]
    Spec { spec: String, reason: String },

    /// The registry refused our credentials (HTTP 401 or 403).
    #[error(
        "authentication failed at registry {registry}: HTTP {status} for {url} \
         (configure credentials for this registry: npm `_authToken` in .npmrc, PyPI user:password@ in the index URL)"
    )]
    Auth {
        registry: String,
        url: String,
        status: u16,
    },

    /// The registry could not be reached (connection refused, DNS, TLS, timeout),
    /// after retries.
    #[error("network error talking to registry {registry} ({url}): {source}")]
    Network {
        registry: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },

    /// The registry answered with an unexpected HTTP status (after retries for 5xx).
    #[error("registry {registry} answered HTTP {status} for {url}")]
    Http {
        registry: String,
        url: String,
        status: u16,
    },

    /// The registry does not have the package, version or object.
    #[error("not found at registry {registry}: {what} ({url})")]
    NotFound {
        registry: String,
        what: String,
        url: String,
    },

    /// The registry's metadata is malformed or lacks what we need.
    #[error("malformed response from {url}: {reason}")]
    Metadata { url: String, reason: String },

    /// No published version satisfies the requested version, range or tag.
    #[error("no version of {name} matches `{requirement}` at registry {registry}")]
    NoMatchingVersion {
        registry: String,
        name: String,
        requirement: String,
    },

    /// The downloaded bytes do not hash to what the registry's metadata (or the
    /// pinned digest) promised. Nothing was stored.
    #[error(
        "integrity mismatch for {url}: expected {algorithm} {expected}, the bytes hash to {actual}; nothing was stored"
    )]
    IntegrityMismatch {
        url: String,
        algorithm: &'static str,
        expected: String,
        actual: String,
    },

    /// The connection failed or stalled in the middle of a download. Nothing was stored.
    #[error("download of {url} interrupted: {source}; nothing was stored")]
    Interrupted {
        url: String,
        #[source]
        source: std::io::Error,
    },

    /// The package publishes no checksum we accept (npm: only sha1, refused unless
    /// allowed; PyPI: no sha256).
    #[error("{what} has no acceptable checksum ({reason})")]
    WeakIntegrity { what: String, reason: String },

    /// Offline mode and the store does not hold what was asked for.
    #[error(
        "offline mode: {what} is not in the store {store}; fetch it once online (without --offline / MCPIN_OFFLINE)"
    )]
    Offline { what: String, store: PathBuf },

    /// Reading or writing the store failed.
    #[error("store {path}: {source}")]
    Store {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Reading a configuration file (.npmrc, SSL_CERT_FILE) failed.
    #[error("configuration {path}: {reason}")]
    Config { path: PathBuf, reason: String },

    /// A URL that is neither `https://` nor plain HTTP to a loopback host.
    #[error("`{url}` must be https:// (plain http only to a loopback address)")]
    Insecure { url: String },

    /// Something this client deliberately does not do.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl Error {
    pub(crate) fn store(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Store {
            path: path.into(),
            source,
        }
    }
}
