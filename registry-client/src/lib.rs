//! Fetch MCP server artifacts from their registries into one content-addressed
//! store, so the bytes mcpin verifies are the bytes that run.
//!
//! What it does: resolves a [`Spec`] (`npm:`, `pypi:`, `oci:`, `mcp:`) against
//! npm registries (packuments, dist-tags, semver ranges, `.npmrc` scopes and
//! tokens), PyPI-style simple indexes (PEP 691 JSON, HTML fallback, yanked
//! files, wheel tags), OCI distribution registries (tags, manifests, image
//! indexes, blobs, bearer-token auth, referrers with the tag-schema fallback)
//! and the MCP registry (`server.json` → a package on one of the others). Every
//! download is hashed while it streams and is kept only when it matches the
//! digest the registry's metadata (or the pinned reference) promised.
//!
//! What it does not do: judge whether an artifact is trustworthy (that is the
//! verifier's job with signatures and policy), install anything, run install
//! scripts, or trust a registry's claimed digest headers over the bytes.

pub mod attestations;
mod error;
mod http;
pub mod mcp;
pub mod npm;
pub mod oci;
pub mod pypi;
mod redact;
mod spec;
pub mod store;

use std::io::Read;
use std::path::PathBuf;

use base64::Engine as _;
use reqwest::blocking::RequestBuilder;
use serde::Serialize;
use url::Url;

pub use error::Error;
pub use http::{HttpSettings, require_secure};
pub use redact::{redact, registry_name};
pub use spec::Spec;
pub use store::{Algorithm, Checksum, RefRecord, Store, Stored};

/// Largest metadata document (packument, index page, manifest) we read.
pub(crate) const METADATA_LIMIT: u64 = 64 * 1024 * 1024;

/// Credentials for one registry. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Basic <base64(user:password)>`, already encoded.
    Basic(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer(****)"),
            Auth::Basic(_) => f.write_str("Basic(****)"),
        }
    }
}

impl Auth {
    /// Basic credentials from a user name and optional password.
    pub fn basic(user: &str, password: Option<&str>) -> Auth {
        let pair = format!("{user}:{}", password.unwrap_or_default());
        Auth::Basic(base64::engine::general_purpose::STANDARD.encode(pair))
    }

    pub(crate) fn apply(auth: Option<&Auth>, request: RequestBuilder) -> RequestBuilder {
        match auth {
            Some(Auth::Bearer(token)) => request.header("authorization", format!("Bearer {token}")),
            Some(Auth::Basic(encoded)) => {
                request.header("authorization", format!("Basic {encoded}"))
            }
            None => request,
        }
    }
}

/// Everything the client needs to know; the CLI builds it from flags, env and files.
#[derive(Debug, Clone)]
pub struct Settings {
    pub store: PathBuf,
    /// Whose store it is: the current user's, or in system mode root's.
    pub owner: store::Owner,
    pub http: HttpSettings,
    pub npm: npm::NpmConfig,
    /// A PEP 503/691 simple index, e.g. `https://pypi.org/simple/`. Credentials
    /// in the URL are sent as basic auth to that host only.
    pub pypi_index: Url,
    /// The MCP registry base URL (the API lives under `v0/`).
    pub mcp_registry: Url,
    /// Draw download progress bars on stderr.
    pub progress: bool,
    /// Which wheels fit the machine the artifact will run on.
    pub wheel_target: pypi::WheelTarget,
}

/// The result of a fetch: what was resolved and where its bytes are.
#[derive(Debug, Clone, Serialize)]
pub struct Fetched {
    pub ecosystem: String,
    /// The registry, redacted.
    pub registry: String,
    pub name: String,
    /// The exact version; for OCI the tag or digest asked for.
    pub version: String,
    pub file_name: String,
    /// Where the bytes came from, redacted.
    pub url: String,
    /// The blob in the store.
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub sha512: String,
    /// Whether this run downloaded the bytes (false: served from the store).
    pub downloaded: bool,
    /// OCI: the image index the pinned manifest (`sha256`) was chosen from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_digest: Option<String>,
    /// OCI: config and layer blobs (sha256 hex), all in the store.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<String>,
}

