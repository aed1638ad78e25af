use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// Media type of the bundles mcpin writes.
pub const BUNDLE_MEDIA_TYPE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Every media type a Sigstore bundle may carry (v0.3 has two spellings).
const KNOWN_MEDIA_TYPES: &[&str] = &[
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    BUNDLE_MEDIA_TYPE_V03,
];

/// A structural problem with a bundle: it is not the JSON shape we sign.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("bundle is not valid JSON of the Sigstore bundle shape: {0}")]
    Shape(#[from] serde_json::Error),
    #[error("bundle mediaType `{0}` is not a Sigstore bundle media type")]
    UnknownMediaType(String),
    #[error("bundle has no dsseEnvelope (mcpin statements are DSSE-signed)")]
    NotDsse,
    #[error("bundle `{field}` is not valid base64: {source}")]
    Base64 {
        field: &'static str,
        source: base64::DecodeError,
    },
    #[error("DSSE envelope carries no signature")]
    NoSignature,
}

/// A Sigstore bundle, restricted to what mcpin reads and writes. Unknown fields
/// are ignored so that bundles written by other Sigstore clients still parse;
/// their cryptographic content is checked by the Sigstore verifier, not here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub media_type: String,
    pub verification_material: VerificationMaterial,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsse_envelope: Option<Envelope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_signature: Option<serde_json::Value>,
}

/// Who signed: for key-based bundles a public-key hint (mcpin writes the key id);
/// keyless bundles carry a certificate and transparency-log entries instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyHint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_certificate_chain: Option<serde_json::Value>,
    #[serde(default)]
    pub tlog_entries: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_verification_data: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyHint {
    pub hint: String,
}

/// A DSSE envelope as the Sigstore bundle JSON spells it (base64 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub payload: String,
    pub payload_type: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    pub sig: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyid: Option<String>,
}

impl Bundle {
    /// Parses a bundle and checks its structure (media type, DSSE envelope present,
    /// base64 fields decodable). Signatures are not checked here.
    pub fn from_json(bytes: &[u8]) -> Result<Self, BundleError> {
        let bundle: Bundle = crate::strict_json::from_slice(bytes)?;
        if !KNOWN_MEDIA_TYPES.contains(&bundle.media_type.as_str()) {
            return Err(BundleError::UnknownMediaType(bundle.media_type));
        }
        let envelope = bundle.envelope()?;
        envelope.payload_bytes()?;
        if envelope.signatures.is_empty() {
            return Err(BundleError::NoSignature);
        }
        for signature in &envelope.signatures {
            signature.sig_bytes()?;
        }
        Ok(bundle)
    }

    /// A v0.3 bundle holding `envelope`, signed by the key named by `key_hint`.
    pub fn with_public_key(envelope: Envelope, key_hint: String) -> Self {
        Bundle {
            media_type: BUNDLE_MEDIA_TYPE_V03.to_owned(),
            verification_material: VerificationMaterial {
                public_key: Some(PublicKeyHint { hint: key_hint }),
                certificate: None,
                x509_certificate_chain: None,
                tlog_entries: Vec::new(),
                timestamp_verification_data: None,
            },
            dsse_envelope: Some(envelope),
            message_signature: None,
        }
    }

    pub fn envelope(&self) -> Result<&Envelope, BundleError> {
        self.dsse_envelope.as_ref().ok_or(BundleError::NotDsse)
    }

    /// Pretty JSON with a trailing newline, as written to disk.
    pub fn to_json_pretty(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a Bundle always serializes");
        bytes.push(b'\n');
        bytes
    }
}

impl Envelope {
    pub fn new(payload_type: &str, payload: &[u8], signatures: Vec<EnvelopeSignature>) -> Self {
        Envelope {
            payload: STANDARD.encode(payload),
            payload_type: payload_type.to_owned(),
            signatures,
        }
    }

    pub fn payload_bytes(&self) -> Result<Vec<u8>, BundleError> {
        STANDARD
            .decode(&self.payload)
            .map_err(|source| BundleError::Base64 {
                field: "dsseEnvelope.payload",
                source,
            })
    }

    /// The DSSE pre-authentication encoding of this envelope: the bytes that are signed.
    pub fn pae(&self) -> Result<Vec<u8>, BundleError> {
        Ok(pae(&self.payload_type, &self.payload_bytes()?))
    }
}

impl EnvelopeSignature {
    pub fn new(signature: &[u8], keyid: Option<String>) -> Self {
        EnvelopeSignature {
            sig: STANDARD.encode(signature),
            keyid,
        }
    }

    pub fn sig_bytes(&self) -> Result<Vec<u8>, BundleError> {
        STANDARD
            .decode(&self.sig)
            .map_err(|source| BundleError::Base64 {
                field: "dsseEnvelope.signatures[].sig",
                source,
            })
    }
}

/// DSSE v1 pre-authentication encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(
        format!(
            "DSSEv1 {} {} {} ",
            payload_type.len(),
            payload_type,
            payload.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn bundle_round_trips_and_rejects_wrong_shapes() {
        let envelope = Envelope::new(
            "application/vnd.in-toto+json",
            b"{}",
            vec![EnvelopeSignature::new(b"sig", None)],
        );
        let bundle = Bundle::with_public_key(envelope, "abc".into());
        let json = bundle.to_json_pretty();
        assert_eq!(Bundle::from_json(&json).unwrap(), bundle);

        assert!(matches!(
            Bundle::from_json(b"{\"mediaType\": 3}"),
            Err(BundleError::Shape(_))
        ));
        let other_media = String::from_utf8(json.clone())
            .unwrap()
            .replace(BUNDLE_MEDIA_TYPE_V03, "application/json");
        assert!(matches!(
            Bundle::from_json(other_media.as_bytes()),
            Err(BundleError::UnknownMediaType(_))
        ));
        let bad_base64 = String::from_utf8(json)
            .unwrap()
            .replace("\"payload\": \"e30=\"", "\"payload\": \"e30=!!\"");
        assert!(matches!(
            Bundle::from_json(bad_base64.as_bytes()),
            Err(BundleError::Base64 { .. })
        ));
    }
}
