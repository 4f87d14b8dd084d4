//! The token endpoint: authorization-code and refresh-token grants.
//!
//! Contract: the client authenticates with HTTP Basic (id and secret each
//! form-urlencoded, RFC 6749 §2.3.1) or with `client_id` + `client_secret` in the
//! body; sending the secret both ways is refused (RFC 6749 §2.3). A failed client
//! authentication is 401 `invalid_client`. Codes are single-use, expire, belong to
//! one client and one redirect URI, and enforce PKCE S256 when the authorization
//! request carried a challenge; a replayed code revokes the tokens it minted
//! (RFC 6749 §4.1.2). A refresh token is returned only when the code says so
//! (offline access on first consent or with `prompt=consent`), an id_token only
//! when `openid` was granted. Every answer is `Cache-Control: no-store`.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::authorize::is_pkce_value;
use super::scopes;
use crate::config::EmulatorConfig;
use crate::faults::{Endpoint, intercept};
use crate::google_errors::{OAuthError, no_store};
use crate::random;
use crate::server::ConnectionControl;
use crate::signing::{IdTokenClaims, access_token_hash, sign_id_token};
use crate::state::{AccessToken, GrantId, RefreshToken, SharedEmulator, Store};
use emulator_kit::form::{FormPairs, decode_component};

/// Parameters RFC 6749 §3.2 forbids repeating.
const SINGLE_VALUED: [&str; 9] = [
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
    "client_id",
    "client_secret",
    "audience",
];

const EXPIRED_OR_REVOKED: &str = "Token has been expired or revoked.";

/// `POST /token`.
pub(super) async fn token(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parameters = parse_body(&headers, &body);
    let is_refresh = parameters.as_ref().is_ok_and(|p| p.single("grant_type").ok().flatten() == Some("refresh_token"));
    let endpoints: &[Endpoint] =
        if is_refresh { &[Endpoint::Token, Endpoint::TokenRefresh] } else { &[Endpoint::Token] };
    let after = match intercept(&emulator, &connection, endpoints, &[]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let result = parameters.and_then(|parameters| {
        let mut store = emulator.store();
        let client_id = authenticate_client(&store, &headers, &parameters)?;
        if let Some(repeated) = parameters.first_repeated(&SINGLE_VALUED) {
            return Err(OAuthError::invalid_request(repeated.to_string()).into());
        }
        match parameters.single("grant_type").ok().flatten() {
            None => Err(OAuthError::invalid_request("Missing required parameter: grant_type").into()),
            Some("authorization_code") => {
                exchange_code(&mut store, &emulator.config, &client_id, &parameters, endpoints)
            }
            Some("refresh_token") => refresh(&mut store, &emulator.config, &client_id, &parameters, endpoints),
            Some(other) => Err(OAuthError::unsupported_grant_type(format!("Invalid grant_type: {other}")).into()),
        }
    });
    let response = match result {
        Ok(body) => {
            let mut response = (StatusCode::OK, axum::Json(Value::Object(body))).into_response();
            no_store(&mut response);
            response
        }
        Err(refusal) => refusal.into_response(),
    };
    after.deliver(&connection, response).await
}

/// An OAuth error, plus whether the client had tried HTTP Basic (RFC 6749 §5.2
/// then asks for a `WWW-Authenticate` challenge on the 401).
struct TokenRefusal {
    error: OAuthError,
    basic_attempted: bool,
}

impl From<OAuthError> for TokenRefusal {
    fn from(error: OAuthError) -> Self {
        TokenRefusal { error, basic_attempted: false }
    }
}

impl IntoResponse for TokenRefusal {
    fn into_response(self) -> Response {
        let challenge = self.basic_attempted && self.error.status == StatusCode::UNAUTHORIZED;
        let mut response = self.error.into_response();
        if challenge {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"oauth2\""));
        }
        response
    }
}

