//! Registry provenance: what npm and PyPI themselves publish about how a version was built.
//!
//! - npm: `GET <registry>/-/npm/v1/attestations/<name>@<version>` answers
//!   `{"attestations": [{"predicateType": …, "bundle": <Sigstore bundle>}, …]}`: the SLSA
//!   build provenance (keyless, from the CI that built it) and npm's publish attestation (signed
//!   with the npm registry's key). `GET <registry>/<name>/<version>` carries
//!   `_npmUser.trustedPublisher` when the version was published with trusted publishing.
//! - PyPI: `GET <index host>/integrity/<project>/<version>/<file>/provenance` answers a PEP 740
//!   provenance object, whose attestations are not Sigstore bundles: [`pep740_bundle`] turns
//!   each into one (verification material and DSSE envelope, nothing added or dropped but the
//!   framing).
//!
//! What was fetched is kept beside the artifact's blob in the store
//! (`v1/provenance/<sha256>/<document>.json`, written atomically) and served from there from
//! then on, also offline: a version's provenance does not change. Nothing here decides whether
//! a bundle is trustworthy; the verifier checks each against the policy's Sigstore signers.

use mcpin_attestation::{Ecosystem, PackageInfo};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use super::{AttestationFile, FileKind, MAX_FILE_BYTES, MAX_FILES};
use crate::{Client, Error, redact};

/// The DSSE payload type of every PEP 740 attestation (an in-toto statement).
const IN_TOTO: &str = "application/vnd.in-toto+json";
const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// What the registry says about how one artifact was built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryProvenance {
    /// The provenance document's URL (redacted), for messages.
    pub url: String,
    /// What was found, or why nothing was (no provenance published, offline and not in the
    /// store, a malformed document).
    pub found: Result<Found, String>,
}

/// Registry provenance that was fetched or read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Served from the store rather than the network.
    pub from_store: bool,
    /// Each attestation as a Sigstore bundle (kind [`FileKind::Bundle`]).
    pub bundles: Vec<AttestationFile>,
    /// npm: `versions[v]._npmUser.trustedPublisher`, when the registry names one. Unsigned
    /// registry metadata: it can take evidence away (a publisher that contradicts the
    /// certificate), never add any.
    pub trusted_publisher: Option<TrustedPublisher>,
}

/// npm trusted publishing: the CI provider whose OIDC token published the version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustedPublisher {
    /// `github`, `gitlab`, …
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_config_id: Option<String>,
}

impl TrustedPublisher {
    /// The OIDC issuer whose certificates this publisher's builds carry, when known.
    pub fn issuer(&self) -> Option<&'static str> {
        match self.id.as_str() {
            "github" => Some("https://token.actions.githubusercontent.com"),
            "gitlab" => Some("https://gitlab.com"),
            _ => None,
        }
    }
}

/// The documents kept in the store, by name.
const NPM_ATTESTATIONS: &str = "npm-attestations.json";
const NPM_VERSION: &str = "npm-version.json";
const PYPI_PROVENANCE: &str = "pypi-provenance.json";

impl Client {
    /// The registry's provenance for `package`, whose bytes hash to `sha256` (hex): from the
    /// store when it holds it, else fetched (unless offline) and stored. npm and PyPI only.
    pub fn registry_provenance(&self, package: &PackageInfo, sha256: &str) -> RegistryProvenance {
        let (url, document) = match self.provenance_url(package) {
            Ok(located) => located,
            Err(error) => {
                return RegistryProvenance {
                    url: String::new(),
                    found: Err(error.to_string()),
                };
            }
        };
        let shown = redact(&url);
        let found = self
            .provenance_document(&url, document, sha256, package)
            .and_then(|(bytes, from_store)| {
                let bundles = match package.ecosystem {
                    Ecosystem::Pypi => pep740_bundles(&bytes, &shown)?,
                    _ => npm_bundles(&bytes, &shown)?,
                };
                let trusted_publisher = match package.ecosystem {
                    Ecosystem::Npm => self.npm_trusted_publisher(package, sha256),
                    _ => None,
                };
                Ok(Found {
                    from_store,
                    bundles,
                    trusted_publisher,
                })
            });
        RegistryProvenance { url: shown, found }
    }

