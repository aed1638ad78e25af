//! The last version of a package the policy's approvers approved, found in the policy's
//! `[store] dir`: an approval bundle that verifies under an approver's key, for another
//! version of the same package, beside a package statement by the same key carrying tools.
//! Only verified bundles count: a planted "previous approval" must not make a diff look empty.

use mcpin_artifact::Identified;
use mcpin_attestation::{
    APPROVAL_PREDICATE_TYPE, Bundle, PACKAGE_PREDICATE_TYPE, PackagePredicate, ToolsSection,
};
use mcpin_verifier::policy::{Policy, SignerKind};

/// `(version, sha256, tools)` of the newest other approved version, by approval time.
pub(crate) fn approved(
    policy: &Policy,
    current: &Identified,
) -> Option<(String, String, ToolsSection)> {
    let dir = policy.store_dir.as_ref()?;
    let keys: Vec<_> = policy
        .approvers
        .iter()
        .filter_map(|id| match &policy.signer(id)?.kind {
            SignerKind::Key(key) => Some(key),
            SignerKind::Sigstore { .. } => None,
        })
        .collect();
    let mut best: Option<(String, String, String, ToolsSection)> = None;
    for entry in fs_err::read_dir(dir).ok()?.filter_map(Result::ok) {
        let sha256 = entry.file_name().to_string_lossy().into_owned();
        if sha256 == current.digests.sha256 {
            continue;
        }
        let mut approved_at = None;
        let mut tools = None;
        for file in fs_err::read_dir(entry.path())
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
        {
            if !file
                .file_name()
                .to_string_lossy()
                .ends_with(".sigstore.json")
            {
                continue;
            }
            let Ok(bytes) = mcpin_registry_client::attestations::read_file(
                &file.path(),
                mcpin_registry_client::attestations::FileKind::Bundle,
            ) else {
                continue;
            };
            let Ok(bundle) = Bundle::from_json(&bytes.bytes) else {
                continue;
            };
            for key in &keys {
                let Ok(verified) = mcpin_verifier::verify_bundle(&bundle, key) else {
                    continue;
                };
                let statement = verified.statement();
                let about = statement.subject.iter().any(|s| {
                    s.digest.get("sha256") == Some(&sha256)
                        && s.name
                            .starts_with(&format!("pkg:{}/", current.package.ecosystem))
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
                            && predicate.package.name == current.package.name
                            && predicate.package.ecosystem == current.package.ecosystem
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