/// The body as name/value pairs: form-encoded as RFC 6749 says, or a flat JSON
/// object, which Google's token endpoint also accepts.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<FormPairs, TokenRefusal> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
    if !content_type.starts_with("application/json") {
        return Ok(FormPairs::parse(body));
    }
    let object: Map<String, Value> =
        serde_json::from_slice(body).map_err(|_| OAuthError::invalid_request("Invalid JSON payload received."))?;
    let pairs = object
        .into_iter()
        .map(|(name, value)| match value {
            Value::String(text) => (name, text),
            other => (name, other.to_string()),
        })
        .collect();
    Ok(FormPairs(pairs))
}

/// The authenticated client's id.
fn authenticate_client(store: &Store, headers: &HeaderMap, parameters: &FormPairs) -> Result<String, TokenRefusal> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, encoded)| encoded.trim().to_owned());
    let basic_attempted = basic.is_some();
    let refuse = |error: OAuthError| TokenRefusal { error, basic_attempted };
    let body_id =
        parameters.single("client_id").map_err(|repeated| refuse(OAuthError::invalid_request(repeated.to_string())))?;
    let body_secret = parameters
        .single("client_secret")
        .map_err(|repeated| refuse(OAuthError::invalid_request(repeated.to_string())))?;

    let (client_id, secret) = match basic {
        Some(encoded) => {
            if body_secret.is_some() {
                return Err(refuse(OAuthError::invalid_request(
                    "The client must not use more than one authentication method.",
                )));
            }
            let (id, secret) = decode_basic(&encoded).ok_or_else(|| {
                refuse(OAuthError::invalid_client("The Authorization header is not valid Basic client credentials."))
            })?;
            if body_id.is_some_and(|body_id| body_id != id) {
                return Err(refuse(OAuthError::invalid_client(
                    "client_id in the body does not match the Authorization header.",
                )));
            }
            (id, Some(secret))
        }
        None => match body_id {
            Some(id) => (id.to_owned(), body_secret.map(str::to_owned)),
            None => {
                return Err(refuse(OAuthError::invalid_client("Could not determine client ID from request.")));
            }
        },
    };
    let Some(client) = store.clients.get(&client_id) else {
        return Err(refuse(OAuthError::invalid_client("The OAuth client was not found.")));
    };
    match secret {
        None => Err(refuse(OAuthError::invalid_client("client_secret is missing."))),
        Some(secret) if secret != client.client_secret => Err(refuse(OAuthError::invalid_client("Unauthorized"))),
        Some(_) => Ok(client_id),
    }
}

/// `base64(urlencode(id) ":" urlencode(secret))`.
fn decode_basic(encoded: &str) -> Option<(String, String)> {
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((decode_component(id)?, decode_component(secret)?))
}