    /// Whether the store already holds the registry's provenance for `package` (a launch then
    /// needs no network for it).
    pub fn has_registry_provenance(&self, package: &PackageInfo, sha256: &str) -> bool {
        self.provenance_url(package).is_ok_and(|(_, document)| {
            matches!(self.store.provenance(sha256, document), Ok(Some(_)))
        })
    }

    /// Where the registry serves provenance for `package`, and the name it is stored under.
    fn provenance_url(&self, package: &PackageInfo) -> Result<(Url, &'static str), Error> {
        let unsupported = || {
            Error::Unsupported(format!(
                "registry provenance exists for npm and PyPI packages, not {}",
                package.ecosystem
            ))
        };
        let url = match package.ecosystem {
            Ecosystem::Npm => {
                let registry = self.settings.npm.registry_for(&package.name);
                registry.join(&format!(
                    "-/npm/v1/attestations/{}@{}",
                    package.name.replace('/', "%2f"),
                    package.version
                ))
            }
            Ecosystem::Pypi => {
                let (index, _) = crate::http::split_credentials(&self.settings.pypi_index);
                index.join(&format!(
                    "/integrity/{}/{}/{}/provenance",
                    mcpin_attestation::normalize_pypi_name(&package.name),
                    package.version,
                    package.file_name
                ))
            }
            _ => return Err(unsupported()),
        }
        .map_err(|e| Error::Spec {
            spec: package.purl.clone(),
            reason: e.to_string(),
        })?;
        let document = match package.ecosystem {
            Ecosystem::Npm => NPM_ATTESTATIONS,
            _ => PYPI_PROVENANCE,
        };
        Ok((url, document))
    }

    /// The stored document, or the fetched one (then stored). Errors are what a verdict says.
    fn provenance_document(
        &self,
        url: &Url,
        document: &str,
        sha256: &str,
        package: &PackageInfo,
    ) -> Result<(Vec<u8>, bool), String> {
        if let Some(bytes) = self
            .store
            .provenance(sha256, document)
            .map_err(|e| e.to_string())?
        {
            return Ok((bytes, true));
        }
        if self.http.offline() {
            return Err(format!(
                "offline mode: the store holds no registry provenance for {} (fetch it once online)",
                package.purl
            ));
        }
        let bytes = self
            .get_limited(url, "registry provenance", MAX_FILE_BYTES)
            .map_err(|error| match error {
                Error::NotFound { .. } => format!(
                    "the registry publishes no provenance for {} (HTTP 404 at {})",
                    package.purl,
                    redact(url)
                ),
                other => other.to_string(),
            })?;
        self.store
            .put_provenance(sha256, document, &bytes)
            .map_err(|e| e.to_string())?;
        Ok((bytes, false))
    }

    /// `_npmUser.trustedPublisher` of the version document (stored like the attestations).
    /// Unavailable metadata means no publisher is named.
    fn npm_trusted_publisher(
        &self,
        package: &PackageInfo,
        sha256: &str,
    ) -> Option<TrustedPublisher> {
        let bytes = match self.store.provenance(sha256, NPM_VERSION) {
            Ok(Some(bytes)) => bytes,
            _ if self.http.offline() => return None,
            _ => {
                let registry = self.settings.npm.registry_for(&package.name);
                let url = registry
                    .join(&format!(
                        "{}/{}",
                        package.name.replace('/', "%2f"),
                        package.version
                    ))
                    .ok()?;
                let bytes = self
                    .get_limited(&url, "npm version metadata", MAX_FILE_BYTES)
                    .ok()?;
                self.store
                    .put_provenance(sha256, NPM_VERSION, &bytes)
                    .ok()?;
                bytes
            }
        };
        let version: Value = mcpin_attestation::strict_json::from_slice(&bytes).ok()?;
        serde_json::from_value(version["_npmUser"]["trustedPublisher"].clone()).ok()
    }
}

