//! The authorization endpoint and its consent decision.
//!
//! Contract: an unknown `client_id`, or a `redirect_uri` that is missing or not
//! registered byte for byte, gets a 400 HTML page and never a redirect (that
//! would make the emulator an open redirector). Every later problem redirects
//! back with `error=...&state=...`: `response_type` other than `code`
//! (`unsupported_response_type`), a repeated parameter, a `code_challenge`
//! without `code_challenge_method=S256` or not 43-128 characters of
//! `[A-Za-z0-9-._~]`, or no challenge at all while PKCE is required
//! (`invalid_request`). A valid request shows the consent page.
//!
//! The page's form posts to `POST /oauth/authorize/decision`, which scripts and
//! tests call directly with the original query parameters plus
//! `account=<email>` and `decision=approve|deny`. Approving records a grant of
//! the app's configured scopes (replacing the user's earlier grant to that app,
//! whose tokens stop working) and redirects with `code` and `state`; denying
//! redirects with `error=access_denied` and `state`.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};

use super::consent_page::{self, ErrorPage};
use super::is_pkce_value;
use crate::faults::{Endpoint, intercept};
use crate::random;
use crate::server::ConnectionControl;
use crate::state::{AuthorizationCode, Grant, SharedEmulator, Store};
use emulator_kit::form::FormPairs;

/// Fields the consent form adds to the original request parameters.
const DECISION_FIELDS: [&str; 2] = ["account", "decision"];

/// Parameters that must appear at most once (RFC 6749 §3.1).
const SINGLE_VALUED: [&str; 6] =
    ["client_id", "redirect_uri", "response_type", "state", "code_challenge", "code_challenge_method"];

/// A fully validated authorization request.
#[derive(Debug)]
pub(super) struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// The app's configured scopes: what approving grants.
    pub scopes: BTreeSet<String>,
    pub state: Option<String>,
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

/// `GET /oauth/authorize`.
pub(super) async fn show_consent_page(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    RawQuery(query): RawQuery,
) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::Authorize]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let parameters = FormPairs::parse(query.unwrap_or_default().as_bytes());
    let response = {
        let store = emulator.store();
        match validate(&store, parameters, emulator.config.require_pkce) {
            Err(refusal) => refusal.into_response(),
            Ok(request) => Html(consent_page::render(&request, &store)).into_response(),
        }
    };
    after.deliver(&connection, response).await
}

/// `POST /oauth/authorize/decision`.
pub(super) async fn decide(
    State(emulator): State<SharedEmulator>,
    connection: ConnectionControl,
    body: Bytes,
) -> Response {
    let after = match intercept(&emulator, &connection, &[Endpoint::AuthorizeDecision]).await {
        Ok(after) => after,
        Err(response) => return response,
    };
    let form = FormPairs::parse(&body);
    let parameters =
        FormPairs(form.0.iter().filter(|(name, _)| !DECISION_FIELDS.contains(&name.as_str())).cloned().collect());
    let response = {
        let mut store = emulator.store();
        match validate(&store, parameters, emulator.config.require_pkce) {
            Err(refusal) => refusal.into_response(),
            Ok(request) => match (form.single("decision"), form.single("account")) {
                (Ok(Some("deny")), _) => {
                    found(&redirect_with(&request.redirect_uri, &[("error", "access_denied")], &request.state))
                }
                (Ok(Some("approve")), Ok(Some(account))) if store.users.contains_key(account) => {
                    let ttl = SignedDuration::try_from(emulator.config.authorization_code_ttl)
                        .unwrap_or(SignedDuration::from_secs(600));
                    let code = approve(&mut store, &request, account, ttl);
                    found(&redirect_with(&request.redirect_uri, &[("code", &code)], &request.state))
                }
                (Ok(Some("approve")), _) => ErrorPage {
                    status: StatusCode::BAD_REQUEST,
                    title: "invalid_account".to_owned(),
                    detail: "account must name one of the emulator's users".to_owned(),
                }
                .into_response(),
                _ => ErrorPage {
                    status: StatusCode::BAD_REQUEST,
                    title: "invalid_decision".to_owned(),
                    detail: "decision must be approve or deny".to_owned(),
                }
                .into_response(),
            },
        }
    };
    after.deliver(&connection, response).await
}

