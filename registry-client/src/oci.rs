//! OCI distribution v2: tags to digests, manifests and image indexes (the
//! pinned manifest and the index it came from are both recorded), blobs, the
//! bearer-token challenge flow, and referrers — the referrers API with the
//! tag-schema (`sha256-<hex>`) fallback, to list and to push artifacts that
//! refer to a subject. Every manifest and blob is hashed; a registry's
//! `Docker-Content-Digest` header is never taken in place of the bytes.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;

use reqwest::Method;
use reqwest::blocking::Response;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use url::Url;

use crate::http::{check_status, read_limited};
use crate::store::{Algorithm, Checksum};
use crate::{Client, Error, Fetched, redact};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";
const MANIFEST_LIMIT: u64 = 4 * 1024 * 1024;

/// `host[:port]/repository[:tag][@sha256:hex]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<hex>`.
    pub digest: Option<String>,
}

impl Reference {
    pub fn parse(text: &str) -> Result<Reference, String> {
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                let hex = digest
                    .strip_prefix("sha256:")
                    .ok_or("only sha256 digests are supported")?;
                Checksum::new(Algorithm::Sha256, hex).ok_or("a sha256 digest is 64 hex digits")?;
                (rest, Some(format!("sha256:{}", hex.to_ascii_lowercase())))
            }
            None => (text, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(colon) if !rest[colon..].contains('/') => {
                (&rest[..colon], Some(rest[colon + 1..].to_owned()))
            }
            _ => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((host, repo))
                if host.contains('.') || host.contains(':') || host == "localhost" =>
            {
                (host.to_owned(), repo.to_owned())
            }
            Some(_) => ("docker.io".to_owned(), name.to_owned()),
            None => ("docker.io".to_owned(), format!("library/{name}")),
        };
        registry_url(&registry)?;
        let valid_repo = !repository.is_empty()
            && repository.split('/').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !valid_repo {
            return Err(format!(
                "`{repository}` is not a valid repository name (lowercase, a-z0-9._-/)"
            ));
        }
        if let Some(tag) = &tag
            && (tag.is_empty()
                || tag.len() > 128
                || !tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)))
        {
            return Err(format!("`{tag}` is not a valid tag"));
        }
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The tag or digest to ask the registry for (digest wins; else the tag; else `latest`).
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The base URL of the registry API. Loopback registries speak plain HTTP,
    /// like Docker's default for localhost.
    pub fn api_base(&self) -> Result<Url, Error> {
        let host = if self.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.registry
        };
        let mut url = registry_url(host).map_err(|reason| Error::Spec {
            spec: format!("oci:{self}"),
            reason,
        })?;
        if crate::http::is_loopback(&url) {
            url.set_scheme("http")
                .expect("https and http are both special");
        }
        Ok(url)
    }
}

/// `https://<host[:port]>/v2/`, or why `host` is not a registry host (a port over 65535,
/// user info, a path, characters no host has).
fn registry_url(host: &str) -> Result<Url, String> {
    let invalid = || format!("`{host}` is not a registry host[:port]");
    let url = Url::parse(&format!("https://{host}/v2/")).map_err(|_| invalid())?;
    // Whatever the parser split off the host (user info, a path, a query) was not a host.
    let only_a_host = url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/v2/"
        && url.query().is_none()
        && url.fragment().is_none();
    if only_a_host { Ok(url) } else { Err(invalid()) }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// An OCI content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    /// A descriptor for `bytes` of `media_type`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: sha256_digest(bytes),
            size: bytes.len() as u64,
            artifact_type: None,
            annotations: BTreeMap::new(),
            platform: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image manifest or an image index (the fields we use).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    #[serde(default)]
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

fn sha256_checksum(digest: &str, url: &Url) -> Result<Checksum, Error> {
    digest
        .strip_prefix("sha256:")
        .and_then(|hex| Checksum::new(Algorithm::Sha256, hex))
        .ok_or_else(|| Error::Metadata {
            url: redact(url),
            reason: format!("unsupported digest `{digest}` (only sha256)"),
        })
}

fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// `key="value", key2="value2"` from a `WWW-Authenticate: Bearer …` header.
fn challenge_params(header: &str) -> Option<BTreeMap<String, String>> {
    let rest = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))?;
    let mut params = BTreeMap::new();
    let mut rest = rest.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        params.insert(key, value.to_owned());
        rest = remaining.trim_start_matches(',').trim();
    }
    Some(params)
}