/// The bundles of an npm attestations document.
fn npm_bundles(bytes: &[u8], url: &str) -> Result<Vec<AttestationFile>, String> {
    let malformed = |why: String| format!("the npm attestations at {url} are malformed: {why}");
    let document: Value =
        mcpin_attestation::strict_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    let Some(attestations) = document["attestations"].as_array() else {
        return Err(malformed("no `attestations` array".into()));
    };
    if attestations.len() > MAX_FILES {
        return Err(malformed(format!("more than {MAX_FILES} attestations")));
    }
    attestations
        .iter()
        .enumerate()
        .map(|(index, attestation)| {
            let bundle = &attestation["bundle"];
            if !bundle.is_object() {
                return Err(malformed(format!("attestations[{index}] has no bundle")));
            }
            let predicate = attestation["predicateType"].as_str().unwrap_or("?");
            Ok(AttestationFile {
                kind: FileKind::Bundle,
                origin: format!("{url} (attestations[{index}], {predicate})"),
                bytes: serde_json::to_vec(bundle).expect("a JSON value serializes"),
            })
        })
        .collect()
}

/// The attestations of a PEP 740 provenance object, each as a Sigstore bundle.
fn pep740_bundles(bytes: &[u8], url: &str) -> Result<Vec<AttestationFile>, String> {
    let malformed = |why: String| format!("the PEP 740 provenance at {url} is malformed: {why}");
    let provenance: Provenance =
        mcpin_attestation::strict_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    if provenance.version != 1 {
        return Err(malformed(format!(
            "version {} (this reader knows version 1)",
            provenance.version
        )));
    }
    let mut files = Vec::new();
    for (b, bundle) in provenance.attestation_bundles.iter().enumerate() {
        for (a, attestation) in bundle.attestations.iter().enumerate() {
            if files.len() == MAX_FILES {
                return Err(malformed(format!("more than {MAX_FILES} attestations")));
            }
            let converted = pep740_bundle(attestation).map_err(|why| {
                malformed(format!("attestation_bundles[{b}].attestations[{a}]: {why}"))
            })?;
            files.push(AttestationFile {
                kind: FileKind::Bundle,
                origin: format!("{url} (attestation_bundles[{b}].attestations[{a}])"),
                bytes: converted,
            });
        }
    }
    Ok(files)
}

/// A PEP 740 provenance object (`version`, `attestation_bundles`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Provenance {
    version: u32,
    attestation_bundles: Vec<AttestationBundle>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttestationBundle {
    /// The Trusted Publisher PyPI says uploaded the files: informational; the certificate in
    /// each attestation is what is checked.
    #[allow(dead_code)]
    publisher: Value,
    attestations: Vec<Value>,
}

