//! The authorization endpoint and its consent decision.
//!
//! Contract, in Google's order: an unknown `client_id` or a `redirect_uri` that
//! is not registered byte for byte gets a 400 HTML page and never a redirect
//! (redirecting would make the emulator an open redirector, which is why Google
//! refuses too). Every later problem redirects back with `error=...`. A valid
//! request shows the consent page.
//!
//! The page's form posts to `POST /o/oauth2/v2/auth/decision`, which scripts and
//! tests call directly with the original query parameters plus:
//! - `account=<email>` — which seeded account consents;
//! - `decision=approve|deny`;
//! - `scope_granted=<scope>`, repeated — the scopes left ticked. When no
//!   `scope_granted` is sent at all, every requested scope is granted, unless
//!   `granular_consent=1` is sent (the page always sends it), which means "the
//!   user unticked everything optional".
//!
//! Approving redirects with `code`, `scope` (granted, normalised), `authuser=0`,
//! `prompt=consent`, `state` and `iss`, and records the consent as a grant of the
//! account to the client. `prompt=none` never shows a page: it redirects with a
//! code when the `login_hint` account has already granted every requested scope,
//! and with `login_required` or `consent_required` otherwise.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use jiff::Timestamp;

use super::consent_page::{self, ConsentPage, ErrorPage};
use super::scopes;
use crate::faults::{Endpoint, intercept};
use crate::random;
use crate::server::ConnectionControl;
use crate::state::{AuthorizationCode, Grant, SharedEmulator, Store};
use emulator_kit::form::FormPairs;

/// Fields the consent form adds to the original request parameters.
const DECISION_FIELDS: [&str; 4] = ["account", "decision", "scope_granted", "granular_consent"];

/// Parameters that must appear at most once (RFC 6749 §3.1).
const SINGLE_VALUED: [&str; 10] = [
    "response_type",
    "scope",
    "state",
    "access_type",
    "prompt",
    "include_granted_scopes",
    "login_hint",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

/// A fully validated authorization request.
#[derive(Debug)]
pub(super) struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Normalised, in request order.
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub offline: bool,
    pub prompts: Vec<String>,
    pub include_granted_scopes: bool,
    pub login_hint: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// The request's own parameters, echoed by the consent form.
    pub parameters: FormPairs,
}

/// Why a request cannot proceed, and how the user agent learns of it.
enum Refusal {
    /// Client or redirect URI cannot be trusted: say so here, never redirect.
    Page(ErrorPage),
    /// A trusted redirect URI learns of the error.
    Redirect(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Page(page) => page.into_response(),
            Refusal::Redirect(location) => found(&location),
        }
    }
}

/// `GET /o/oauth2/v2/auth`.
pub(super) async fn show_consent_page(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    RawQuery(query): RawQuery,
) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::Authorize], &[]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let parameters = FormPairs::parse(query.unwrap_or_default().as_bytes());
    let response = {
        let mut store = emulator.store();
        let issuer = &emulator.config.issuer;
        match validate(&store, parameters, issuer) {
            Err(refusal) => refusal.into_response(),
            Ok(request) if request.prompts.iter().any(|p| p == "none") => {
                let ttl = emulator.config.authorization_code_ttl;
                found(&approve_silently(&mut store, &request, issuer, ttl))
            }
            Ok(request) => {
                Html(consent_page::render(&ConsentPage { request: &request, store: &store })).into_response()
            }
        }
    };
    after.deliver(&connection, response).await
}

/// `POST /o/oauth2/v2/auth/decision`.
pub(super) async fn decide(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    body: Bytes,
) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::AuthorizeDecision], &[]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let form = FormPairs::parse(&body);
    let parameters =
        FormPairs(form.0.iter().filter(|(name, _)| !DECISION_FIELDS.contains(&name.as_str())).cloned().collect());
    let response = {
        let mut store = emulator.store();
        let issuer = &emulator.config.issuer;
        match validate(&store, parameters, issuer) {
            Err(refusal) => refusal.into_response(),
            Ok(request) => {
                let ttl = emulator.config.authorization_code_ttl;
                match apply_decision(&mut store, &request, &form, issuer, ttl) {
                    Ok(location) => found(&location),
                    Err(refusal) => refusal.into_response(),
                }
            }
        }
    };
    after.deliver(&connection, response).await
}