/// One request to an OCI registry.
struct OciRequest<'a> {
    method: Method,
    url: Url,
    accept: Option<&'a str>,
    content_type: Option<&'a str>,
    body: Option<&'a [u8]>,
}

impl Client {
    /// Sends a request to `reference`'s registry, answering a bearer-token
    /// challenge once (anonymous token) and caching the token per scope.
    fn oci_send(
        &self,
        reference: &Reference,
        push: bool,
        request: &OciRequest<'_>,
    ) -> Result<Response, Error> {
        let scope = format!(
            "repository:{}:{}",
            reference.repository,
            if push { "pull,push" } else { "pull" }
        );
        let cache_key = format!("{} {scope}", reference.registry);
        let send = |token: Option<String>| {
            self.http.send(&request.url, |client| {
                let mut builder = client.request(request.method.clone(), request.url.clone());
                if let Some(accept) = request.accept {
                    builder = builder.header("accept", accept);
                }
                if let Some(content_type) = request.content_type {
                    builder = builder.header("content-type", content_type);
                }
                if let Some(body) = request.body {
                    builder = builder.body(body.to_vec());
                }
                if let Some(token) = &token {
                    builder = builder.header("authorization", format!("Bearer {token}"));
                }
                builder
            })
        };
        let cached = self
            .oci_tokens
            .lock()
            .expect("token cache")
            .get(&cache_key)
            .cloned();
        let response = send(cached)?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let Some(params) = response
            .headers()
            .get("www-authenticate")
            .and_then(|value| value.to_str().ok())
            .and_then(challenge_params)
        else {
            return Ok(response);
        };
        let realm = params
            .get("realm")
            .and_then(|realm| Url::parse(realm).ok())
            .ok_or_else(|| Error::Metadata {
                url: redact(&request.url),
                reason: "bearer challenge without a usable realm".into(),
            })?;
        let mut token_url = realm.clone();
        {
            let mut query = token_url.query_pairs_mut();
            if let Some(service) = params.get("service") {
                query.append_pair("service", service);
            }
            query.append_pair("scope", params.get("scope").unwrap_or(&scope));
        }
        // A refused token is an authentication failure at the registry we asked.
        let token_response = self
            .http
            .get_ok(&token_url, "a registry token", |client| {
                client.get(token_url.clone())
            })
            .map_err(|error| match error {
                Error::Auth { url, status, .. } => Error::Auth {
                    registry: crate::registry_name(&request.url),
                    url,
                    status,
                },
                other => other,
            })?;
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let body = read_limited(token_response, &token_url, 1024 * 1024)?;
        let token: Token = crate::http::parse_json(&body, &token_url)?;
        let token = token
            .token
            .or(token.access_token)
            .ok_or_else(|| Error::Metadata {
                url: redact(&realm),
                reason: "token response without `token`".into(),
            })?;
        self.oci_tokens
            .lock()
            .expect("token cache")
            .insert(cache_key, token.clone());
        send(Some(token))
    }

    fn oci_url(reference: &Reference, path: &str) -> Result<Url, Error> {
        let invalid = || Error::Spec {
            spec: format!("oci:{reference}"),
            reason: format!("`{}` is not a repository path", reference.repository),
        };
        let base = reference.api_base()?;
        // A relative path only: a repository like `x:y` would otherwise parse as a URL scheme.
        if reference.repository.contains(':') {
            return Err(invalid());
        }
        base.join(&format!("{}/{path}", reference.repository))
            .map_err(|_| invalid())
    }

