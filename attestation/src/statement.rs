use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE_V1: &str = "https://in-toto.io/Statement/v1";

/// DSSE `payloadType` of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// An in-toto Statement v1. The predicate is kept as raw JSON here; callers
/// decode it according to `predicate_type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub statement_type: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: serde_json::Value,
}

/// One artifact a statement speaks about: a name (for mcpin, the purl) and
/// its digests keyed by algorithm (`sha256`, `sha512`), lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub name: String,
    pub digest: BTreeMap<String, String>,
}

impl Statement {
    /// A Statement v1 about one artifact, named by its purl, with both of its digests: the
    /// shape of every statement mcpin signs (package statements and approvals).
    pub fn about_artifact(
        purl: &str,
        sha256: &str,
        sha512: &str,
        predicate_type: &str,
        predicate: serde_json::Value,
    ) -> Statement {
        Statement {
            statement_type: STATEMENT_TYPE_V1.to_owned(),
            subject: vec![Subject {
                name: purl.to_owned(),
                digest: BTreeMap::from([
                    ("sha256".to_owned(), sha256.to_owned()),
                    ("sha512".to_owned(), sha512.to_owned()),
                ]),
            }],
            predicate_type: predicate_type.to_owned(),
            predicate,
        }
    }

    /// Serializes the statement in RFC 8785 canonical form, so that the same
    /// statement always yields the same signed bytes.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        serde_json_canonicalizer::to_vec(self).expect("a Statement always serializes")
    }
}
