//! A [`Resolver`] that asks the ecosystems' own clients: `npm view` for npm, `uv pip compile`
//! for PyPI (honouring their configuration: registry mirrors, proxies, CA files), and mcpin's
//! registry client for OCI tags.

use std::process::{Command, Stdio};

use crate::grammar::{Ecosystem, FloatingSpec, VersionSpec};

use super::{ResolveError, Resolver};

/// Resolves npm specs with `npm view NAME@SPEC version --json`, PyPI specs with
/// `uv pip compile --no-deps`, and an OCI tag by fetching the image into the store with the
/// registry client: the pin is the digest of the manifest's bytes (for an image index, of the
/// linux/<this arch> manifest, which is what `mcpin run` verifies and runs).
#[derive(Debug, Clone)]
pub struct ToolResolver {
    pub registry: mcpin_registry_client::Settings,
}

fn spec_text(spec: &FloatingSpec) -> &str {
    match &spec.package.version {
        VersionSpec::Floating(text) | VersionSpec::Exact(text) => text,
    }
}

fn run(mut command: Command, what: &str, stdin: Option<&str>) -> Result<String, ResolveError> {
    use std::io::Write;
    let program = format!("{:?}", command.get_program());
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = command.spawn().map_err(|error| ResolveError::Failed {
        spec: what.to_owned(),
        message: format!("cannot run {program}: {error}"),
    })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|error| ResolveError::Failed {
                spec: what.to_owned(),
                message: format!("writing to {program}: {error}"),
            })?;
    }
    let output = child
        .wait_with_output()
        .map_err(|error| ResolveError::Failed {
            spec: what.to_owned(),
            message: format!("waiting for {program}: {error}"),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Err(ResolveError::Failed {
            spec: what.to_owned(),
            message: format!("{program} failed ({}): {first}", output.status),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

impl Resolver for ToolResolver {
    fn resolve(&self, spec: &FloatingSpec) -> Result<String, ResolveError> {
        let package = &spec.package;
        match package.ecosystem {
            Ecosystem::Npm => {
                let what = format!("{}@{}", package.name, spec_text(spec));
                let mut command = Command::new("npm");
                command.args(["view", &what, "version", "--json"]);
                let stdout = run(command, &what, None)?;
                // One match prints a string; several print an array in publication order.
                let value: serde_json::Value =
                    serde_json::from_str(stdout.trim()).map_err(|error| ResolveError::Failed {
                        spec: what.clone(),
                        message: format!("unexpected npm output: {error}"),
                    })?;
                let versions: Vec<String> = match value {
                    serde_json::Value::String(v) => vec![v],
                    serde_json::Value::Array(items) => items
                        .into_iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                    _ => Vec::new(),
                };
                versions
                    .into_iter()
                    .filter_map(|v| {
                        node_semver::Version::parse(&v)
                            .ok()
                            .map(|parsed| (parsed, v))
                    })
                    .max_by(|a, b| a.0.cmp(&b.0))
                    .map(|(_, v)| v)
                    .ok_or(ResolveError::NoMatch { spec: what })
            }
            Ecosystem::Pypi => {
                let spec_part = match spec_text(spec) {
                    "latest" => "",
                    other => other,
                };
                let extras = if package.extras.is_empty() {
                    String::new()
                } else {
                    format!("[{}]", package.extras.join(","))
                };
                let requirement = format!("{}{extras}{spec_part}", package.name);
                let mut command = Command::new("uv");
                command.args([
                    "pip",
                    "compile",
                    "--no-deps",
                    "--no-header",
                    "--no-annotate",
                    "--quiet",
                    "-",
                ]);
                let stdout = run(command, &requirement, Some(&format!("{requirement}\n")))?;
                stdout
                    .lines()
                    .filter_map(|line| line.split_once("=="))
                    .find(|(name, _)| {
                        let name = name.split('[').next().unwrap_or(name);
                        name.trim().eq_ignore_ascii_case(&package.name)
                    })
                    .map(|(_, version)| version.trim().to_owned())
                    .ok_or(ResolveError::NoMatch { spec: requirement })
            }
            Ecosystem::Oci => {
                let image = spec.image.as_deref().unwrap_or(&package.name);
                let failed = |message: String| ResolveError::Failed {
                    spec: image.to_owned(),
                    message,
                };
                let reference =
                    mcpin_registry_client::oci::Reference::parse(image).map_err(failed)?;
                let client = mcpin_registry_client::Client::new(self.registry.clone())
                    .map_err(|e| failed(e.to_string()))?;
                let fetched = client
                    .fetch_oci(&reference)
                    .map_err(|e| failed(e.to_string()))?;
                Ok(format!("sha256:{}", fetched.sha256))
            }
            Ecosystem::Mcpb => Err(ResolveError::Failed {
                spec: package.name.clone(),
                message: "an MCPB bundle is not launched through npx, uvx or docker".to_owned(),
            }),
        }
    }
}
