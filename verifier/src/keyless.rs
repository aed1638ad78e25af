//! Keyless signing with `sigstore-sign`: an OIDC identity token (given, or the
//! ambient token of a CI system such as GitHub Actions) buys a short-lived
//! Fulcio certificate; the DSSE signature is logged in Rekor. The result is a
//! Sigstore bundle that [`crate::sigstore::verify`] checks against an identity.
//!
//! This needs the network (Fulcio, Rekor, and for ambient tokens the CI's
//! token endpoint). The token is never printed.

use mcpin_attestation::Statement;
use sigstore_sign::oidc::IdentityToken;
use sigstore_sign::{SigningContext, SigningServices, SigstoreInstance};

#[derive(Debug, thiserror::Error)]
pub enum KeylessError {
    #[error("the identity token is not a JWT with readable claims: {0}")]
    Token(String),
    #[error("the identity token for {identity} (issuer {issuer}) expired at {expired}")]
    Expired {
        identity: String,
        issuer: String,
        expired: jiff::Timestamp,
    },
    #[error(
        "no identity token: pass --identity-token, set SIGSTORE_ID_TOKEN, or run in a CI system with ambient OIDC (GitHub Actions with `id-token: write`, GitLab CI, Buildkite, CircleCI)"
    )]
    NoToken,
    #[error("cannot get the ambient CI identity token: {0}")]
    Ambient(String),
    #[error("Sigstore signing configuration: {0}")]
    Config(String),
    #[error("keyless signing as {identity} via Fulcio {fulcio} and Rekor {rekor} failed")]
    Network {
        identity: String,
        fulcio: String,
        rekor: String,
        #[source]
        source: Box<sigstore_sign::Error>,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// Who a token says it is (unverified: Fulcio checks the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity {
    pub issuer: String,
    /// The email claim, or the subject.
    pub identity: String,
    pub expires: jiff::Timestamp,
}

/// A parsed, unexpired identity token.
pub struct Token(IdentityToken);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Token").field(&self.identity()).finish()
    }
}

impl Token {
    /// Parses a JWT's claims and refuses an expired token.
    pub fn parse(jwt: &str) -> Result<Self, KeylessError> {
        let token =
            IdentityToken::from_jwt(jwt.trim()).map_err(|e| KeylessError::Token(e.to_string()))?;
        let token = Token(token);
        if token.0.is_expired() {
            let who = token.identity();
            return Err(KeylessError::Expired {
                identity: who.identity,
                issuer: who.issuer,
                expired: who.expires,
            });
        }
        Ok(token)
    }

    /// The ambient token of the CI system this runs in, if any.
    pub fn ambient() -> Result<Self, KeylessError> {
        let token = runtime()?
            .block_on(IdentityToken::detect_ambient())
            .map_err(|e| KeylessError::Ambient(e.to_string()))?
            .ok_or(KeylessError::NoToken)?;
        Self::parse(token.expose_secret())
    }

    pub fn identity(&self) -> TokenIdentity {
        TokenIdentity {
            issuer: self.0.issuer().to_owned(),
            identity: self.0.identity().to_owned(),
            expires: self.0.expiration(),
        }
    }
}

/// Where keyless signatures go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Services {
    pub fulcio: String,
    pub rekor: String,
}

impl Services {
    /// The public-good instance, from the signing config embedded in `sigstore-trust-root`.
    pub fn public_good() -> Result<Self, KeylessError> {
        let services = SigningServices::from_embedded(SigstoreInstance::PublicGood)
            .map_err(|e| KeylessError::Config(e.to_string()))?;
        Ok(Services {
            fulcio: services.fulcio_url().to_owned(),
            rekor: services.rekor_url().to_owned(),
        })
    }
}

/// Signs `statement` keylessly; returns the Sigstore bundle JSON.
pub fn sign_statement(
    statement: &Statement,
    token: Token,
    services: &Services,
) -> Result<Vec<u8>, KeylessError> {
    let identity = token.identity().identity;
    let context = SigningContext::new(SigningServices::new(&services.fulcio, &services.rekor));
    let signer = context.signer(token.0);
    let network = |source| KeylessError::Network {
        identity: identity.clone(),
        fulcio: services.fulcio.clone(),
        rekor: services.rekor.clone(),
        source: Box::new(source),
    };
    let bundle = runtime()?
        .block_on(signer.sign_raw_statement(&statement.to_canonical_json()))
        .map_err(network)?;
    let mut json = bundle
        .to_json_pretty()
        .map_err(|e| KeylessError::Config(e.to_string()))?
        .into_bytes();
    json.push(b'\n');
    Ok(json)
}

fn runtime() -> Result<tokio::runtime::Runtime, KeylessError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(KeylessError::Runtime)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        let part = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.c2ln",
            part(serde_json::json!({"alg": "RS256"})),
            part(claims)
        )
    }

    #[test]
    fn tokens_name_their_identity_and_expire() {
        let later = jiff::Timestamp::now().as_second() + 600;
        let token = Token::parse(&jwt(serde_json::json!({
            "iss": "https://token.actions.githubusercontent.com",
            "sub": "repo:mcpin/mcpin:ref:refs/heads/main",
            "aud": "sigstore",
            "exp": later,
            "iat": later - 900,
        })))
        .unwrap();
        let identity = token.identity();
        assert_eq!(
            identity.issuer,
            "https://token.actions.githubusercontent.com"
        );
        assert_eq!(identity.identity, "repo:mcpin/mcpin:ref:refs/heads/main");
        assert!(
            !format!("{token:?}").contains("c2ln"),
            "Debug never shows the token"
        );

        let expired = Token::parse(&jwt(serde_json::json!({
            "iss": "https://accounts.google.com", "sub": "1", "email": "a@example.com",
            "aud": "sigstore", "exp": 1_600_000_000, "iat": 1_599_999_000,
        })));
        assert!(
            matches!(expired, Err(KeylessError::Expired { ref identity, .. }) if identity == "a@example.com")
        );
        assert!(matches!(
            Token::parse("not-a-jwt"),
            Err(KeylessError::Token(_))
        ));
    }

    #[test]
    fn public_good_services_come_from_the_embedded_config() {
        let services = Services::public_good().unwrap();
        assert!(
            services.fulcio.starts_with("https://fulcio.sigstore.dev"),
            "{services:?}"
        );
        assert!(services.rekor.starts_with("https://"), "{services:?}");
    }
}