    /// Fetches a manifest by tag or digest and checks its bytes hash to the
    /// digest asked for. Returns the bytes, their digest and the media type.
    fn oci_manifest(
        &self,
        reference: &Reference,
        manifest_ref: &str,
    ) -> Result<(Vec<u8>, String, String), Error> {
        let url = Self::oci_url(reference, &format!("manifests/{manifest_ref}"))?;
        let request = OciRequest {
            method: Method::GET,
            url: url.clone(),
            accept: Some(MANIFEST_ACCEPT),
            content_type: None,
            body: None,
        };
        let response = check_status(
            self.oci_send(reference, false, &request)?,
            &url,
            &format!("manifest {reference}"),
        )?;
        let header_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .map(|value| {
                value
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            });
        let bytes = read_limited(response, &url, MANIFEST_LIMIT)?;
        let digest = sha256_digest(&bytes);
        if manifest_ref.starts_with("sha256:") && manifest_ref != digest {
            return Err(Error::IntegrityMismatch {
                url: redact(&url),
                algorithm: "sha256",
                expected: manifest_ref.trim_start_matches("sha256:").to_owned(),
                actual: digest.trim_start_matches("sha256:").to_owned(),
            });
        }
        let manifest: Manifest = crate::http::parse_json(&bytes, &url)?;
        let media_type = manifest.media_type.or(header_type).unwrap_or_else(|| {
            if manifest.manifests.is_empty() {
                OCI_MANIFEST
            } else {
                OCI_INDEX
            }
            .to_owned()
        });
        Ok((bytes, digest, media_type))
    }

    /// Fetches the manifest `reference` names (its digest, else its tag, else `latest`): the
    /// parsed manifest and the `sha256:` digest of its bytes. A tag is whatever the registry
    /// answers; a digest is checked against the bytes.
    pub fn oci_get_tagged_manifest(
        &self,
        reference: &Reference,
    ) -> Result<(Manifest, String), Error> {
        let (bytes, digest, _) = self.oci_manifest(reference, reference.manifest_reference())?;
        let url = Self::oci_url(reference, &format!("manifests/{digest}"))?;
        Ok((crate::http::parse_json(&bytes, &url)?, digest))
    }

    /// Fetches the image manifest `digest` (a `sha256:` digest its bytes must hash to).
    pub fn oci_get_manifest(&self, reference: &Reference, digest: &str) -> Result<Manifest, Error> {
        let url = Self::oci_url(reference, &format!("manifests/{digest}"))?;
        // Only a digest: a tag (or anything else) would be fetched without a hash to check.
        sha256_checksum(digest, &url)?;
        let (bytes, _, _) = self.oci_manifest(reference, digest)?;
        crate::http::parse_json(&bytes, &url)
    }

    /// Reads the blob `descriptor` names into memory: refused when its size is
    /// over `limit`, and kept only when its bytes hash to its digest.
    pub fn oci_get_blob(
        &self,
        reference: &Reference,
        descriptor: &Descriptor,
        limit: u64,
    ) -> Result<Vec<u8>, Error> {
        let url = Self::oci_url(reference, &format!("blobs/{}", descriptor.digest))?;
        let checksum = sha256_checksum(&descriptor.digest, &url)?;
        if descriptor.size > limit {
            return Err(Error::Metadata {
                url: redact(&url),
                reason: format!("blob of {} bytes (at most {limit})", descriptor.size),
            });
        }
        let request = OciRequest {
            method: Method::GET,
            url: url.clone(),
            accept: None,
            content_type: None,
            body: None,
        };
        let response = check_status(
            self.oci_send(reference, false, &request)?,
            &url,
            &format!("blob {}", descriptor.digest),
        )?;
        let bytes =
            crate::http::read_limited_from(self.progress(response, &url), &url, descriptor.size)?;
        let actual = hex::encode(sha2::Sha256::digest(&bytes));
        if actual != checksum.hex {
            return Err(Error::IntegrityMismatch {
                url: redact(&url),
                algorithm: "sha256",
                expected: checksum.hex,
                actual,
            });
        }
        Ok(bytes)
    }

