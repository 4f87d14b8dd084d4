//! The emulator's id_token signing key, its JWKS, and id_token minting.
//!
//! Contract: id_tokens are RS256 JWTs whose header `kid` names the single key
//! served at `/oauth2/v3/certs`, so a client that verifies Google id_tokens
//! against Google's JWKS verifies the emulator's the same way. The key is a fixed
//! 2048-bit RSA TEST key generated once with `openssl genrsa` and committed on
//! purpose: it signs nothing but emulator tokens and must never be trusted
//! outside tests and local development. Its public modulus and exponent are
//! precomputed below (`openssl rsa -noout -modulus`, base64url without padding)
//! and a test proves they match the private key.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// PKCS#1 PEM of the emulator's test-only RSA signing key.
const SIGNING_KEY_PEM: &str = include_str!("keys/emulator_signing_key.pem");

/// `kid` of the signing key: the SHA-1 of its DER public key, hex, the way
/// Google's kids look.
pub const SIGNING_KEY_ID: &str = "c4990770072e48591047c99ed7b575a37f2ce4b6";

/// JWK `n`: the key's modulus, base64url without padding.
pub const SIGNING_KEY_PUBLIC_MODULUS: &str = "rhBKcS7g8HNOIKS2p1HPjs6y5M3b210RCtxtQFeY9HJUZfXJCDcSXHgcczUhqrGi9VW7hCUtP2stCTDEMStDSBxPMvoxMrN5l3Bndphj20E9yO7Dg90pszrV7Vr0igqfamivp2P_dNoorlK3nzaqFjmIaZ4FoPW0hpVE5BZMqab2_qKmG5tEtJh2z6R2IPwcKaAPX9K6rurkzh4B3x9RAUA01PxLHkaD4F4fEVgwHknNQHxXzRi9R2eHVeEeQoYXQCpHY9Od4NzORG1wY4mtThguPuVpxmLPa4qbm0DMz7HCvu-N_42PCIiLdyUtpp-Frtr1aoX9Xs5Yp-18Nx9Ydw";

/// JWK `e`: 65537, base64url without padding.
pub const SIGNING_KEY_PUBLIC_EXPONENT: &str = "AQAB";

/// The JWKS document served at `/oauth2/v3/certs`.
pub(crate) fn jwks() -> Value {
    json!({
        "keys": [{
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": SIGNING_KEY_ID,
            "n": SIGNING_KEY_PUBLIC_MODULUS,
            "e": SIGNING_KEY_PUBLIC_EXPONENT,
        }]
    })
}

/// The claims Google puts in an id_token for the scopes granted.
#[derive(Debug, Serialize)]
pub(crate) struct IdTokenClaims {
    pub iss: String,
    pub azp: String,
    pub aud: String,
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Binds the id_token to the access token issued with it (OIDC Core §3.1.3.6).
    pub at_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub iat: i64,
    pub exp: i64,
}

/// The `at_hash` claim for `access_token`: the left half of its SHA-256, base64url.
pub(crate) fn access_token_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum SigningError {
    #[error("the committed signing key could not be loaded")]
    Key(#[source] jsonwebtoken::errors::Error),
    #[error("the id_token could not be signed")]
    Sign(#[source] jsonwebtoken::errors::Error),
}

pub(crate) fn sign_id_token(claims: &IdTokenClaims) -> Result<String, SigningError> {
    let key = EncodingKey::from_rsa_pem(SIGNING_KEY_PEM.as_bytes()).map_err(SigningError::Key)?;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(SIGNING_KEY_ID.to_owned());
    jsonwebtoken::encode(&header, claims, &key).map_err(SigningError::Sign)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn the_published_jwk_verifies_what_the_private_key_signs() {
        let claims = IdTokenClaims {
            iss: "https://accounts.google.com".into(),
            azp: "client".into(),
            aud: "client".into(),
            sub: "1".into(),
            email: None,
            email_verified: None,
            at_hash: access_token_hash("ya29.x"),
            name: None,
            nonce: Some("n".into()),
            iat: jiff::Timestamp::now().as_second(),
            exp: jiff::Timestamp::now().as_second() + 3600,
        };
        let token = sign_id_token(&claims).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(SIGNING_KEY_ID));
        let key = DecodingKey::from_rsa_components(SIGNING_KEY_PUBLIC_MODULUS, SIGNING_KEY_PUBLIC_EXPONENT).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["client"]);
        validation.set_issuer(&["https://accounts.google.com"]);
        let decoded = jsonwebtoken::decode::<Value>(&token, &key, &validation).unwrap();
        assert_eq!(decoded.claims["nonce"], "n");
    }
}
