//! The stand-in for API Gateway's JWT authorizer: HS256 tokens signed with `DEV_JWT_SECRET`.
//!
//! It rejects exactly what the real authorizer rejects before a function runs (no bearer,
//! bad signature, wrong issuer or audience, expired) with API Gateway's own answer
//! (`401 {"message":"Unauthorized"}`), and passes the verified claims through as strings,
//! as API Gateway does, so handlers read identity from the same place in both worlds.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::Value;

pub const ISSUER: &str = "calbridge-dev";
pub const AUDIENCE: &str = "calbridge-local";

pub struct DevAuthorizer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    tenant_claim: String,
}

impl DevAuthorizer {
    pub fn new(secret: &[u8], tenant_claim: &str) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            tenant_claim: tenant_claim.to_owned(),
        }
    }

    /// Mints a token for (tenant, user), valid for `ttl`, with `scope` (space-separated) if given.
    pub fn mint(
        &self,
        tenant: &str,
        user: &str,
        scope: Option<&str>,
        ttl: jiff::SignedDuration,
    ) -> (String, jiff::Timestamp) {
        let now = jiff::Timestamp::now();
        let expires_at = now + ttl;
        let mut claims = serde_json::Map::new();
        claims.insert("iss".into(), ISSUER.into());
        claims.insert("aud".into(), AUDIENCE.into());
        claims.insert("sub".into(), user.into());
        claims.insert(self.tenant_claim.clone(), tenant.into());
        if let Some(scope) = scope {
            claims.insert("scope".into(), scope.into());
        }
        claims.insert("iat".into(), now.as_second().into());
        claims.insert("exp".into(), expires_at.as_second().into());
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &Value::Object(claims), &self.encoding)
            .expect("HS256 signing with a byte key cannot fail");
        (token, expires_at)
    }

    /// The verified claims of an `Authorization: Bearer` header, stringified as API Gateway does.
    pub fn verify(&self, authorization: Option<&str>) -> Option<HashMap<String, String>> {
        let token = authorization?.strip_prefix("Bearer ").or_else(|| authorization?.strip_prefix("bearer "))?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        let claims = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token.trim(), &self.decoding, &validation)
            .ok()?
            .claims;
        Some(
            claims
                .into_iter()
                .map(|(name, value)| {
                    let text = match value {
                        Value::String(s) => s,
                        Value::Array(items) => format!(
                            "[{}]",
                            items
                                .iter()
                                .map(|i| i.as_str().map(str::to_owned).unwrap_or_else(|| i.to_string()))
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                        other => other.to_string(),
                    };
                    (name, text)
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_and_others_do_not() {
        let authorizer = DevAuthorizer::new(b"secret-one-secret-one-secret-one", "tenant_id");
        let (token, _) = authorizer.mint("t1", "u1", None, jiff::SignedDuration::from_secs(60));
        let claims = authorizer.verify(Some(&format!("Bearer {token}"))).unwrap();
        assert_eq!(claims["sub"], "u1");
        assert_eq!(claims["tenant_id"], "t1");

        let other = DevAuthorizer::new(b"secret-two-secret-two-secret-two", "tenant_id");
        assert!(other.verify(Some(&format!("Bearer {token}"))).is_none());
        assert!(authorizer.verify(Some(&token)).is_none(), "a bare token is not a bearer header");
        assert!(authorizer.verify(None).is_none());
        let (expired, _) = authorizer.mint("t1", "u1", None, jiff::SignedDuration::from_secs(-120));
        assert!(authorizer.verify(Some(&format!("Bearer {expired}"))).is_none());
    }
}