    /// Pulls `reference`: the manifest (from the index for this platform if it
    /// names an index), its config and layers, all into the store.
    pub fn fetch_oci(&self, reference: &Reference) -> Result<Fetched, Error> {
        let key = format!("oci {reference}");
        if self.http.offline() {
            return self.offline_ref(&key, &format!("oci:{reference}"));
        }
        let (mut bytes, mut digest, mut media_type) =
            self.oci_manifest(reference, reference.manifest_reference())?;
        let mut index_digest = None;
        let base_url = Self::oci_url(reference, "manifests/")?;
        if media_type == OCI_INDEX || media_type == DOCKER_LIST {
            let index: Manifest = crate::http::parse_json(&bytes, &base_url)?;
            let arch = goarch();
            let chosen = index
                .manifests
                .iter()
                .find(|d| {
                    d.platform
                        .as_ref()
                        .is_some_and(|p| p.os == "linux" && p.architecture == arch)
                })
                .ok_or_else(|| Error::NotFound {
                    registry: reference.registry.clone(),
                    what: format!("a linux/{arch} manifest in the image index {digest}"),
                    url: redact(&base_url),
                })?;
            self.store.insert(
                &sha256_checksum(&digest, &base_url)?,
                &redact(&base_url),
                bytes,
            )?;
            index_digest = Some(digest);
            (bytes, digest, media_type) = self.oci_manifest(reference, &chosen.digest.clone())?;
        }
        if media_type != OCI_MANIFEST && media_type != DOCKER_MANIFEST {
            return Err(Error::Unsupported(format!(
                "manifest media type `{media_type}` of {reference}"
            )));
        }
        let manifest: Manifest = crate::http::parse_json(&bytes, &base_url)?;
        let manifest_url = Self::oci_url(reference, &format!("manifests/{digest}"))?;
        let stored = self.store.insert(
            &sha256_checksum(&digest, &manifest_url)?,
            &redact(&manifest_url),
            bytes,
        )?;
        let mut blobs = Vec::new();
        for descriptor in manifest.config.iter().chain(&manifest.layers) {
            let blob_url = Self::oci_url(reference, &format!("blobs/{}", descriptor.digest))?;
            let checksum = sha256_checksum(&descriptor.digest, &blob_url)?;
            self.store.fetch(&checksum, &redact(&blob_url), || {
                let request = OciRequest {
                    method: Method::GET,
                    url: blob_url.clone(),
                    accept: None,
                    content_type: None,
                    body: None,
                };
                let response = check_status(
                    self.oci_send(reference, false, &request)?,
                    &blob_url,
                    &format!("blob {}", descriptor.digest),
                )?;
                // A blob is exactly `size` bytes; more is not read, less fails the digest.
                Ok(self.progress(response.take(descriptor.size), &blob_url))
            })?;
            blobs.push(checksum.hex);
        }
        let mut pinned = reference.clone();
        pinned.tag = None;
        pinned.digest = Some(digest.clone());
        let keys = vec![format!("oci {pinned}"), key];
        let file_name = format!("{}@{digest}", reference.repository);
        self.record(
            keys,
            "oci",
            &reference.registry,
            &reference.repository,
            reference.manifest_reference(),
            &file_name,
            &manifest_url,
            stored,
            index_digest,
            blobs,
        )
    }

    /// Identifies the image `fetch_oci` brought into the store: the manifest's bytes and
    /// the config's are read back from the store and hashed again, so the identity (and
    /// the digest a launch pins) is that of bytes in hand, never of a registry's claim.
    pub fn identify_image(
        &self,
        reference: &Reference,
        fetched: &Fetched,
    ) -> Result<mcpin_artifact::Identified, Error> {
        let manifest = self.stored_bytes(&fetched.sha256)?;
        let parsed: Manifest = serde_json::from_slice(&manifest).map_err(|e| Error::Metadata {
            url: fetched.url.clone(),
            reason: format!("the stored manifest is not an image manifest: {e}"),
        })?;
        let config = match &parsed.config {
            Some(descriptor) => {
                let hex = descriptor.digest.strip_prefix("sha256:").ok_or_else(|| {
                    Error::Unsupported(format!("config digest `{}`", descriptor.digest))
                })?;
                Some(self.stored_bytes(hex)?)
            }
            None => None,
        };
        mcpin_artifact::identify_image(
            &reference.registry,
            &reference.repository,
            &manifest,
            config.as_deref(),
        )
        .map_err(|e| Error::Metadata {
            url: fetched.url.clone(),
            reason: e.to_string(),
        })
    }