fn validate(store: &Store, parameters: FormPairs, issuer: &str) -> Result<AuthorizationRequest, Refusal> {
    let page = |title: &str, detail: String| {
        Refusal::Page(ErrorPage { status: StatusCode::BAD_REQUEST, title: title.to_owned(), detail })
    };
    let single = |name: &str| parameters.single(name).map(|value| value.map(str::to_owned));

    let client_id = match single("client_id") {
        Err(repeated) => return Err(page("invalid_request", repeated.to_string())),
        Ok(None) => {
            return Err(page("invalid_request", "Missing required parameter: client_id".into()));
        }
        Ok(Some(client_id)) => client_id,
    };
    let Some(client) = store.clients.get(&client_id) else {
        return Err(page("invalid_client", format!("The OAuth client was not found. (client_id={client_id})")));
    };
    let redirect_uri = match single("redirect_uri") {
        Err(repeated) => return Err(page("invalid_request", repeated.to_string())),
        Ok(None) => {
            return Err(page("invalid_request", "Missing required parameter: redirect_uri".into()));
        }
        Ok(Some(uri)) => uri,
    };
    if !client.redirect_uris.contains(&redirect_uri) {
        return Err(page(
            "redirect_uri_mismatch",
            format!(
                "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 \
                 policy. redirect_uri={redirect_uri} is not registered for client {client_id}."
            ),
        ));
    }

    // From here on the redirect URI is trusted, so errors go back to the client.
    let state = parameters.single("state").ok().flatten().map(str::to_owned);
    let redirect_error = |error: &str, description: String| {
        Refusal::Redirect(redirect_with(
            &redirect_uri,
            &[
                ("error", Some(error)),
                ("error_description", Some(&description)),
                ("state", state.as_deref()),
                ("iss", Some(issuer)),
            ],
        ))
    };
    if let Some(repeated) = parameters.first_repeated(&SINGLE_VALUED) {
        return Err(redirect_error("invalid_request", repeated.to_string()));
    }
    let get = |name: &str| parameters.single(name).ok().flatten();

    match get("response_type") {
        None => {
            return Err(redirect_error("invalid_request", "Required parameter is missing: response_type".into()));
        }
        Some("code") => {}
        Some(other) => {
            return Err(redirect_error(
                "invalid_request",
                format!("Invalid response_type: {other}. Only response_type=code is supported."),
            ));
        }
    }
    let scopes = match get("scope") {
        None => {
            return Err(redirect_error("invalid_request", "Missing required parameter: scope".into()));
        }
        Some(raw) => match scopes::parse_requested(raw) {
            Ok(scopes) if !scopes.is_empty() => scopes,
            Ok(_) => {
                return Err(redirect_error("invalid_request", "Missing required parameter: scope".into()));
            }
            Err(invalid) => return Err(redirect_error("invalid_scope", invalid.to_string())),
        },
    };
    let offline = match get("access_type") {
        None | Some("online") => false,
        Some("offline") => true,
        Some(other) => {
            return Err(redirect_error("invalid_request", format!("Invalid access_type: {other}")));
        }
    };
    let prompts: Vec<String> = get("prompt").unwrap_or_default().split_ascii_whitespace().map(str::to_owned).collect();
    if let Some(unknown) = prompts.iter().find(|p| !matches!(p.as_str(), "none" | "consent" | "select_account")) {
        return Err(redirect_error("invalid_request", format!("Invalid prompt: {unknown}")));
    }
    if prompts.len() > 1 && prompts.iter().any(|p| p == "none") {
        return Err(redirect_error("invalid_request", "prompt=none must not be combined with other values".into()));
    }
    let include_granted_scopes = match get("include_granted_scopes") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(redirect_error("invalid_request", format!("Invalid include_granted_scopes: {other}")));
        }
    };
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(redirect_error(
                "invalid_request",
                "code_challenge_method was sent without code_challenge".into(),
            ));
        }
        (Some(_), None) | (Some(_), Some("plain")) => {
            return Err(redirect_error(
                "invalid_request",
                "Only code_challenge_method=S256 is accepted (the method defaults to plain).".into(),
            ));
        }
        (Some(_), Some(method)) if method != "S256" => {
            return Err(redirect_error("invalid_request", format!("Invalid code_challenge_method: {method}")));
        }
        (Some(challenge), Some(_)) => {
            if !is_pkce_value(challenge) {
                return Err(redirect_error(
                    "invalid_request",
                    "Invalid code_challenge: expected 43-128 characters of [A-Za-z0-9-._~]".into(),
                ));
            }
            Some(challenge.to_owned())
        }
    };

    Ok(AuthorizationRequest {
        client_id,
        redirect_uri: redirect_uri.clone(),
        scopes,
        state: state.clone(),
        offline,
        prompts,
        include_granted_scopes,
        login_hint: get("login_hint").map(str::to_owned),
        nonce: get("nonce").map(str::to_owned),
        code_challenge,
        parameters: parameters.clone(),
    })
}

