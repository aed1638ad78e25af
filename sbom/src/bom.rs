//! `mcpin sbom`: a CycloneDX 1.5 JSON document for a package, its lock and its tools.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cyclonedx_bom::external_models::date_time::DateTime;
use cyclonedx_bom::external_models::normalized_string::NormalizedString;
use cyclonedx_bom::external_models::spdx::{SpdxExpression, SpdxIdentifier};
use cyclonedx_bom::external_models::uri::{Purl, Uri};
use cyclonedx_bom::models::bom::{Bom, SpecVersion, UrnUuid};
use cyclonedx_bom::models::component::{Classification, Component, Components};
use cyclonedx_bom::models::dependency::{Dependencies, Dependency};
use cyclonedx_bom::models::external_reference::{
    ExternalReference, ExternalReferenceType, ExternalReferences,
};
use cyclonedx_bom::models::hash::{Hash, HashAlgorithm, HashValue, Hashes};
use cyclonedx_bom::models::license::{License, LicenseChoice, LicenseIdentifier, Licenses};
use cyclonedx_bom::models::metadata::Metadata;
use cyclonedx_bom::models::property::{Properties, Property};
use cyclonedx_bom::models::service::{Service, Services};
use cyclonedx_bom::validation::Validate;
use mcpin_artifact::Identified;
use mcpin_attestation::{Ecosystem, Lock, LockedPackages, NpmPackage, ToolsSection};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Our property namespace (never `cdx:`).
const NS: &str = "mcpin:";
const SERVER_REF: &str = "mcp-server";

/// Why an SBOM could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    #[error("the lock is for {lock} `{lock_name}`, the artifact is {artifact} `{artifact_name}`")]
    LockMismatch {
        lock: Ecosystem,
        lock_name: String,
        artifact: Ecosystem,
        artifact_name: String,
    },
    #[error("`{0}` cannot be written as a package URL: {1}")]
    Purl(String, String),
    #[error("dependency `{0}` has an integrity that is not sha512 base64: `{1}`")]
    Integrity(String, String),
    #[error("SOURCE_DATE_EPOCH `{0}` is not a Unix timestamp in range")]
    SourceDateEpoch(String),
    #[error("the CycloneDX document does not validate: {0}")]
    Invalid(String),
}

/// When and how the document is stamped.
#[derive(Debug, Clone, Default)]
pub struct SbomOptions {
    /// Derive `serialNumber` from the content instead of a random UUID, and
    /// write no timestamp unless `source_date_epoch` is set.
    pub reproducible: bool,
    /// `SOURCE_DATE_EPOCH`: the timestamp to write (implies reproducible).
    pub source_date_epoch: Option<String>,
}

/// Builds the SBOM of `identified`, with one component per package of `lock`
/// and the MCP server and its tools (a checked tools section) as services.
/// Returns pretty JSON bytes with a trailing newline.
pub fn build(
    identified: &Identified,
    lock: Option<&Lock>,
    tools: Option<&ToolsSection>,
    options: &SbomOptions,
) -> Result<Vec<u8>, SbomError> {
    let package = &identified.package;
    if let Some(lock) = lock
        && (lock.ecosystem() != package.ecosystem
            || lock.root.name != package.name
            || lock.root.version != package.version)
    {
        return Err(SbomError::LockMismatch {
            lock: lock.ecosystem(),
            lock_name: format!("{}@{}", lock.root.name, lock.root.version),
            artifact: package.ecosystem,
            artifact_name: format!("{}@{}", package.name, package.version),
        });
    }
    let tools = tools.map(ToolsPayload::read);

    let mut root = package_component(package.ecosystem, &package.name, &package.version)?;
    root.component_type = Classification::Application;
    root.hashes = Some(Hashes(vec![
        hash(HashAlgorithm::SHA_256, &identified.digests.sha256),
        hash(HashAlgorithm::SHA_512, &identified.digests.sha512),
    ]));
    root.licenses =
        root_license(identified).map(|license| Licenses(vec![license_choice(&license)]));
    let root_ref = root
        .bom_ref
        .clone()
        .expect("package components have a bom-ref");

    let mut properties = Vec::new();
    let (components, dependencies) = match lock {
        Some(lock) => {
            properties.push(Property::new(format!("{NS}lock:digest"), &lock.digest()));
            lock_components(lock, &root_ref)?
        }
        None => (Vec::new(), vec![dependency(&root_ref, BTreeSet::new())]),
    };
    if let Some(tools) = &tools {
        properties.push(Property::new(format!("{NS}tools:digest"), &tools.digest));
    }
    let serial = serial_number(identified, lock, tools.as_ref());

    let mut metadata = Metadata::new().map_err(|error| SbomError::Invalid(error.to_string()))?;
    metadata.timestamp = match (&options.source_date_epoch, options.reproducible) {
        (Some(epoch), _) => Some(timestamp(epoch)?),
        (None, true) => None,
        (None, false) => metadata.timestamp,
    };
    metadata.component = Some(root);
    if !properties.is_empty() {
        metadata.properties = Some(Properties(properties));
    }
    let reproducible = options.reproducible || options.source_date_epoch.is_some();
    let bom = Bom {
        serial_number: Some(if reproducible {
            serial
        } else {
            UrnUuid::generate()
        }),
        metadata: Some(metadata),
        components: Some(Components(components)),
        services: tools.as_ref().map(|tools| Services(vec![tools.service()])),
        dependencies: Some(Dependencies(dependencies)),
        spec_version: SpecVersion::V1_5,
        ..Bom::default()
    };
    let result = bom.validate_version(SpecVersion::V1_5);
    if result.has_errors() {
        return Err(SbomError::Invalid(format!("{result:?}")));
    }
    let mut json = Vec::new();
    bom.output_as_json_v1_5(&mut json)
        .map_err(|error| SbomError::Invalid(error.to_string()))?;
    let mut document: Value =
        serde_json::from_slice(&json).map_err(|error| SbomError::Invalid(error.to_string()))?;
    if let Some(tools) = &tools {
        tools.restore_descriptions(&mut document);
    }
    let mut bytes = serde_json::to_vec_pretty(&document).expect("a JSON value serializes");
    bytes.push(b'\n');
    Ok(bytes)
}

