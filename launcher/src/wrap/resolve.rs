//! A [`Resolver`] that asks mcpin's own registry client, with the settings `mcpin run` uses
//! (the user's configuration, never the project's `.npmrc`, `uv.toml` or `pyproject.toml`): an
//! npm dist-tag or range and a PyPI specifier resolve to the version the client fetches, an OCI
//! tag to the digest of the manifest it fetches.

use crate::grammar::{Ecosystem, FloatingSpec};

use super::{ResolveError, Resolver};

/// Resolves a floating spec by fetching what it names into the store: the pin is the version
/// fetched (npm, PyPI), or the digest of the manifest's bytes (OCI; for an image index, of the
/// linux/<this arch> manifest, which is what `mcpin run` verifies and runs). The bytes are
/// needed at launch anyway.
#[derive(Debug, Clone)]
pub struct ToolResolver {
    pub registry: mcpin_registry_client::Settings,
}

impl Resolver for ToolResolver {
    fn resolve(&self, spec: &FloatingSpec) -> Result<String, ResolveError> {
        let package = &spec.package;
        let shown = spec.image.clone().unwrap_or_else(|| package.name.clone());
        let failed = |message: String| ResolveError::Failed {
            spec: shown.clone(),
            message,
        };
        let registry_spec = match package.ecosystem {
            Ecosystem::Npm | Ecosystem::Pypi => package
                .registry_spec()
                .expect("npm and PyPI packages have a registry spec"),
            Ecosystem::Oci => mcpin_registry_client::Spec::Oci(
                mcpin_registry_client::oci::Reference::parse(&shown).map_err(failed)?,
            ),
            Ecosystem::Mcpb => {
                return Err(failed(
                    "an MCPB bundle is not launched through npx, uvx or docker".to_owned(),
                ));
            }
        };
        let client = mcpin_registry_client::Client::new(self.registry.clone())
            .map_err(|e| failed(e.to_string()))?;
        let fetched = client.fetch(&registry_spec).map_err(|error| match error {
            mcpin_registry_client::Error::NoMatchingVersion { .. }
            | mcpin_registry_client::Error::NotFound { .. } => ResolveError::NoMatch {
                spec: shown.clone(),
            },
            other => failed(other.to_string()),
        })?;
        Ok(match package.ecosystem {
            Ecosystem::Oci => format!("sha256:{}", fetched.sha256),
            _ => fetched.version,
        })
    }
}
