//! PyPI-style simple indexes: the PEP 691 JSON form with the PEP 503 HTML form
//! as fallback, relative file URLs resolved against the page, sha256 required,
//! yanked files skipped unless pinned exactly (PEP 592), the best wheel for the
//! target platform (else the sdist), and basic auth from the index URL.

use mcpin_attestation::normalize_pypi_name;
use std::str::FromStr;

use pep440_rs::{Operator, Version, VersionSpecifiers};
use serde::Deserialize;
use url::Url;

use crate::http::{read_limited, split_credentials};
use crate::store::{Algorithm, Checksum};
use crate::{Auth, Client, Error, Fetched, redact, registry_name};

/// The public PyPI simple index.
pub const DEFAULT_INDEX: &str = "https://pypi.org/simple/";

/// The machine a wheel must fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelTarget {
    /// `linux`, `macos` or `windows` (as `std::env::consts::OS`).
    pub os: String,
    /// `x86_64`, `aarch64`, … (as `std::env::consts::ARCH`).
    pub arch: String,
    /// The CPython minor version (3, 12) when known; without it only
    /// interpreter-independent wheels (`py3`, `abi3` from 3.x) qualify.
    pub python: Option<(u8, u8)>,
}

impl WheelTarget {
    /// The running platform.
    pub fn current() -> WheelTarget {
        WheelTarget {
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            python: None,
        }
    }

    fn platform_fits(&self, tag: &str) -> bool {
        if tag == "any" {
            return true;
        }
        let arch = self.arch.as_str();
        match self.os.as_str() {
            "linux" => {
                (tag.starts_with("manylinux")
                    || tag.starts_with("musllinux")
                    || tag.starts_with("linux_"))
                    && tag.ends_with(&format!("_{arch}"))
            }
            "macos" => {
                let mac_arch = if arch == "aarch64" { "arm64" } else { arch };
                tag.starts_with("macosx_")
                    && (tag.ends_with(&format!("_{mac_arch}")) || tag.ends_with("_universal2"))
            }
            "windows" => match arch {
                "x86_64" => tag == "win_amd64",
                "aarch64" => tag == "win_arm64",
                "x86" => tag == "win32",
                _ => false,
            },
            _ => false,
        }
    }

    fn python_fits(&self, python: &str, abi: &str) -> bool {
        let minor_of =
            |tag: &str, prefix: &str| -> Option<u8> { tag.strip_prefix(prefix)?.parse().ok() };
        if python == "py3" || python == "py2.py3" {
            return abi == "none";
        }
        if let Some(minor) = minor_of(python, "py3") {
            return abi == "none" && self.python.is_none_or(|(_, have)| have >= minor);
        }
        let Some(minor) = minor_of(python, "cp3") else {
            return false;
        };
        match (abi, self.python) {
            ("abi3", None) => true,
            ("abi3", Some((3, have))) => have >= minor,
            (_, Some((3, have))) => have == minor,
            _ => false,
        }
    }

    /// 2 for a platform-specific fit, 1 for a pure wheel, None if it does not fit.
    fn score(&self, file_name: &str) -> Option<u8> {
        let stem = file_name.strip_suffix(".whl")?;
        let parts: Vec<&str> = stem.split('-').collect();
        if !(5..=6).contains(&parts.len()) {
            return None;
        }
        let [python, abi, platform] = [
            parts[parts.len() - 3],
            parts[parts.len() - 2],
            parts[parts.len() - 1],
        ];
        let python_ok = python.split('.').any(|p| {
            abi.split('.').any(|a| self.python_fits(p, a))
                || (p.starts_with("py3") && abi == "none")
        });
        let platforms: Vec<&str> = platform.split('.').collect();
        if !python_ok || !platforms.iter().any(|p| self.platform_fits(p)) {
            return None;
        }
        Some(if platforms.contains(&"any") { 1 } else { 2 })
    }
}

/// One file offered by the index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IndexFile {
    filename: String,
    url: String,
    sha256: Option<String>,
    yanked: bool,
}

#[derive(Deserialize)]
struct JsonPage {
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    yanked: serde_json::Value,
}

fn parse_json_page(bytes: &[u8], url: &Url) -> Result<Vec<IndexFile>, Error> {
    let page: JsonPage = crate::http::parse_json(bytes, url)?;
    Ok(page
        .files
        .into_iter()
        .map(|file| IndexFile {
            yanked: !matches!(
                file.yanked,
                serde_json::Value::Bool(false) | serde_json::Value::Null
            ),
            sha256: file.hashes.get("sha256").cloned(),
            filename: file.filename,
            url: file.url,
        })
        .collect())
}