fn exchange_code(
    store: &mut Store,
    config: &EmulatorConfig,
    client_id: &str,
    parameters: &FormPairs,
    endpoints: &[Endpoint],
) -> Result<Map<String, Value>, TokenRefusal> {
    let get = |name: &str| parameters.single(name).ok().flatten();
    let code = get("code").ok_or_else(|| OAuthError::invalid_request("Missing required parameter: code"))?;
    let redirect_uri =
        get("redirect_uri").ok_or_else(|| OAuthError::invalid_request("Missing required parameter: redirect_uri"))?;
    let now = Timestamp::now();

    let index = store
        .codes
        .iter()
        .position(|candidate| candidate.code == code)
        .ok_or_else(|| OAuthError::invalid_grant("Malformed auth code."))?;
    let issued = &store.codes[index];
    if issued.client_id != client_id {
        return Err(OAuthError::invalid_grant("The auth code was issued to another client.").into());
    }
    if issued.used {
        // RFC 6749 §4.1.2: a replay suggests the code leaked, so what it minted dies.
        let minted = [issued.issued_access_token.clone(), issued.issued_refresh_token.clone()];
        for token in minted.into_iter().flatten() {
            revoke_token(store, &token);
        }
        return Err(OAuthError::invalid_grant("Bad Request: the auth code was already used.").into());
    }
    if now >= issued.expires_at {
        return Err(OAuthError::invalid_grant("The auth code has expired.").into());
    }
    if issued.redirect_uri != redirect_uri {
        return Err(
            OAuthError::invalid_grant("redirect_uri does not match the one of the authorization request.").into()
        );
    }
    match (&issued.code_challenge, get("code_verifier")) {
        (None, None) => {}
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant("code_verifier or verifier is not needed.").into());
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("Missing code verifier.").into()),
        (Some(challenge), Some(verifier)) => {
            if !is_pkce_value(verifier) {
                return Err(OAuthError::invalid_grant(
                    "Invalid code verifier: expected 43-128 characters of [A-Za-z0-9-._~].",
                )
                .into());
            }
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if &computed != challenge {
                return Err(OAuthError::invalid_grant("Invalid code verifier.").into());
            }
        }
    }
    if store.grants[issued.grant].revoked {
        return Err(OAuthError::invalid_grant(EXPIRED_OR_REVOKED).into());
    }

    let grant = issued.grant;
    let account = issued.account.clone();
    let scopes = issued.scopes.clone();
    let nonce = issued.nonce.clone();
    let wants_refresh_token = issued.issue_refresh_token;
    store.codes[index].used = true;
    // Kept so tests can prove the client never logs or stores its verifier.
    store.codes[index].redeemed_with_verifier = get("code_verifier").map(str::to_owned);

    let access_token = issue_access_token(store, config, grant, &account, client_id, &scopes, now);
    let refresh_token = (wants_refresh_token && !store.faults.take_no_refresh_token(endpoints))
        .then(|| issue_refresh_token(store, grant, &account, client_id, &scopes));
    store.codes[index].issued_access_token = Some(access_token.clone());
    store.codes[index].issued_refresh_token = refresh_token.clone();
    let omit_scope = store.faults.take_no_scope(endpoints);

    token_response(
        store,
        config,
        TokenResponse {
            account: &account,
            client_id,
            scopes: &scopes,
            omit_scope,
            access_token,
            refresh_token,
            nonce,
            now,
        },
    )
}

fn refresh(
    store: &mut Store,
    config: &EmulatorConfig,
    client_id: &str,
    parameters: &FormPairs,
    endpoints: &[Endpoint],
) -> Result<Map<String, Value>, TokenRefusal> {
    let presented = parameters
        .single("refresh_token")
        .ok()
        .flatten()
        .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: refresh_token"))?;
    let index = store
        .refresh_tokens
        .iter()
        .position(|candidate| candidate.token == presented)
        .filter(|&index| {
            let token = &store.refresh_tokens[index];
            !token.revoked && !store.grants[token.grant].revoked && token.client_id == client_id
        })
        .ok_or_else(|| OAuthError::invalid_grant(EXPIRED_OR_REVOKED))?;
    let token = &store.refresh_tokens[index];
    let grant = token.grant;
    let account = token.account.clone();
    let mut scopes = token.scopes.clone();
    // RFC 6749 §6: a refresh may narrow, never widen, the scopes.
    if let Some(requested) = parameters.single("scope").ok().flatten() {
        let narrowed: BTreeSet<String> = requested.split_ascii_whitespace().map(scopes::normalise).collect();
        if narrowed.is_empty() || !narrowed.is_subset(&scopes) {
            return Err(OAuthError {
                status: StatusCode::BAD_REQUEST,
                code: "invalid_scope",
                description: "The requested scope exceeds the scope granted.".to_owned(),
            }
            .into());
        }
        scopes = narrowed;
    }

    let now = Timestamp::now();
    let access_token = issue_access_token(store, config, grant, &account, client_id, &scopes, now);
    let rotated = (config.rotate_refresh_tokens && !store.faults.take_no_refresh_token(endpoints)).then(|| {
        store.refresh_tokens[index].revoked = true;
        let kept_scopes = store.refresh_tokens[index].scopes.clone();
        issue_refresh_token(store, grant, &account, client_id, &kept_scopes)
    });
    let omit_scope = store.faults.take_no_scope(endpoints);
    token_response(
        store,
        config,
        TokenResponse {
            account: &account,
            client_id,
            scopes: &scopes,
            omit_scope,
            access_token,
            refresh_token: rotated,
            nonce: None,
            now,
        },
    )
}

