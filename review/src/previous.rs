//! The last version of a package the policy's approvers approved, found in the policy's stores
//! (`[store] dir`, `url`, `oci`): an approval bundle that verifies under an approver's key, for
//! another version of the same package, beside a package statement by the same key carrying
//! tools. The candidates are the directory store's entries and the digests the policy's rules
//! for the package pin (how a registry store, which cannot be listed, is found). Only verified
//! bundles count: a planted "previous approval" must not make a diff look empty.

use std::collections::BTreeSet;

use mcpin_artifact::Identified;
use mcpin_attestation::{
    APPROVAL_PREDICATE_TYPE, Bundle, PACKAGE_PREDICATE_TYPE, PackagePredicate, ToolsSection,
};
use mcpin_registry_client::Client;
use mcpin_registry_client::attestations::{FileKind, Sources};
use mcpin_verifier::policy::{Policy, SignerKind};

/// `(version, sha256, tools)` of the newest other approved version, by approval time.
pub(crate) fn approved(
    client: &Client,
    policy: &Policy,
    current: &Identified,
) -> Option<(String, String, ToolsSection)> {
    let keys: Vec<_> = policy
        .approvers
        .iter()
        .filter_map(|id| match &policy.signer(id)?.kind {
            SignerKind::Key(key) => Some(key),
            SignerKind::Sigstore { .. } => None,
        })
        .collect();
    let package = &current.package;
    // The digests the rules pin are asked of every store; the directory's own entries only of
    // the directory (a registry store is not asked about every entry of a local one).
    let pinned: BTreeSet<String> = policy
        .packages
        .matching(package.ecosystem, &package.name)
        .into_iter()
        .flatten()
        .flat_map(|rule| rule.digests)
        .filter(|(algorithm, _)| algorithm == "sha256")
        .map(|(_, hex)| hex)
        .collect();
    let mut candidates = pinned.clone();
    if let Some(dir) = &policy.store_dir {
        candidates.extend(
            fs_err::read_dir(dir)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned()),
        );
    }
    candidates.remove(&current.digests.sha256);
    // Names a store can be asked about: a directory entry could be named anything.
    candidates.retain(|sha256| {
        sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    let every_store = policy.attestation_sources();
    let directory = Sources {
        dir: policy.store_dir.clone(),
        https: None,
        oci: None,
    };
    let mut best: Option<(String, String, String, ToolsSection)> = None;
    for sha256 in candidates {
        let mut approved_at = None;
        let mut tools = None;
        let sources = if pinned.contains(&sha256) {
            &every_store
        } else {
            &directory
        };
        let gathered = client.gather_attestations(sources, &sha256);
        for file in gathered.files.iter().filter(|f| f.kind == FileKind::Bundle) {
            let Ok(bundle) = Bundle::from_json(&file.bytes) else {
                continue;
            };
            for key in &keys {
                let Ok(verified) = mcpin_verifier::verify_bundle(&bundle, key) else {
                    continue;
                };
                let statement = verified.statement();
                let about = statement.subject.iter().any(|s| {
                    s.digest.get("sha256") == Some(&sha256)
                        && s.name.starts_with(&format!("pkg:{}/", package.ecosystem))
                });
                if !about {
                    continue;
                }
                match statement.predicate_type.as_str() {
                    APPROVAL_PREDICATE_TYPE => {
                        approved_at = statement.predicate["approvedAt"]
                            .as_str()
                            .map(str::to_owned);
                    }
                    PACKAGE_PREDICATE_TYPE => {
                        if let Ok(predicate) =
                            serde_json::from_value::<PackagePredicate>(statement.predicate.clone())
                            && predicate.package.name == package.name
                            && predicate.package.ecosystem == package.ecosystem
                        {
                            tools = predicate.tools.map(|t| (predicate.package.version, t));
                        }
                    }
                    _ => {}
                }
            }
        }
        if let (Some(at), Some((version, tools))) = (approved_at, tools)
            && best.as_ref().is_none_or(|(best_at, ..)| at > *best_at)
        {
            best = Some((at, version, sha256, tools));
        }
    }
    best.map(|(_, version, sha256, tools)| (version, sha256, tools))
}