fn validate(store: &Store, parameters: FormPairs, require_pkce: bool) -> Result<AuthorizationRequest, Refusal> {
    let page = |title: &str, detail: &str| {
        Refusal::Page(ErrorPage { status: StatusCode::BAD_REQUEST, title: title.to_owned(), detail: detail.to_owned() })
    };
    let client_id = match parameters.single("client_id") {
        Ok(Some(id)) => id.to_owned(),
        Ok(None) => return Err(page("invalid_client", "Missing client_id.")),
        Err(repeated) => return Err(page("invalid_request", &repeated.to_string())),
    };
    let Some(client) = store.clients.get(&client_id) else {
        return Err(page("invalid_client", "Invalid client_id."));
    };
    let redirect_uri = match parameters.single("redirect_uri") {
        Ok(Some(uri)) if client.redirect_uris.iter().any(|registered| registered == uri) => uri.to_owned(),
        Ok(_) => return Err(page("redirect_uri_mismatch", "Invalid redirect: the redirect_uri is not registered.")),
        Err(repeated) => return Err(page("invalid_request", &repeated.to_string())),
    };
    // From here on the redirect URI is trusted and learns of every problem.
    let state = parameters.single("state").ok().flatten().map(str::to_owned);
    let refuse = |error: &str, description: &str| {
        Refusal::Redirect(redirect_with(&redirect_uri, &[("error", error), ("error_description", description)], &state))
    };
    if let Some(repeated) = parameters.first_repeated(&SINGLE_VALUED) {
        return Err(refuse("invalid_request", &repeated.to_string()));
    }
    match parameters.single("response_type").ok().flatten() {
        Some("code") => {}
        None => return Err(refuse("invalid_request", "Missing response_type.")),
        Some(_) => return Err(refuse("unsupported_response_type", "Only response_type=code is supported.")),
    }
    let challenge = parameters.single("code_challenge").ok().flatten();
    let method = parameters.single("code_challenge_method").ok().flatten();
    let code_challenge = match (challenge, method) {
        (None, None) if require_pkce => return Err(refuse("invalid_request", "Missing code_challenge.")),
        (None, None) => None,
        (None, Some(_)) => return Err(refuse("invalid_request", "code_challenge_method without code_challenge.")),
        (Some(challenge), Some("S256")) if is_pkce_value(challenge) => Some(challenge.to_owned()),
        (Some(_), Some("S256")) => return Err(refuse("invalid_request", "Invalid code_challenge.")),
        (Some(_), _) => return Err(refuse("invalid_request", "code_challenge_method must be S256.")),
    };
    Ok(AuthorizationRequest {
        client_id,
        redirect_uri,
        scopes: client.scopes.iter().cloned().collect(),
        state,
        code_challenge,
        parameters,
    })
}

/// Records the grant and issues a code for it.
fn approve(store: &mut Store, request: &AuthorizationRequest, user: &str, ttl: SignedDuration) -> String {
    // A new authorization replaces the previous one: Zoom keeps one per user and app.
    if let Some(previous) = store.active_grant(user, &request.client_id) {
        store.revoke_grant(previous, "reauthorized");
    }
    store.grants.push(Grant {
        user: user.to_owned(),
        client_id: request.client_id.clone(),
        scopes: request.scopes.clone(),
        revoked: false,
    });
    let grant = store.grants.len() - 1;
    let code = random::authorization_code();
    store.codes.push(AuthorizationCode {
        code: code.clone(),
        client_id: request.client_id.clone(),
        user: user.to_owned(),
        grant,
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        expires_at: Timestamp::now().checked_add(ttl).unwrap_or(Timestamp::MAX),
        used: false,
        redeemed_with_verifier: None,
        minted: Vec::new(),
    });
    code
}

/// `redirect_uri` with `pairs` and `state` appended to its query.
fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)], state: &Option<String>) -> String {
    let mut url = url::Url::parse(redirect_uri).expect("registered redirect URIs are absolute URLs");
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    url.to_string()
}

fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}