/// The value of `attribute` in the tag body `attrs` (`href="…" data-yanked`).
fn attribute<'a>(attrs: &'a str, attribute: &str) -> Option<&'a str> {
    let mut rest = attrs;
    while let Some(position) = rest.find(attribute) {
        let before_ok = position == 0 || rest.as_bytes()[position - 1].is_ascii_whitespace();
        let after = rest[position + attribute.len()..].trim_start();
        if before_ok
            && (after.is_empty()
                || !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-'))
        {
            let Some(value) = after.strip_prefix('=') else {
                return Some("");
            };
            let value = value.trim_start();
            return Some(match value.chars().next() {
                Some(quote @ ('"' | '\'')) => value[1..].split(quote).next().unwrap_or_default(),
                _ => value
                    .split(|c: char| c.is_ascii_whitespace() || c == '>')
                    .next()
                    .unwrap_or_default(),
            });
        }
        rest = &rest[position + attribute.len()..];
    }
    None
}

fn unescape_html(text: &str) -> String {
    text.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#039;", "'")
}

/// PEP 503 pages are a list of anchors; this reads exactly those.
fn parse_html_page(text: &str) -> Vec<IndexFile> {
    let mut files = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<a ").or_else(|| rest.find("<A ")) {
        rest = &rest[start + 3..];
        let Some(end) = rest.find('>') else { break };
        let attrs = &rest[..end];
        let Some(close) = rest[end + 1..]
            .find("</a>")
            .or_else(|| rest[end + 1..].find("</A>"))
        else {
            break;
        };
        let text = unescape_html(rest[end + 1..end + 1 + close].trim());
        rest = &rest[end + 1 + close..];
        let Some(href) = attribute(attrs, "href").map(unescape_html) else {
            continue;
        };
        let (url, fragment) = href
            .split_once('#')
            .map_or((href.as_str(), ""), |(u, f)| (u, f));
        let sha256 = fragment.strip_prefix("sha256=").map(str::to_owned);
        files.push(IndexFile {
            filename: text,
            url: url.to_owned(),
            sha256,
            yanked: attribute(attrs, "data-yanked").is_some(),
        });
    }
    files
}

/// The version a file name carries, if the file belongs to `project`.
fn version_of(file_name: &str, project: &str) -> Option<Version> {
    let (name, version) = if let Some(stem) = file_name.strip_suffix(".whl") {
        let mut parts = stem.split('-');
        (parts.next()?, parts.next()?)
    } else {
        let stem = file_name
            .strip_suffix(".tar.gz")
            .or_else(|| file_name.strip_suffix(".zip"))?;
        stem.rsplit_once('-')?
    };
    (normalize_pypi_name(name) == normalize_pypi_name(project))
        .then(|| Version::from_str(version).ok())?
}

fn exact_pin(specifiers: &VersionSpecifiers) -> Option<&Version> {
    match specifiers.iter().collect::<Vec<_>>().as_slice() {
        [only] if matches!(only.operator(), Operator::Equal | Operator::ExactEqual) => {
            Some(only.version())
        }
        _ => None,
    }
}

/// The file to fetch: newest matching version, then the best-fitting file of it.
fn choose<'a>(
    files: &'a [IndexFile],
    project: &str,
    specifiers: &VersionSpecifiers,
    target: &WheelTarget,
) -> Option<(Version, &'a IndexFile)> {
    let pinned = exact_pin(specifiers);
    let candidates = files.iter().filter_map(|file| {
        let version = version_of(&file.filename, project)?;
        let allowed = specifiers.contains(&version)
            && (pinned.is_some() || (!file.yanked && !version.any_prerelease()));
        let score = if file.filename.ends_with(".whl") {
            target.score(&file.filename)?
        } else {
            0
        };
        allowed.then_some((version, score, file))
    });
    candidates
        .max_by(|(va, sa, _), (vb, sb, _)| {
            va.cmp(vb)
                .then(sa.cmp(sb))
                .then(std::cmp::Ordering::Greater)
        })
        .map(|(version, _, file)| (version, file))
}