/// RFC 7636 §4.1 / §4.2: 43 to 128 characters of `[A-Za-z0-9-._~]`.
pub(super) fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn apply_decision(
    store: &mut Store,
    request: &AuthorizationRequest,
    form: &FormPairs,
    issuer: &str,
    code_ttl: std::time::Duration,
) -> Result<String, Refusal> {
    let page = |detail: String| {
        Refusal::Page(ErrorPage { status: StatusCode::BAD_REQUEST, title: "invalid_request".to_owned(), detail })
    };
    let decision = form.single("decision").map_err(|repeated| page(repeated.to_string()))?;
    match decision {
        Some("deny") => {
            return Ok(redirect_with(
                &request.redirect_uri,
                &[("error", Some("access_denied")), ("state", request.state.as_deref()), ("iss", Some(issuer))],
            ));
        }
        Some("approve") => {}
        other => {
            return Err(page(format!("decision must be approve or deny, got {:?}", other.unwrap_or(""))));
        }
    }
    let account = match form.single("account") {
        Ok(Some(account)) if store.accounts.contains_key(account) => account.to_owned(),
        Ok(Some(account)) => return Err(page(format!("Unknown account {account}"))),
        Ok(None) => return Err(page("Choose an account (account=<email>)".into())),
        Err(repeated) => return Err(page(repeated.to_string())),
    };

    let granted: BTreeSet<String> = if !form.contains("scope_granted") && !form.contains("granular_consent") {
        request.scopes.iter().cloned().collect()
    } else {
        let mut granted: BTreeSet<String> =
            request.scopes.iter().filter(|scope| scopes::is_sign_in(scope)).cloned().collect();
        for ticked in form.all("scope_granted") {
            let ticked = scopes::normalise(ticked);
            if !request.scopes.contains(&ticked) {
                return Err(page(format!("scope_granted={ticked} was not requested")));
            }
            granted.insert(ticked);
        }
        granted
    };
    if granted.is_empty() {
        // Nothing left to grant is, to the client, the same as a refusal.
        return Ok(redirect_with(
            &request.redirect_uri,
            &[("error", Some("access_denied")), ("state", request.state.as_deref()), ("iss", Some(issuer))],
        ));
    }
    Ok(issue_code(store, request, &account, granted, "consent", issuer, code_ttl))
}

