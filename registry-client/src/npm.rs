//! npm: packuments, dist-tag and semver-range resolution, tarballs verified
//! against `dist.integrity`, and registries and tokens per scope the way
//! `.npmrc` configures them.
//!
//! Which `.npmrc` files are read, and whether `${VAR}` in them is expanded, is the caller's
//! choice ([`NpmConfig::load`], [`Expansion`]): a launch reads only the user's file and never
//! expands, so a project's `.npmrc` cannot redirect it or make it send an environment secret.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;
use url::Url;

use crate::store::{Algorithm, Checksum};
use crate::{Auth, Client, Error, Fetched, redact, registry_name};

/// The public npm registry.
pub const DEFAULT_REGISTRY: &str = "https://registry.npmjs.org/";

/// Registries and credentials, following `.npmrc` conventions:
/// `registry=URL`, `@scope:registry=URL`, `//host/path/:_authToken=TOKEN`,
/// `//host/path/:_auth=BASE64`, with `${VAR}` expanded from the environment when the
/// caller asks for it ([`Expansion`]). Registry URLs are https, or http on loopback.
#[derive(Debug, Clone)]
pub struct NpmConfig {
    pub registry: Url,
    pub scopes: BTreeMap<String, Url>,
    /// Nerf-darted registry prefix (`//host:port/path/`) → credentials.
    credentials: Vec<(String, Auth)>,
    /// Accept packages that publish only a sha1 `shasum` (npm before 5). Off by default.
    pub allow_sha1: bool,
}

impl Default for NpmConfig {
    fn default() -> Self {
        NpmConfig {
            registry: Url::parse(DEFAULT_REGISTRY).expect("valid default registry"),
            scopes: BTreeMap::new(),
            credentials: Vec::new(),
            allow_sha1: false,
        }
    }
}

/// Ensures a registry URL ends with `/` so names join under it.
pub(crate) fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// Whether `${VAR}` in an `.npmrc` value is replaced by the environment variable, as npm does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expansion {
    /// npm's behaviour, for publisher commands (`mcpin fetch`) in the publisher's own tree.
    FromEnvironment,
    /// Values are taken literally: a file can never make mcpin send an environment secret.
    Never,
}