    /// A blob's bytes from the store, refused unless they still hash to `sha256`.
    fn stored_bytes(&self, sha256: &str) -> Result<Vec<u8>, Error> {
        let path = self.store.blob_path(sha256);
        let bytes = fs_err::read(&path).map_err(|source| Error::Store {
            path: path.clone(),
            source,
        })?;
        let actual = hex::encode(sha2::Sha256::digest(&bytes));
        if actual != sha256 {
            return Err(Error::Store {
                path,
                source: std::io::Error::other(format!(
                    "the stored blob hashes to sha256 {actual}, not to its name (corrupt store)"
                )),
            });
        }
        Ok(bytes)
    }

    /// Uploads a blob unless the registry has it (monolithic upload).
    pub fn oci_push_blob(&self, reference: &Reference, bytes: &[u8]) -> Result<Descriptor, Error> {
        let descriptor = Descriptor::of("application/octet-stream", bytes);
        let blob_url = Self::oci_url(reference, &format!("blobs/{}", descriptor.digest))?;
        let head = OciRequest {
            method: Method::HEAD,
            url: blob_url.clone(),
            accept: None,
            content_type: None,
            body: None,
        };
        if self.oci_send(reference, true, &head)?.status().is_success() {
            return Ok(descriptor);
        }
        let start_url = Self::oci_url(reference, "blobs/uploads/")?;
        let start = OciRequest {
            method: Method::POST,
            url: start_url.clone(),
            accept: None,
            content_type: None,
            body: Some(&[]),
        };
        let response = check_status(
            self.oci_send(reference, true, &start)?,
            &start_url,
            "blob upload",
        )?;
        let location = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .and_then(|location| start_url.join(location).ok())
            .ok_or_else(|| Error::Metadata {
                url: redact(&start_url),
                reason: "upload started without a Location".into(),
            })?;
        let mut put_url = location;
        put_url
            .query_pairs_mut()
            .append_pair("digest", &descriptor.digest);
        let put = OciRequest {
            method: Method::PUT,
            url: put_url.clone(),
            accept: None,
            content_type: Some("application/octet-stream"),
            body: Some(bytes),
        };
        check_status(
            self.oci_send(reference, true, &put)?,
            &put_url,
            "blob upload",
        )?;
        Ok(descriptor)
    }

    /// Uploads a manifest under `reference`'s tag (or its digest). Returns its
    /// descriptor and whether the registry acknowledged a `subject` (OCI-Subject).
    pub fn oci_push_manifest(
        &self,
        reference: &Reference,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(Descriptor, bool), Error> {
        let descriptor = Descriptor::of(media_type, bytes);
        let target = reference
            .tag
            .clone()
            .unwrap_or_else(|| descriptor.digest.clone());
        let url = Self::oci_url(reference, &format!("manifests/{target}"))?;
        let put = OciRequest {
            method: Method::PUT,
            url: url.clone(),
            accept: None,
            content_type: Some(media_type),
            body: Some(bytes),
        };
        let response = check_status(
            self.oci_send(reference, true, &put)?,
            &url,
            &format!("manifest {reference}"),
        )?;
        let subject_acknowledged = response.headers().contains_key("oci-subject");
        Ok((descriptor, subject_acknowledged))
    }

    /// The artifacts that refer to `subject` (a `sha256:` digest): the
    /// referrers API, or the `sha256-<hex>` tag index where the registry lacks it.
    pub fn oci_referrers(
        &self,
        reference: &Reference,
        subject: &str,
    ) -> Result<Vec<Descriptor>, Error> {
        let url = Self::oci_url(reference, &format!("referrers/{subject}"))?;
        let request = OciRequest {
            method: Method::GET,
            url: url.clone(),
            accept: Some(OCI_INDEX),
            content_type: None,
            body: None,
        };
        let response = self.oci_send(reference, false, &request)?;
        let is_index = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with(OCI_INDEX));
        if response.status().is_success() && is_index {
            let body = read_limited(response, &url, MANIFEST_LIMIT)?;
            let index: Manifest = crate::http::parse_json(&body, &url)?;
            return Ok(index.manifests);
        }
        if response.status() != reqwest::StatusCode::NOT_FOUND {
            check_status(response, &url, "referrers")?;
        }
        Ok(self.oci_fallback_index(reference, subject)?.manifests)
    }