fn hash(algorithm: HashAlgorithm, hex: &str) -> Hash {
    Hash {
        alg: algorithm,
        content: HashValue(hex.to_owned()),
    }
}

/// A component for a package, named by its purl (also its bom-ref).
fn package_component(
    ecosystem: Ecosystem,
    name: &str,
    version: &str,
) -> Result<Component, SbomError> {
    let purl_error = |error: packageurl::Error| SbomError::Purl(name.to_owned(), error.to_string());
    let (group, short) = match name.split_once('/') {
        Some((scope, short)) if ecosystem == Ecosystem::Npm && scope.starts_with('@') => {
            (Some(scope), short)
        }
        _ => (None, name),
    };
    let mut purl = packageurl::PackageUrl::new(ecosystem.as_str(), short).map_err(purl_error)?;
    if let Some(group) = group {
        purl.with_namespace(group).map_err(purl_error)?;
    }
    purl.with_version(version).map_err(purl_error)?;
    let purl = purl.to_string();
    let mut component = Component::new(Classification::Library, short, version, Some(purl.clone()));
    component.group = group.map(NormalizedString::new);
    component.purl = Some(
        purl.parse::<Purl>()
            .map_err(|()| SbomError::Purl(name.to_owned(), "rejected by cyclonedx-bom".into()))?,
    );
    Ok(component)
}

/// A single SPDX id as `license.id`, an SPDX expression as `expression`,
/// anything else as `license.name`.
fn license_choice(license: &str) -> LicenseChoice {
    if let Ok(id) = SpdxIdentifier::try_from(license.to_owned()) {
        return LicenseChoice::License(License {
            license_identifier: LicenseIdentifier::SpdxId(id),
            ..License::named_license(license)
        });
    }
    match SpdxExpression::try_from(license.to_owned()) {
        Ok(expression) => LicenseChoice::Expression(expression),
        Err(_) => LicenseChoice::License(License::named_license(license)),
    }
}

/// npm `license`; Python `License-Expression` (PEP 639), else a one-line `License`.
fn root_license(identified: &Identified) -> Option<String> {
    match identified.package.ecosystem {
        Ecosystem::Npm => {
            let manifest: Value = serde_json::from_slice(&identified.metadata.bytes).ok()?;
            match manifest.get("license")? {
                Value::String(license) => Some(license.clone()),
                Value::Object(object) => object.get("type")?.as_str().map(str::to_owned),
                _ => None,
            }
        }
        Ecosystem::Pypi => {
            let text = std::str::from_utf8(&identified.metadata.bytes).ok()?;
            let header = |key: &str| mcpin_artifact::core_metadata_field(text, key);
            header("License-Expression").or_else(|| {
                header("License")
                    .filter(|license| SpdxExpression::try_from(license.clone()).is_ok())
            })
        }
        Ecosystem::Oci | Ecosystem::Mcpb => None,
    }
}

fn dependency(bom_ref: &str, depends_on: BTreeSet<String>) -> Dependency {
    Dependency {
        dependency_ref: bom_ref.to_owned(),
        dependencies: depends_on.into_iter().collect(),
    }
}