fn expand_env(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start + 2..].find('}') {
            Some(end) => {
                let var = &rest[start + 2..start + 2 + end];
                out.push_str(&std::env::var(var).unwrap_or_default());
                rest = &rest[start + 3 + end..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `https://host:port/path` → `//host:port/path/` (npm's "nerf dart").
fn nerf_dart(url: &Url) -> String {
    let mut dart = format!("//{}", url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        dart.push_str(&format!(":{port}"));
    }
    let path = url.path();
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    dart.push_str(if dir.is_empty() { "/" } else { dir });
    dart
}

impl NpmConfig {
    /// Reads `.npmrc` files in order (later files override earlier ones), expanding
    /// `${VAR}` as `expansion` says. Missing files are skipped; anything else that cannot be
    /// read or understood is an error naming the file and line.
    pub fn load(files: &[PathBuf], expansion: Expansion) -> Result<NpmConfig, Error> {
        let mut config = NpmConfig::default();
        for file in files {
            match fs_err::read_to_string(file) {
                Ok(text) => config.apply(file, &text, expansion)?,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(Error::Config {
                        path: file.clone(),
                        reason: error.to_string(),
                    });
                }
            }
        }
        Ok(config)
    }

    /// npm's own files for a publisher command: `user` (`$NPM_CONFIG_USERCONFIG` or
    /// `~/.npmrc`, chosen by the caller), then the project's `<cwd>/.npmrc`.
    pub fn publisher_files(user: Option<PathBuf>, cwd: &Path) -> Vec<PathBuf> {
        user.into_iter().chain([cwd.join(".npmrc")]).collect()
    }

    fn apply(&mut self, path: &Path, text: &str, expansion: Expansion) -> Result<(), Error> {
        let bad = |line: usize, reason: String| Error::Config {
            path: path.to_owned(),
            reason: format!("line {line}: {reason}"),
        };
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            let value = match expansion {
                Expansion::FromEnvironment => expand_env(value),
                Expansion::Never => value.to_owned(),
            };
            let key = key.trim();
            let parse_url = |value: &str| {
                let url = Url::parse(value)
                    .map_err(|error| bad(index + 1, format!("`{key}`: `{value}`: {error}")))?;
                if url.cannot_be_a_base() || !matches!(url.scheme(), "https" | "http") {
                    return Err(bad(
                        index + 1,
                        format!("`{key}`: `{value}` is not an http(s) registry URL"),
                    ));
                }
                crate::http::require_secure(&url)
                    .map_err(|error| bad(index + 1, format!("`{key}`: {error}")))?;
                Ok(with_trailing_slash(url))
            };
            if key == "registry" {
                self.registry = parse_url(&value)?;
            } else if let Some(scope) = key.strip_suffix(":registry") {
                self.scopes.insert(scope.to_owned(), parse_url(&value)?);
            } else if let Some(prefix) = key.strip_suffix(":_authToken") {
                self.set_credentials(prefix, Auth::Bearer(value));
            } else if let Some(prefix) = key.strip_suffix(":_auth") {
                self.set_credentials(prefix, Auth::Basic(value));
            }
        }
        Ok(())
    }

    /// Sets the token used for registries under `prefix` (a nerf dart like
    /// `//registry.example.com/` or a URL).
    pub fn set_token(&mut self, prefix: &str, token: String) {
        self.set_credentials(prefix, Auth::Bearer(token));
    }

    fn set_credentials(&mut self, prefix: &str, auth: Auth) {
        let dart = match Url::parse(prefix) {
            Ok(url) => nerf_dart(&with_trailing_slash(url)),
            Err(_) if prefix.ends_with('/') => prefix.to_owned(),
            Err(_) => format!("{prefix}/"),
        };
        self.credentials.retain(|(existing, _)| existing != &dart);
        self.credentials.push((dart, auth));
    }

    /// The registry that serves `name` (its scope's registry, else the default).
    pub fn registry_for(&self, name: &str) -> &Url {
        name.split_once('/')
            .filter(|_| name.starts_with('@'))
            .and_then(|(scope, _)| self.scopes.get(scope))
            .unwrap_or(&self.registry)
    }

    /// Credentials whose nerf dart is the longest prefix of `url`'s.
    pub(crate) fn auth_for(&self, url: &Url) -> Option<&Auth> {
        let dart = nerf_dart(url);
        self.credentials
            .iter()
            .filter(|(prefix, _)| dart.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, auth)| auth)
    }
}

#[derive(Debug, Deserialize)]
struct Packument {
    #[serde(default, rename = "dist-tags")]
    dist_tags: BTreeMap<String, String>,
    #[serde(default)]
    versions: BTreeMap<String, VersionMeta>,
}

#[derive(Debug, Deserialize)]
struct VersionMeta {
    dist: Dist,
}

#[derive(Debug, Deserialize)]
struct Dist {
    tarball: String,
    integrity: Option<String>,
    shasum: Option<String>,
}

/// The strongest digest npm metadata offers: sha512 from `integrity`, then
/// sha256, then (only if allowed) the sha1 `shasum`.
fn checksum_of(dist: &Dist, what: &str, allow_sha1: bool) -> Result<Checksum, Error> {
    let mut best: Option<Checksum> = None;
    for entry in dist.integrity.as_deref().unwrap_or("").split_whitespace() {
        let Some((algorithm, digest)) = entry.split_once('-') else {
            continue;
        };
        let digest = digest.split('?').next().unwrap_or_default();
        let algorithm = match algorithm {
            "sha512" => Algorithm::Sha512,
            "sha256" => Algorithm::Sha256,
            _ => continue,
        };
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(digest) else {
            continue;
        };
        if let Some(checksum) = Checksum::new(algorithm, &hex::encode(bytes))
            && best
                .as_ref()
                .is_none_or(|b| b.algorithm != Algorithm::Sha512)
        {
            best = Some(checksum);
        }
    }
    if let Some(best) = best {
        return Ok(best);
    }
    match dist
        .shasum
        .as_deref()
        .and_then(|hex| Checksum::new(Algorithm::Sha1, hex))
    {
        Some(sha1) if allow_sha1 => Ok(sha1),
        Some(_) => Err(Error::WeakIntegrity {
            what: what.to_owned(),
            reason: "only a sha1 shasum is published; sha1 is refused unless explicitly allowed"
                .into(),
        }),
        None => Err(Error::WeakIntegrity {
            what: what.to_owned(),
            reason: "no dist.integrity (sha512) and no shasum".into(),
        }),
    }
}

/// Picks the version `requirement` (exact version, dist-tag or range) names.
fn choose_version(packument: &Packument, requirement: &str) -> Option<String> {
    if packument.versions.contains_key(requirement) {
        return Some(requirement.to_owned());
    }
    if let Some(version) = packument.dist_tags.get(requirement) {
        return Some(version.clone());
    }
    let range = node_semver::Range::parse(requirement).ok()?;
    packument
        .versions
        .keys()
        .filter_map(|v| {
            node_semver::Version::parse(v)
                .ok()
                .map(|parsed| (parsed, v))
        })
        .filter(|(parsed, _)| range.satisfies(parsed))
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, v)| v.clone())
}