    fn oci_fallback_index(&self, reference: &Reference, subject: &str) -> Result<Manifest, Error> {
        let tag = subject.replace(':', "-");
        match self.oci_manifest(reference, &tag) {
            Ok((bytes, _, _)) => crate::http::parse_json(
                &bytes,
                &Self::oci_url(reference, &format!("manifests/{tag}"))?,
            ),
            Err(Error::NotFound { .. }) => Ok(Manifest {
                schema_version: 2,
                media_type: Some(OCI_INDEX.to_owned()),
                ..Manifest::default()
            }),
            Err(error) => Err(error),
        }
    }

    /// Pushes `artifact` (a manifest whose `subject` names the subject) and,
    /// when the registry has no referrers API, adds it to the `sha256-<hex>`
    /// tag index so `oci_referrers` finds it. Returns its descriptor.
    pub fn oci_attach(
        &self,
        reference: &Reference,
        artifact: &Manifest,
    ) -> Result<Descriptor, Error> {
        let subject = artifact
            .subject
            .as_ref()
            .ok_or_else(|| Error::Unsupported("an attached artifact needs a subject".into()))?;
        let bytes = serde_json::to_vec(artifact).expect("a manifest serializes");
        let mut by_digest = reference.clone();
        by_digest.tag = None;
        let (mut descriptor, acknowledged) =
            self.oci_push_manifest(&by_digest, OCI_MANIFEST, &bytes)?;
        descriptor.artifact_type = artifact
            .artifact_type
            .clone()
            .or_else(|| artifact.config.as_ref().map(|c| c.media_type.clone()));
        descriptor.annotations = artifact.annotations.clone();
        if !acknowledged {
            let mut index = self.oci_fallback_index(reference, &subject.digest)?;
            if !index
                .manifests
                .iter()
                .any(|d| d.digest == descriptor.digest)
            {
                index.manifests.push(descriptor.clone());
                let mut tagged = reference.clone();
                tagged.digest = None;
                tagged.tag = Some(subject.digest.replace(':', "-"));
                let index_bytes = serde_json::to_vec(&index).expect("an index serializes");
                self.oci_push_manifest(&tagged, OCI_INDEX, &index_bytes)?;
            }
        }
        Ok(descriptor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r = Reference::parse("127.0.0.1:5000/mcpin/server:1.0").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "mcpin/server", Some("1.0"))
        );
        assert_eq!(r.api_base().unwrap().as_str(), "http://127.0.0.1:5000/v2/");
        let hex = "a".repeat(64);
        let r = Reference::parse(&format!("ghcr.io/o/i@sha256:{hex}")).unwrap();
        assert_eq!(r.manifest_reference(), format!("sha256:{hex}"));
        assert_eq!(r.api_base().unwrap().as_str(), "https://ghcr.io/v2/");
        assert_eq!(
            Reference::parse("alpine").unwrap().repository,
            "library/alpine"
        );
        assert!(Reference::parse("ghcr.io/O/i").is_err());
        assert!(Reference::parse("ghcr.io/o/i@sha256:abc").is_err());
        assert!(Reference::parse("ghcr.io/o/i@md5:abc").is_err());
    }

    #[test]
    fn a_registry_port_out_of_range_is_an_error_not_a_panic() {
        // `localhost:99999` used to panic in api_base ("a registry host forms a URL").
        for bad in [
            "localhost:99999/o/i",
            "127.0.0.1:65536/o/i",
            "ghcr.io?x/o/i",
        ] {
            let error = Reference::parse(bad).unwrap_err();
            assert!(error.contains("is not a registry host"), "{bad}: {error}");
        }
        let built = Reference {
            registry: "localhost:99999".into(),
            repository: "o/i".into(),
            tag: None,
            digest: None,
        };
        assert!(matches!(built.api_base(), Err(Error::Spec { .. })));
        assert_eq!(
            Reference::parse("[::1]:5000/o/i")
                .unwrap()
                .api_base()
                .unwrap()
                .as_str(),
            "http://[::1]:5000/v2/"
        );
    }

    #[test]
    fn bearer_challenge() {
        let params = challenge_params(r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:o/i:pull""#).unwrap();
        assert_eq!(params["realm"], "https://auth.example/token");
        assert_eq!(params["service"], "registry.example");
        assert_eq!(params["scope"], "repository:o/i:pull");
        assert!(challenge_params("Basic realm=x").is_none());
    }
}
