//! An HTTPS attestation store: a static host serving, for an artifact whose
//! sha256 is H, `<url>/<H>/index.json` (a JSON array of file names) and those
//! files (bundles `*.sigstore.json`, CycloneDX SBOMs). Files are fetched into a
//! local directory and then read like the directory store.
//!
//! Only `https://` URLs are used, except plain HTTP to a loopback address
//! (a local mirror). Names must be plain file names; sizes are bounded.

use std::path::{Path, PathBuf};

/// Upper bound on any one file fetched from a store.
const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;
const MAX_FILES: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("attestation store URL `{0}` must be https:// (plain http only to a loopback address)")]
    Scheme(String),
    #[error("attestation store {url}: {why}")]
    Fetch { url: String, why: String },
    #[error("attestation store {url}: index.json is not a JSON array of plain file names: {why}")]
    Index { url: String, why: String },
    #[error("cannot write `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// Refuses anything but `https://`, or `http://` to a loopback host.
pub fn check_scheme(url: &str) -> Result<(), StoreError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| StoreError::Scheme(url.to_owned()))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(domain)) => domain == "localhost",
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(StoreError::Scheme(url.to_owned())),
    }
}

/// Fetches the files the store lists for `sha256` into `dest`; returns their paths.
pub fn fetch(url: &str, sha256: &str, dest: &Path) -> Result<Vec<PathBuf>, StoreError> {
    check_scheme(url)?;
    let base = format!("{}/{sha256}", url.trim_end_matches('/'));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StoreError::Runtime)?;
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| StoreError::Fetch {
            url: url.to_owned(),
            why: e.to_string(),
        })?;
    runtime.block_on(async {
        let index_url = format!("{base}/index.json");
        let index = get(&client, &index_url).await?;
        let names: Vec<String> = serde_json::from_slice(&index).map_err(|e| StoreError::Index {
            url: index_url.clone(),
            why: e.to_string(),
        })?;
        if names.len() > MAX_FILES {
            return Err(StoreError::Index {
                url: index_url,
                why: format!("{} entries (at most {MAX_FILES})", names.len()),
            });
        }
        fs_err::create_dir_all(dest).map_err(|source| StoreError::Io {
            path: dest.to_owned(),
            source,
        })?;
        let mut paths = Vec::new();
        for name in names {
            let plain = !name.is_empty()
                && name != "."
                && name != ".."
                && !name.contains(['/', '\\', '\0'])
                && name != "index.json";
            if !plain {
                return Err(StoreError::Index {
                    url: index_url,
                    why: format!("`{name}` is not a plain file name"),
                });
            }
            let bytes = get(&client, &format!("{base}/{name}")).await?;
            let path = dest.join(&name);
            fs_err::write(&path, bytes).map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
            paths.push(path);
        }
        Ok(paths)
    })
}

async fn get(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, StoreError> {
    let error = |why: String| StoreError::Fetch {
        url: url.to_owned(),
        why,
    };
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| error(format!("request failed: {e}")))?;
    if !response.status().is_success() {
        return Err(error(format!("HTTP {}", response.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| error(format!("reading the body: {e}")))?
    {
        if body.len() + chunk.len() > MAX_FILE_BYTES {
            return Err(error(format!("larger than {MAX_FILE_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(check_scheme("https://attest.example.com/mcpin").is_ok());
        assert!(check_scheme("http://127.0.0.1:8080/store").is_ok());
        assert!(check_scheme("http://localhost/store").is_ok());
        assert!(check_scheme("http://[::1]:9/store").is_ok());
        for bad in [
            "http://attest.example.com/",
            "file:///etc",
            "ftp://x/",
            "not a url",
        ] {
            assert!(
                matches!(check_scheme(bad), Err(StoreError::Scheme(_))),
                "{bad}"
            );
        }
    }
}