fn is_exact_version(requirement: &str) -> bool {
    node_semver::Version::parse(requirement).is_ok()
}

/// Packument URL: the name with its scope's slash escaped (`@scope%2fname`).
fn packument_url(registry: &Url, name: &str) -> Result<Url, Error> {
    registry
        .join(&name.replace('/', "%2f"))
        .map_err(|error| Error::Spec {
            spec: format!("npm:{name}"),
            reason: error.to_string(),
        })
}

impl Client {
    /// Resolves and fetches an npm package version into the store.
    pub fn fetch_npm(&self, name: &str, requirement: &str) -> Result<Fetched, Error> {
        self.fetch_npm_from(None, name, requirement)
    }

    /// Like [`Client::fetch_npm`], from `registry` instead of the configured one.
    pub fn fetch_npm_from(
        &self,
        registry: Option<Url>,
        name: &str,
        requirement: &str,
    ) -> Result<Fetched, Error> {
        let config = &self.settings.npm;
        let registry =
            registry.map_or_else(|| config.registry_for(name).clone(), with_trailing_slash);
        let shown_registry = redact(&registry);
        let asked_key = format!("npm {shown_registry} {name} {requirement}");
        if self.http.offline() {
            return self.offline_ref(
                &asked_key,
                &format!("npm:{name}@{requirement} from {shown_registry}"),
            );
        }
        let url = packument_url(&registry, name)?;
        let auth = config.auth_for(&url);
        let response = self
            .http
            .get_ok(&url, &format!("npm package {name}"), |client| {
                let request = client.get(url.clone()).header(
                    "accept",
                    "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*",
                );
                Auth::apply(auth, request)
            })?;
        let body = crate::http::read_limited(response, &url, crate::METADATA_LIMIT)?;
        let packument: Packument = crate::http::parse_json(&body, &url)?;
        let version =
            choose_version(&packument, requirement).ok_or_else(|| Error::NoMatchingVersion {
                registry: registry_name(&registry),
                name: name.to_owned(),
                requirement: requirement.to_owned(),
            })?;
        let meta = packument
            .versions
            .get(&version)
            .ok_or_else(|| Error::Metadata {
                url: redact(&url),
                reason: format!(
                    "dist-tag `{requirement}` names version {version}, which is not listed"
                ),
            })?;
        let what = format!("{name}@{version}");
        let checksum = checksum_of(&meta.dist, &what, config.allow_sha1)?;
        let tarball = url
            .join(&meta.dist.tarball)
            .map_err(|error| Error::Metadata {
                url: redact(&url),
                reason: format!("bad dist.tarball `{}`: {error}", meta.dist.tarball),
            })?;
        let stored = self.download(&checksum, &tarball, config.auth_for(&tarball))?;
        let file_name = tarball
            .path_segments()
            .and_then(|mut segments| segments.next_back())
            .unwrap_or("package.tgz")
            .to_owned();
        let exact_key = format!("npm {shown_registry} {name} {version}");
        let mut keys = vec![exact_key];
        if !is_exact_version(requirement) || requirement != version {
            keys.push(asked_key);
        }
        self.record(
            keys,
            "npm",
            &shown_registry,
            name,
            &version,
            &file_name,
            &tarball,
            stored,
            None,
            Vec::new(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packument() -> Packument {
        serde_json::from_value(serde_json::json!({
            "dist-tags": { "latest": "1.2.0", "next": "2.0.0-rc.1" },
            "versions": {
                "1.0.0": { "dist": { "tarball": "t", "integrity": "sha512-AAAA" } },
                "1.2.0": { "dist": { "tarball": "t" } },
                "1.10.1": { "dist": { "tarball": "t" } },
                "2.0.0-rc.1": { "dist": { "tarball": "t" } }
            }
        }))
        .unwrap()
    }

    #[test]
    fn resolves_versions_tags_and_ranges() {
        let p = packument();
        assert_eq!(choose_version(&p, "1.0.0").as_deref(), Some("1.0.0"));
        assert_eq!(choose_version(&p, "latest").as_deref(), Some("1.2.0"));
        assert_eq!(choose_version(&p, "next").as_deref(), Some("2.0.0-rc.1"));
        assert_eq!(choose_version(&p, "^1.0.0").as_deref(), Some("1.10.1"));
        assert_eq!(choose_version(&p, "~1.2").as_deref(), Some("1.2.0"));
        assert_eq!(choose_version(&p, ">=3"), None);
        assert_eq!(choose_version(&p, "nope"), None);
    }

    #[test]
    fn prefers_sha512_and_refuses_sha1_only() {
        let sha512 = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
        let dist = Dist {
            tarball: "t".into(),
            integrity: Some(format!("sha1-AAAA sha512-{sha512}")),
            shasum: Some("a".repeat(40)),
        };
        assert_eq!(
            checksum_of(&dist, "x", false).unwrap().algorithm,
            Algorithm::Sha512
        );
        let sha1_only = Dist {
            tarball: "t".into(),
            integrity: None,
            shasum: Some("a".repeat(40)),
        };
        assert!(matches!(
            checksum_of(&sha1_only, "x", false),
            Err(Error::WeakIntegrity { .. })
        ));
        assert_eq!(
            checksum_of(&sha1_only, "x", true).unwrap().algorithm,
            Algorithm::Sha1
        );
    }

    #[test]
    fn npmrc_scopes_and_tokens() {
        let mut config = NpmConfig::default();
        config
            .apply(
                Path::new(".npmrc"),
                "registry=https://r.example/npm\n@corp:registry=https://corp.example/api/npm/\n\
                 //corp.example/api/npm/:_authToken=${MCPIN_TEST_NO_SUCH_VAR}tok\n; comment\n",
                Expansion::FromEnvironment,
            )
            .unwrap();
        assert_eq!(
            config.registry_for("left-pad").as_str(),
            "https://r.example/npm/"
        );
        assert_eq!(
            config.registry_for("@corp/x").as_str(),
            "https://corp.example/api/npm/"
        );
        let tarball = Url::parse("https://corp.example/api/npm/@corp/x/-/x-1.0.0.tgz").unwrap();
        assert_eq!(config.auth_for(&tarball), Some(&Auth::Bearer("tok".into())));
        assert_eq!(
            config.auth_for(&Url::parse("https://r.example/npm/x").unwrap()),
            None
        );
        assert_eq!(
            packument_url(config.registry_for("@corp/x"), "@corp/x")
                .unwrap()
                .as_str(),
            "https://corp.example/api/npm/@corp%2fx"
        );
    }

    #[test]
    fn without_expansion_a_file_never_reads_the_environment() {
        // A project .npmrc sent `${GITHUB_TOKEN}` to its own registry on the first cold launch.
        // PATH stands in for the secret: it is set in every test process.
        let name = "PATH";
        let secret = std::env::var(name).expect("PATH is set");
        let mut config = NpmConfig::default();
        config
            .apply(
                Path::new("/home/u/.npmrc"),
                &format!("//r.example/:_authToken=${{{name}}}\n"),
                Expansion::Never,
            )
            .unwrap();
        let url = Url::parse("https://r.example/x").unwrap();
        assert_eq!(
            config.auth_for(&url),
            Some(&Auth::Bearer(format!("${{{name}}}")))
        );
        let mut expanded = NpmConfig::default();
        expanded
            .apply(
                Path::new("./.npmrc"),
                &format!("//r.example/:_authToken=${{{name}}}\n"),
                Expansion::FromEnvironment,
            )
            .unwrap();
        assert_eq!(expanded.auth_for(&url), Some(&Auth::Bearer(secret)));
    }

    #[test]
    fn registry_urls_must_be_https_or_loopback_and_errors_name_the_line() {
        for (text, line) in [
            ("; ok\nregistry=http://registry.example/\n", 2),
            ("@corp:registry=ftp://corp.example/\n", 1),
            ("a=b\n\nregistry=${REGISTRY}\n", 3),
            ("registry=data:x\n", 1),
        ] {
            let error = NpmConfig::default()
                .apply(Path::new("/home/u/.npmrc"), text, Expansion::Never)
                .unwrap_err();
            let message = error.to_string();
            assert!(
                message.starts_with(&format!("configuration /home/u/.npmrc: line {line}: ")),
                "{text:?}: {message}"
            );
        }
        let mut config = NpmConfig::default();
        config
            .apply(
                Path::new(".npmrc"),
                "registry=http://127.0.0.1:4873\n",
                Expansion::Never,
            )
            .unwrap();
        assert_eq!(config.registry.as_str(), "http://127.0.0.1:4873/");
    }
}