/// `prompt=none`: no page, so only an existing, sufficient grant can answer.
fn approve_silently(
    store: &mut Store,
    request: &AuthorizationRequest,
    issuer: &str,
    code_ttl: std::time::Duration,
) -> String {
    let error = |error: &str| {
        redirect_with(
            &request.redirect_uri,
            &[("error", Some(error)), ("state", request.state.as_deref()), ("iss", Some(issuer))],
        )
    };
    let Some(account) =
        request.login_hint.as_deref().filter(|hint| store.accounts.contains_key(*hint)).map(str::to_owned)
    else {
        return error("login_required");
    };
    let covered = store
        .active_grant(&account, &request.client_id)
        .is_some_and(|grant| request.scopes.iter().all(|scope| store.grants[grant].scopes.contains(scope)));
    if !covered {
        return error("consent_required");
    }
    let granted = request.scopes.iter().cloned().collect();
    issue_code(store, request, &account, granted, "none", issuer, code_ttl)
}

/// Records the consent and returns the success redirect carrying a fresh code.
fn issue_code(
    store: &mut Store,
    request: &AuthorizationRequest,
    account: &str,
    granted: BTreeSet<String>,
    prompt_shown: &str,
    issuer: &str,
    code_ttl: std::time::Duration,
) -> String {
    let earlier_grant = store.active_grant(account, &request.client_id);
    let grant = match earlier_grant {
        Some(grant) => {
            store.grants[grant].scopes.extend(granted.iter().cloned());
            grant
        }
        None => {
            store.grants.push(Grant {
                account: account.to_owned(),
                client_id: request.client_id.clone(),
                scopes: granted.clone(),
                revoked: false,
            });
            store.grants.len() - 1
        }
    };
    let scopes = if request.include_granted_scopes { store.grants[grant].scopes.clone() } else { granted };
    // Google's rule: offline access yields a refresh token on first consent, and
    // afterwards only when the client forces the consent screen again.
    let issue_refresh_token =
        request.offline && (request.prompts.iter().any(|p| p == "consent") || earlier_grant.is_none());
    let code = random::authorization_code();
    let expires_at = Timestamp::now()
        .checked_add(jiff::SignedDuration::try_from(code_ttl).unwrap_or_default())
        .unwrap_or(Timestamp::MAX);
    store.codes.push(AuthorizationCode {
        code: code.clone(),
        client_id: request.client_id.clone(),
        account: account.to_owned(),
        grant,
        redirect_uri: request.redirect_uri.clone(),
        scopes: scopes.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        issue_refresh_token,
        expires_at,
        used: false,
        redeemed_with_verifier: None,
        issued_access_token: None,
        issued_refresh_token: None,
    });
    redirect_with(
        &request.redirect_uri,
        &[
            ("state", request.state.as_deref()),
            ("code", Some(&code)),
            ("scope", Some(&scopes::join(&scopes))),
            ("authuser", Some("0")),
            ("prompt", Some(prompt_shown)),
            ("iss", Some(issuer)),
        ],
    )
}

/// A 302 to `location`: Google's status for authorization redirects.
fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

/// `redirect_uri` with `parameters` appended to whatever query it already has.
fn redirect_with(redirect_uri: &str, parameters: &[(&str, Option<&str>)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (name, value) in parameters {
                    if let Some(value) = value {
                        query.append_pair(name, value);
                    }
                }
            }
            url.to_string()
        }
        // Registered URIs are parsed when registered; this keeps a bad one visible.
        Err(_) => redirect_uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_values_follow_rfc_7636() {
        assert!(is_pkce_value(&"a".repeat(43)));
        assert!(is_pkce_value(&"Az09-._~".repeat(16)));
        assert!(!is_pkce_value(&"a".repeat(42)));
        assert!(!is_pkce_value(&"a".repeat(129)));
        assert!(!is_pkce_value(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn redirect_parameters_are_appended_and_encoded() {
        let location = redirect_with("http://127.0.0.1:1/cb?x=1", &[("code", Some("4/0A b")), ("state", None)]);
        assert_eq!(location, "http://127.0.0.1:1/cb?x=1&code=4%2F0A+b");
    }
}
