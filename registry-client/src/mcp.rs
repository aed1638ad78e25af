//! The MCP registry: `server.json` by server name and version (the v0 API,
//! `GET v0/servers/{name}/versions/{version}`), its `packages[]` mapped onto
//! the npm, PyPI and OCI clients (and MCPB files by URL + `fileSha256`).

use serde::Deserialize;
use url::Url;

use crate::http::read_limited;
use crate::oci::Reference;
use crate::store::{Algorithm, Checksum};
use crate::{Client, Error, Fetched, redact};

/// The official MCP registry.
pub const DEFAULT_REGISTRY: &str = "https://registry.modelcontextprotocol.io/";

/// The parts of `server.json` this client uses.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerJson {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub packages: Vec<Package>,
}

/// One entry of `packages[]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    pub registry_type: String,
    #[serde(default)]
    pub registry_base_url: Option<String>,
    pub identifier: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub file_sha256: Option<String>,
    #[serde(default)]
    pub transport: Option<serde_json::Value>,
}

/// The v0 API wraps server.json as `{ "server": …, "_meta": … }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Response {
    Wrapped { server: ServerJson },
    Bare(ServerJson),
}

/// A `registryBaseUrl` from `server.json` (`answered_by` names the registry response):
/// an http(s) URL that paths can be joined to, ending in `/`.
fn registry_base(base: &str, answered_by: &Url) -> Result<Url, Error> {
    let bad = |reason: String| Error::Metadata {
        url: redact(answered_by),
        reason: format!("registryBaseUrl `{base}`: {reason}"),
    };
    let url = Url::parse(base).map_err(|error| bad(error.to_string()))?;
    if !matches!(url.scheme(), "https" | "http") || url.cannot_be_a_base() {
        return Err(bad("not an http(s) registry URL".to_owned()));
    }
    crate::http::require_secure(&url).map_err(|error| bad(error.to_string()))?;
    Ok(crate::npm::with_trailing_slash(url))
}