/// The registry client: one HTTP client, one store.
pub struct Client {
    http: http::Http,
    store: Store,
    settings: Settings,
    /// OCI bearer tokens by `registry scope`.
    oci_tokens: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl Client {
    pub fn new(settings: Settings) -> Result<Client, Error> {
        Ok(Client {
            http: http::Http::new(settings.http.clone())?,
            store: Store::open_for(&settings.store, &settings.owner)?,
            settings,
            oci_tokens: Default::default(),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether this client never touches the network.
    pub fn offline(&self) -> bool {
        self.http.offline()
    }

    /// Resolves `spec` and makes sure its bytes are in the store.
    pub fn fetch(&self, spec: &Spec) -> Result<Fetched, Error> {
        match spec {
            Spec::Npm { name, requirement } => self.fetch_npm(name, requirement),
            Spec::Pypi { name, specifiers } => {
                self.fetch_pypi(&self.settings.pypi_index, name, specifiers)
            }
            Spec::Oci(reference) => self.fetch_oci(reference),
            Spec::Mcp { name, version } => self.fetch_mcp(name, version),
        }
    }

    /// Makes sure the bytes `checksum` names are in the store, downloading them
    /// from `url` (with the `.npmrc` credentials for that URL, if any) only when
    /// they are not. Used to install a signed lock, whose entries name a URL and
    /// a digest. Offline mode serves only what the store holds.
    pub fn fetch_url(&self, checksum: &Checksum, url: &Url) -> Result<Stored, Error> {
        if self.http.offline() {
            return self.store.find(checksum)?.ok_or_else(|| Error::Offline {
                what: redact(url),
                store: self.store.root().to_owned(),
            });
        }
        self.download(checksum, url, self.settings.npm.auth_for(url))
    }

    /// Downloads `url` into the store unless a blob with `checksum` is there.
    fn download(
        &self,
        checksum: &Checksum,
        url: &Url,
        auth: Option<&Auth>,
    ) -> Result<Stored, Error> {
        self.store.fetch(checksum, &redact(url), || {
            let response = self.http.get_ok(url, &redact(url), |client| {
                Auth::apply(auth, client.get(url.clone()))
            })?;
            Ok(self.progress(response, url))
        })
    }

    fn progress(&self, reader: impl Read + 'static, url: &Url) -> Box<dyn Read> {
        if !self.settings.progress {
            return Box::new(reader);
        }
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} {bytes} {binary_bytes_per_sec} {elapsed}",
            )
            .expect("valid progress template"),
        );
        let name = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or_default();
        bar.set_message(name.to_owned());
        Box::new(bar.wrap_read(reader))
    }

    /// Records `keys` → `stored` in the store's refs and builds the result.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        keys: Vec<String>,
        ecosystem: &str,
        registry: &str,
        name: &str,
        version: &str,
        file_name: &str,
        url: &Url,
        stored: Stored,
        index_digest: Option<String>,
        blobs: Vec<String>,
    ) -> Result<Fetched, Error> {
        for key in keys {
            self.store.put_ref(&RefRecord {
                key,
                ecosystem: ecosystem.to_owned(),
                registry: registry.to_owned(),
                name: name.to_owned(),
                version: version.to_owned(),
                file_name: file_name.to_owned(),
                url: redact(url),
                sha256: stored.digests.sha256.clone(),
                sha512: stored.digests.sha512.clone(),
                size: stored.digests.size,
                index_digest: index_digest.clone(),
                blobs: blobs.clone(),
            })?;
        }
        Ok(Fetched {
            ecosystem: ecosystem.to_owned(),
            registry: registry.to_owned(),
            name: name.to_owned(),
            version: version.to_owned(),
            file_name: file_name.to_owned(),
            url: redact(url),
            path: stored.path,
            size: stored.digests.size,
            sha256: stored.digests.sha256,
            sha512: stored.digests.sha512,
            downloaded: stored.downloaded,
            index_digest,
            blobs,
        })
    }

    /// Offline mode: what `key` resolved to last time, if its bytes are still intact.
    fn offline_ref(&self, key: &str, what: &str) -> Result<Fetched, Error> {
        let missing = || Error::Offline {
            what: what.to_owned(),
            store: self.store.root().to_owned(),
        };
        let record = self.store.get_ref(key)?.ok_or_else(missing)?;
        let checksum = Checksum::new(Algorithm::Sha256, &record.sha256).ok_or_else(missing)?;
        let stored = self.store.find(&checksum)?.ok_or_else(missing)?;
        for blob in &record.blobs {
            let checksum = Checksum::new(Algorithm::Sha256, blob).ok_or_else(missing)?;
            self.store.find(&checksum)?.ok_or_else(missing)?;
        }
        Ok(Fetched {
            ecosystem: record.ecosystem,
            registry: record.registry,
            name: record.name,
            version: record.version,
            file_name: record.file_name,
            url: record.url,
            path: stored.path,
            size: stored.digests.size,
            sha256: stored.digests.sha256,
            sha512: stored.digests.sha512,
            downloaded: false,
            index_digest: record.index_digest,
            blobs: record.blobs,
        })
    }
}