/// One component per distinct package (purl) in the lock, and the graph
/// between them, rooted at `root_ref`.
fn lock_components(
    lock: &Lock,
    root_ref: &str,
) -> Result<(Vec<Component>, Vec<Dependency>), SbomError> {
    let mut components: BTreeMap<String, Component> = BTreeMap::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.insert(root_ref.to_owned(), BTreeSet::new());
    match &lock.packages {
        LockedPackages::Npm { packages } => {
            let by_path: BTreeMap<&str, &NpmPackage> =
                packages.iter().map(|p| (p.path.as_str(), p)).collect();
            let mut refs = BTreeMap::new();
            for package in packages {
                let mut component =
                    package_component(Ecosystem::Npm, &package.name, &package.version)?;
                let bom_ref = component.bom_ref.clone().expect("set");
                refs.insert(package.path.as_str(), bom_ref.clone());
                let sha512 = STANDARD
                    .decode(package.integrity.trim_start_matches("sha512-"))
                    .ok()
                    .filter(|bytes| bytes.len() == 64)
                    .ok_or_else(|| {
                        SbomError::Integrity(package.path.clone(), package.integrity.clone())
                    })?;
                component.hashes = Some(Hashes(vec![hash(
                    HashAlgorithm::SHA_512,
                    &hex::encode(sha512),
                )]));
                component.licenses = package
                    .license
                    .as_deref()
                    .map(|license| Licenses(vec![license_choice(license)]));
                component.external_references =
                    Some(ExternalReferences(vec![ExternalReference::new(
                        ExternalReferenceType::Distribution,
                        Uri::new(&package.resolved),
                    )]));
                let existing = components.entry(bom_ref.clone()).or_insert(component);
                // The same version may be installed at several paths; list them all.
                let properties = existing
                    .properties
                    .get_or_insert_with(|| Properties(Vec::new()));
                properties
                    .0
                    .push(Property::new(format!("{NS}npm:path"), &package.path));
                graph.entry(bom_ref).or_default();
            }
            let resolve = |from: &str, name: &str| -> Option<String> {
                node_resolve(from, name, &by_path).and_then(|path| refs.get(path).cloned())
            };
            for name in &lock.root.dependencies {
                if let Some(target) = resolve("", name) {
                    graph.get_mut(root_ref).expect("inserted").insert(target);
                }
            }
            for package in packages {
                let from = refs[package.path.as_str()].clone();
                for name in package.dependencies.keys() {
                    if let Some(target) = resolve(&package.path, name) {
                        graph.entry(from.clone()).or_default().insert(target);
                    }
                }
            }
        }
        LockedPackages::Pypi { packages, target } => {
            let mut refs = BTreeMap::new();
            for package in packages {
                let mut component =
                    package_component(Ecosystem::Pypi, &package.name, &package.version)?;
                let bom_ref = component.bom_ref.clone().expect("set");
                refs.insert(package.name.as_str(), bom_ref.clone());
                if let [file] = package.files.as_slice() {
                    component.hashes =
                        Some(Hashes(vec![hash(HashAlgorithm::SHA_256, &file.sha256)]));
                }
                component.external_references = Some(ExternalReferences(
                    package
                        .files
                        .iter()
                        .map(|file| ExternalReference {
                            hashes: Some(Hashes(vec![hash(HashAlgorithm::SHA_256, &file.sha256)])),
                            ..ExternalReference::new(
                                ExternalReferenceType::Distribution,
                                Uri::new(&file.url),
                            )
                        })
                        .collect(),
                ));
                let mut properties = vec![
                    Property::new(format!("{NS}pypi:python-version"), &target.python_version),
                    Property::new(format!("{NS}pypi:platform"), &target.platform),
                ];
                if let Some(marker) = &package.marker {
                    properties.push(Property::new(format!("{NS}pypi:marker"), marker));
                }
                component.properties = Some(Properties(properties));
                components.insert(bom_ref.clone(), component);
                graph.entry(bom_ref).or_default();
            }
            for name in &lock.root.dependencies {
                if let Some(target) = refs.get(name.as_str()) {
                    graph
                        .get_mut(root_ref)
                        .expect("inserted")
                        .insert(target.clone());
                }
            }
            for package in packages {
                let from = refs[package.name.as_str()].clone();
                for name in &package.dependencies {
                    if let Some(target) = refs.get(name.as_str()) {
                        graph
                            .entry(from.clone())
                            .or_default()
                            .insert(target.clone());
                    }
                }
            }
        }
    }
    let dependencies = graph
        .into_iter()
        .map(|(from, to)| dependency(&from, to))
        .collect();
    Ok((components.into_values().collect(), dependencies))
}

/// Node's module resolution: the nearest `node_modules/<name>` walking up
/// from `from` (an install path, `""` for the root).
fn node_resolve<'a>(
    from: &str,
    name: &str,
    by_path: &BTreeMap<&'a str, &NpmPackage>,
) -> Option<&'a str> {
    let mut base = from.to_owned();
    loop {
        let candidate = if base.is_empty() {
            format!("node_modules/{name}")
        } else {
            format!("{base}/node_modules/{name}")
        };
        if let Some((path, _)) = by_path.get_key_value(candidate.as_str()) {
            return Some(path);
        }
        if base.is_empty() {
            return None;
        }
        base = match base.rfind("/node_modules/") {
            Some(index) => base[..index].to_owned(),
            None => String::new(),
        };
    }
}