impl Client {
    /// Looks up `name`@`version` in the MCP registry and fetches its first
    /// package of a supported type.
    pub fn fetch_mcp(&self, name: &str, version: &str) -> Result<Fetched, Error> {
        let registry = crate::npm::with_trailing_slash(self.settings.mcp_registry.clone());
        let key = format!("mcp {} {name} {version}", redact(&registry));
        if self.http.offline() {
            return self.offline_ref(
                &key,
                &format!("mcp:{name}@{version} from {}", redact(&registry)),
            );
        }
        let mut url = registry.clone();
        url.path_segments_mut()
            .map_err(|()| Error::Spec {
                spec: format!("mcp:{name}"),
                reason: "the MCP registry URL cannot have paths".into(),
            })?
            .pop_if_empty()
            .extend(["v0", "servers", name, "versions", version]);
        let response =
            self.http
                .get_ok(&url, &format!("MCP server {name} {version}"), |client| {
                    client.get(url.clone()).header("accept", "application/json")
                })?;
        let body = read_limited(response, &url, crate::METADATA_LIMIT)?;
        let server = match crate::http::parse_json::<Response>(&body, &url)? {
            Response::Wrapped { server } | Response::Bare(server) => server,
        };
        if server.name != name {
            return Err(Error::Metadata {
                url: redact(&url),
                reason: format!(
                    "asked for {name}, the registry answered with {}",
                    server.name
                ),
            });
        }
        let package = server
            .packages
            .iter()
            .find(|p| matches!(p.registry_type.as_str(), "npm" | "pypi" | "oci" | "mcpb"))
            .ok_or_else(|| {
                Error::Unsupported(format!(
                    "{name}@{version} lists no npm, pypi, oci or mcpb package"
                ))
            })?;
        let base = package
            .registry_base_url
            .as_deref()
            .map(|base| registry_base(base, &url))
            .transpose()?;
        let package_version = package
            .version
            .clone()
            .unwrap_or_else(|| server.version.clone());
        let fetched = match package.registry_type.as_str() {
            "npm" => self.fetch_npm_from(base, &package.identifier, &package_version)?,
            "pypi" => {
                let index = match base {
                    Some(base) => base.join("simple/").map_err(|error| Error::Metadata {
                        url: redact(&url),
                        reason: format!("registryBaseUrl `{base}`: {error}"),
                    })?,
                    None => self.settings.pypi_index.clone(),
                };
                self.fetch_pypi(&index, &package.identifier, &format!("=={package_version}"))?
            }
            "oci" => {
                let mut reference =
                    Reference::parse(&package.identifier).map_err(|reason| Error::Metadata {
                        url: redact(&url),
                        reason: format!("OCI identifier `{}`: {reason}", package.identifier),
                    })?;
                if reference.tag.is_none() && reference.digest.is_none() {
                    reference.tag = Some(package_version.clone());
                }
                self.fetch_oci(&reference)?
            }
            _ => self.fetch_mcpb(package, &url)?,
        };
        if let Some(expected) = &package.file_sha256
            && !expected.eq_ignore_ascii_case(&fetched.sha256)
        {
            return Err(Error::IntegrityMismatch {
                url: fetched.url,
                algorithm: "sha256",
                expected: expected.to_ascii_lowercase(),
                actual: fetched.sha256,
            });
        }
        let source = Url::parse(&fetched.url).unwrap_or_else(|_| url.clone());
        let stored = self
            .store
            .find(
                &Checksum::new(Algorithm::Sha256, &fetched.sha256)
                    .expect("stored digests are sha256 hex"),
            )?
            .ok_or_else(|| Error::Offline {
                what: fetched.url.clone(),
                store: self.store.root().to_owned(),
            })?;
        let stored = crate::Stored {
            downloaded: fetched.downloaded,
            ..stored
        };
        self.record(
            vec![key],
            &fetched.ecosystem,
            &fetched.registry,
            &fetched.name,
            &fetched.version,
            &fetched.file_name,
            &source,
            stored,
            fetched.index_digest,
            fetched.blobs,
        )
    }

    /// An MCPB bundle: a URL and the sha256 the registry lists for it.
    fn fetch_mcpb(&self, package: &Package, from: &Url) -> Result<Fetched, Error> {
        let file_url = Url::parse(&package.identifier).map_err(|error| Error::Metadata {
            url: redact(from),
            reason: format!("mcpb identifier `{}`: {error}", package.identifier),
        })?;
        let checksum = package
            .file_sha256
            .as_deref()
            .and_then(|hex| Checksum::new(Algorithm::Sha256, hex))
            .ok_or_else(|| Error::WeakIntegrity {
                what: redact(&file_url),
                reason: "an mcpb package needs fileSha256".into(),
            })?;
        let stored = self.download(&checksum, &file_url, None)?;
        let file_name = file_url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or("server.mcpb")
            .to_owned();
        let version = package.version.clone().unwrap_or_default();
        self.record(
            Vec::new(),
            "mcpb",
            &crate::registry_name(&file_url),
            &file_name,
            &version,
            &file_name,
            &file_url,
            stored,
            None,
            Vec::new(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_base_url_that_cannot_take_a_path_is_an_error_not_a_panic() {
        let answered_by = Url::parse("https://registry.example/v0/servers/x").unwrap();
        // `data:x` used to panic joining `simple/` ("a relative path joins").
        for bad in [
            "data:x",
            "mailto:a@b",
            "file:///srv/pypi",
            "http://mirror.example/",
        ] {
            assert!(
                matches!(
                    registry_base(bad, &answered_by),
                    Err(Error::Metadata { .. })
                ),
                "{bad}"
            );
        }
        let base = registry_base("https://pypi.example/mirror", &answered_by).unwrap();
        assert_eq!(
            base.join("simple/").unwrap().as_str(),
            "https://pypi.example/mirror/simple/"
        );
    }
}