impl Client {
    /// Resolves `name` + PEP 440 `specifiers` on the index and fetches the file.
    pub fn fetch_pypi(&self, index: &Url, name: &str, specifiers: &str) -> Result<Fetched, Error> {
        let (index, credentials) =
            split_credentials(&crate::npm::with_trailing_slash(index.clone()));
        let auth = credentials.map(|(user, password)| Auth::basic(&user, password.as_deref()));
        let shown_index = redact(&index);
        let project = normalize_pypi_name(name);
        let asked_key = format!("pypi {shown_index} {project} {specifiers}");
        if self.http.offline() {
            return self.offline_ref(
                &asked_key,
                &format!("pypi:{name}{specifiers} from {shown_index}"),
            );
        }
        let parsed = VersionSpecifiers::from_str(specifiers).map_err(|error| Error::Spec {
            spec: format!("pypi:{name}{specifiers}"),
            reason: error.to_string(),
        })?;
        let page_url = index
            .join(&format!("{project}/"))
            .map_err(|error| Error::Spec {
                spec: format!("pypi:{name}"),
                reason: error.to_string(),
            })?;
        let response = self.http.get_ok(&page_url, &format!("PyPI project {project}"), |client| {
            let request = client.get(page_url.clone()).header(
                "accept",
                "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01",
            );
            Auth::apply(auth.as_ref(), request)
        })?;
        let final_url = response.url().clone();
        let is_json = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/vnd.pypi.simple.v1+json"));
        let body = read_limited(response, &page_url, crate::METADATA_LIMIT)?;
        let files = if is_json {
            parse_json_page(&body, &final_url)?
        } else {
            parse_html_page(&String::from_utf8_lossy(&body))
        };
        let (version, file) = choose(&files, &project, &parsed, &self.settings.wheel_target)
            .ok_or_else(|| Error::NoMatchingVersion {
                registry: registry_name(&index),
                name: project.clone(),
                requirement: format!(
                    "{specifiers} (for {} {})",
                    self.settings.wheel_target.os, self.settings.wheel_target.arch
                ),
            })?;
        let what = format!("{} from {}", file.filename, redact(&final_url));
        let checksum = file
            .sha256
            .as_deref()
            .and_then(|hex| Checksum::new(Algorithm::Sha256, hex))
            .ok_or_else(|| Error::WeakIntegrity {
                what: what.clone(),
                reason: "the index gives no sha256 for it".into(),
            })?;
        let file_url = final_url.join(&file.url).map_err(|error| Error::Metadata {
            url: redact(&final_url),
            reason: format!("bad file URL `{}`: {error}", file.url),
        })?;
        // Index credentials go to the index's own host only.
        let same_origin = file_url.origin() == index.origin();
        let stored = self.download(&checksum, &file_url, auth.as_ref().filter(|_| same_origin))?;
        let version = version.to_string();
        let keys = vec![
            format!("pypi {shown_index} {project} =={version}"),
            asked_key,
        ];
        self.record(
            keys,
            "pypi",
            &shown_index,
            &project,
            &version,
            &file.filename,
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

    fn linux() -> WheelTarget {
        WheelTarget {
            os: "linux".into(),
            arch: "x86_64".into(),
            python: Some((3, 12)),
        }
    }

    #[test]
    fn wheel_tags() {
        let t = linux();
        assert_eq!(t.score("x-1.0-py3-none-any.whl"), Some(1));
        assert_eq!(
            t.score("x-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
            Some(2)
        );
        assert_eq!(t.score("x-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"), None);
        assert_eq!(
            t.score("x-1.0-cp39-abi3-manylinux_2_17_x86_64.whl"),
            Some(2)
        );
        assert_eq!(t.score("x-1.0-cp312-cp312-macosx_11_0_arm64.whl"), None);
        assert_eq!(t.score("x-1.0-cp312-cp312-win_amd64.whl"), None);
        assert_eq!(t.score("x-1.0-py2-none-any.whl"), None);
    }

    #[test]
    fn html_and_json_pages() {
        let html = r#"<html><body><a href="../../packages/x-1.0-py3-none-any.whl#sha256=ab&amp;c" data-yanked="bad">x-1.0-py3-none-any.whl</a>
            <a href="/p/x-1.1.tar.gz#sha256=cd">x-1.1.tar.gz</a></body></html>"#;
        let files = parse_html_page(html);
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].url, "../../packages/x-1.0-py3-none-any.whl");
        assert!(files[0].yanked);
        assert_eq!(files[1].sha256.as_deref(), Some("cd"));
        assert!(!files[1].yanked);

        let json = br#"{"meta":{"api-version":"1.1"},"name":"x","files":[
            {"filename":"x-1.0-py3-none-any.whl","url":"https://files.example/x.whl","hashes":{"sha256":"ab"},"yanked":"broken"},
            {"filename":"x-1.1-py3-none-any.whl","url":"x-1.1-py3-none-any.whl","hashes":{"sha256":"cd"},"yanked":false}]}"#;
        let url = Url::parse("https://pypi.example/simple/x/").unwrap();
        let files = parse_json_page(json, &url).unwrap();
        assert!(files[0].yanked && !files[1].yanked);
    }

    #[test]
    fn yanked_files_only_when_pinned_and_wheels_before_sdists() {
        let file = |filename: &str, yanked| IndexFile {
            filename: filename.into(),
            url: filename.into(),
            sha256: None,
            yanked,
        };
        let files = [
            file("my_pkg-1.0.tar.gz", false),
            file("my_pkg-1.0-py3-none-any.whl", false),
            file("my_pkg-2.0-py3-none-any.whl", true),
            file("my_pkg-3.0rc1-py3-none-any.whl", false),
        ];
        let any = VersionSpecifiers::from_str("").unwrap();
        let (version, chosen) = choose(&files, "My.Pkg", &any, &linux()).unwrap();
        assert_eq!(
            (version.to_string().as_str(), chosen.filename.as_str()),
            ("1.0", "my_pkg-1.0-py3-none-any.whl")
        );
        let pinned = VersionSpecifiers::from_str("==2.0").unwrap();
        assert_eq!(
            choose(&files, "my-pkg", &pinned, &linux())
                .unwrap()
                .0
                .to_string(),
            "2.0"
        );
        let none = VersionSpecifiers::from_str(">=4").unwrap();
        assert!(choose(&files, "my-pkg", &none, &linux()).is_none());
    }
}