/// One PEP 740 attestation as a Sigstore bundle v0.3: `verification_material.certificate`
/// becomes `verificationMaterial.certificate.rawBytes`, `transparency_entries` the
/// `tlogEntries` (as they are: the same protobuf JSON), and the envelope a DSSE envelope whose
/// payload is `envelope.statement`, payload type in-toto and one signature
/// `envelope.signature`. Unknown keys and other versions are refused.
pub fn pep740_bundle(attestation: &Value) -> Result<Vec<u8>, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Attestation {
        version: u32,
        verification_material: Material,
        envelope: Envelope,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Material {
        certificate: String,
        transparency_entries: Vec<Value>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Envelope {
        statement: String,
        signature: String,
    }
    let attestation: Attestation =
        serde_json::from_value(attestation.clone()).map_err(|e| e.to_string())?;
    if attestation.version != 1 {
        return Err(format!(
            "attestation version {} (this reader knows version 1)",
            attestation.version
        ));
    }
    let material = attestation.verification_material;
    if material.transparency_entries.is_empty() {
        return Err("no transparency entry".into());
    }
    let bundle = json!({
        "mediaType": BUNDLE_V03,
        "verificationMaterial": {
            "certificate": { "rawBytes": material.certificate },
            "tlogEntries": material.transparency_entries,
        },
        "dsseEnvelope": {
            "payload": attestation.envelope.statement,
            "payloadType": IN_TOTO,
            "signatures": [{ "sig": attestation.envelope.signature }],
        },
    });
    Ok(serde_json::to_vec(&bundle).expect("a JSON value serializes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attestation() -> Value {
        json!({
            "version": 1,
            "verification_material": {
                "certificate": "Y2VydA==",
                "transparency_entries": [{ "logIndex": "1", "kindVersion": { "kind": "dsse", "version": "0.0.1" } }],
            },
            "envelope": { "statement": "c3RhdGVtZW50", "signature": "c2ln" },
        })
    }

    #[test]
    fn a_pep740_attestation_becomes_a_v03_dsse_bundle_with_nothing_dropped() {
        let bundle: Value =
            serde_json::from_slice(&pep740_bundle(&attestation()).unwrap()).unwrap();
        assert_eq!(bundle["mediaType"], BUNDLE_V03);
        assert_eq!(
            bundle["verificationMaterial"]["certificate"]["rawBytes"],
            "Y2VydA=="
        );
        assert_eq!(
            bundle["verificationMaterial"]["tlogEntries"],
            attestation()["verification_material"]["transparency_entries"]
        );
        assert_eq!(bundle["dsseEnvelope"]["payload"], "c3RhdGVtZW50");
        assert_eq!(bundle["dsseEnvelope"]["payloadType"], IN_TOTO);
        assert_eq!(
            bundle["dsseEnvelope"]["signatures"],
            json!([{ "sig": "c2ln" }])
        );
    }

    #[test]
    fn unknown_keys_versions_and_empty_logs_are_refused() {
        let mut extra = attestation();
        extra["envelope"]["payloadType"] = json!("text/plain");
        assert!(pep740_bundle(&extra).unwrap_err().contains("payloadType"));
        let mut version = attestation();
        version["version"] = json!(2);
        assert!(pep740_bundle(&version).unwrap_err().contains("version 2"));
        let mut empty = attestation();
        empty["verification_material"]["transparency_entries"] = json!([]);
        assert!(
            pep740_bundle(&empty)
                .unwrap_err()
                .contains("no transparency entry")
        );
        let provenance = json!({ "version": 1, "attestation_bundles": [
            { "publisher": { "kind": "GitHub" }, "attestations": [attestation(), attestation()] }
        ]});
        let files = pep740_bundles(provenance.to_string().as_bytes(), "u").unwrap();
        assert_eq!(files.len(), 2);
        assert!(
            files[1]
                .origin
                .ends_with("attestation_bundles[0].attestations[1])")
        );
        let duplicate = br#"{"version":1,"version":1,"attestation_bundles":[]}"#;
        assert!(
            pep740_bundles(duplicate, "u")
                .unwrap_err()
                .contains("malformed")
        );
    }

    #[test]
    fn npm_attestation_documents_yield_their_bundles() {
        let document = json!({ "attestations": [
            { "predicateType": "https://slsa.dev/provenance/v1", "bundle": { "mediaType": BUNDLE_V03 } },
        ]});
        let files = npm_bundles(document.to_string().as_bytes(), "u").unwrap();
        assert_eq!(files.len(), 1);
        assert!(files[0].origin.contains("https://slsa.dev/provenance/v1"));
        assert!(
            npm_bundles(b"{}", "u")
                .unwrap_err()
                .contains("no `attestations`")
        );
    }
}