/// A content-derived serial number (UUID v8 over the artifact, lock and tools digests).
fn serial_number(
    identified: &Identified,
    lock: Option<&Lock>,
    tools: Option<&ToolsPayload>,
) -> UrnUuid {
    let mut hasher = Sha256::new();
    hasher.update(identified.digests.sha256.as_bytes());
    hasher.update(b"\0");
    hasher.update(lock.map(Lock::digest).unwrap_or_default().as_bytes());
    hasher.update(b"\0");
    hasher.update(
        tools
            .map(|tools| tools.digest.as_str())
            .unwrap_or_default()
            .as_bytes(),
    );
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    UrnUuid::from(uuid::Uuid::new_v8(bytes))
}

fn timestamp(epoch: &str) -> Result<DateTime, SbomError> {
    let invalid = || SbomError::SourceDateEpoch(epoch.to_owned());
    let seconds: i64 = epoch.trim().parse().map_err(|_| invalid())?;
    let time = time::OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| invalid())?;
    let text = time
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|_| invalid())?;
    DateTime::try_from(text).map_err(|_| invalid())
}

/// What the SBOM shows of a tools section (`mcpin tools capture`).
struct ToolsPayload {
    digest: String,
    server_name: Option<String>,
    server_version: Option<String>,
    tools: Vec<Tool>,
}

struct Tool {
    name: String,
    description: Option<String>,
    digest: Option<String>,
    input_schema_digest: String,
    hints: Vec<(String, String)>,
}

impl ToolsPayload {
    fn read(section: &ToolsSection) -> Self {
        let server_field = |key: &str| {
            section
                .payload
                .server_info
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let mut tools: Vec<Tool> = section
            .payload
            .tools
            .iter()
            .map(|tool| {
                let schema = serde_json_canonicalizer::to_vec(&tool.input_schema)
                    .expect("a JSON value serializes");
                let hints = tool
                    .annotations
                    .as_ref()
                    .and_then(Value::as_object)
                    .map(|annotations| {
                        annotations
                            .iter()
                            .map(|(key, hint)| {
                                let text = match hint {
                                    Value::String(text) => text.clone(),
                                    other => other.to_string(),
                                };
                                (key.clone(), text)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Tool {
                    name: tool.name.clone(),
                    description: tool.description.clone(),
                    digest: section.tool_digests.get(&tool.name).cloned(),
                    input_schema_digest: format!("sha256:{}", hex::encode(Sha256::digest(schema))),
                    hints,
                }
            })
            .collect();
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        ToolsPayload {
            digest: section.digest.clone(),
            server_name: server_field("name"),
            server_version: server_field("version"),
            tools,
        }
    }

    fn service(&self) -> Service {
        let mut server = Service::new(
            self.server_name.as_deref().unwrap_or("mcp-server"),
            Some(SERVER_REF.to_owned()),
        );
        server.version = self.server_version.as_deref().map(NormalizedString::new);
        server.properties = Some(Properties(vec![Property::new(
            format!("{NS}tools:digest"),
            &self.digest,
        )]));
        let tools = self
            .tools
            .iter()
            .map(|tool| {
                let mut service =
                    Service::new(&tool.name, Some(format!("{SERVER_REF}:tool:{}", tool.name)));
                service.description = tool.description.as_deref().map(NormalizedString::new);
                let mut properties = Vec::new();
                if let Some(digest) = &tool.digest {
                    properties.push(Property::new(format!("{NS}tool:digest"), digest));
                }
                properties.push(Property::new(
                    format!("{NS}tool:inputSchema:digest"),
                    &tool.input_schema_digest,
                ));
                for (key, value) in &tool.hints {
                    properties.push(Property::new(format!("{NS}tool:annotation:{key}"), value));
                }
                service.properties = Some(Properties(properties));
                service
            })
            .collect();
        server.services = Some(Services(tools));
        server
    }

    /// cyclonedx-bom turns line breaks and tabs into spaces (XML
    /// `normalizedString`); JSON has no such rule, and a description must be
    /// verbatim, so the original text goes back in.
    fn restore_descriptions(&self, document: &mut Value) {
        let Some(services) = document
            .pointer_mut("/services/0/services")
            .and_then(Value::as_array_mut)
        else {
            return;
        };
        for (service, tool) in services.iter_mut().zip(&self.tools) {
            if let (Some(description), Some(object)) = (&tool.description, service.as_object_mut())
            {
                object.insert("description".into(), Value::String(description.clone()));
            }
        }
    }
}