fn issue_access_token(
    store: &mut Store,
    config: &EmulatorConfig,
    grant: GrantId,
    account: &str,
    client_id: &str,
    scopes: &BTreeSet<String>,
    now: Timestamp,
) -> String {
    let token = random::access_token();
    let ttl = SignedDuration::try_from(config.access_token_ttl).unwrap_or(SignedDuration::MAX);
    store.access_tokens.push(AccessToken {
        token: token.clone(),
        account: account.to_owned(),
        client_id: client_id.to_owned(),
        grant,
        scopes: scopes.clone(),
        expires_at: now.checked_add(ttl).unwrap_or(Timestamp::MAX),
        revoked: false,
    });
    token
}

fn issue_refresh_token(
    store: &mut Store,
    grant: GrantId,
    account: &str,
    client_id: &str,
    scopes: &BTreeSet<String>,
) -> String {
    let token = random::refresh_token();
    store.refresh_tokens.push(RefreshToken {
        token: token.clone(),
        account: account.to_owned(),
        client_id: client_id.to_owned(),
        grant,
        scopes: scopes.clone(),
        revoked: false,
    });
    token
}

/// Revokes one token (not its grant), wherever it was issued.
fn revoke_token(store: &mut Store, token: &str) {
    for access in store.access_tokens.iter_mut().filter(|t| t.token == token) {
        access.revoked = true;
    }
    for refresh in store.refresh_tokens.iter_mut().filter(|t| t.token == token) {
        refresh.revoked = true;
    }
}

struct TokenResponse<'a> {
    account: &'a str,
    client_id: &'a str,
    scopes: &'a BTreeSet<String>,
    /// The `no_scope` fault: leave the `scope` field out.
    omit_scope: bool,
    access_token: String,
    refresh_token: Option<String>,
    nonce: Option<String>,
    now: Timestamp,
}

fn token_response(
    store: &Store,
    config: &EmulatorConfig,
    issued: TokenResponse<'_>,
) -> Result<Map<String, Value>, TokenRefusal> {
    let mut body = Map::new();
    body.insert("access_token".into(), json!(issued.access_token));
    body.insert("expires_in".into(), json!(config.access_token_ttl.as_secs()));
    if !issued.omit_scope {
        body.insert("scope".into(), json!(scopes::join(issued.scopes)));
    }
    body.insert("token_type".into(), json!("Bearer"));
    if let Some(refresh_token) = &issued.refresh_token {
        body.insert("refresh_token".into(), json!(refresh_token));
    }
    if issued.scopes.contains(scopes::OPENID) {
        let account = &store.accounts[issued.account];
        let email_granted = issued.scopes.contains(scopes::USERINFO_EMAIL);
        let profile_granted = issued.scopes.contains(scopes::USERINFO_PROFILE);
        let claims = IdTokenClaims {
            iss: config.issuer.clone(),
            azp: issued.client_id.to_owned(),
            aud: issued.client_id.to_owned(),
            sub: account.sub.clone(),
            email: email_granted.then(|| account.email.clone()),
            email_verified: email_granted.then_some(true),
            at_hash: access_token_hash(&issued.access_token),
            name: profile_granted.then(|| account.name.clone()),
            nonce: issued.nonce,
            iat: issued.now.as_second(),
            exp: issued.now.as_second() + 3600,
        };
        let id_token = sign_id_token(&claims).map_err(|error| {
            tracing::error!(error = %error, "id_token signing failed");
            OAuthError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "server_error",
                description: error.to_string(),
            }
        })?;
        body.insert("id_token".into(), json!(id_token));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded_after_base64() {
        let encoded = STANDARD.encode("my%3Aclient:s%2Bcret+x");
        assert_eq!(decode_basic(&encoded), Some(("my:client".to_owned(), "s+cret x".to_owned())));
        assert_eq!(decode_basic("not base64!"), None);
        assert_eq!(decode_basic(&STANDARD.encode("no-colon")), None);
    }
}
