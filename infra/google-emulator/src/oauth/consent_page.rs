//! The HTML a person sees at the authorization endpoint: the consent page and the
//! error page Google shows instead of redirecting.
//!
//! Contract: the consent form is plain HTML (no script) posting to
//! `/o/oauth2/v2/auth/decision`: every original query parameter as a hidden
//! field, `granular_consent=1`, one `account` radio per seeded account (the
//! `login_hint` account preselected, else the first), one `scope_granted`
//! checkbox per requested scope (sign-in scopes fixed and always sent, others
//! ticked by default), and `decision` buttons `approve` / `deny`. Every
//! interpolated value is HTML-escaped.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::authorize::AuthorizationRequest;
use super::scopes;
use crate::state::Store;

pub(super) struct ConsentPage<'a> {
    pub request: &'a AuthorizationRequest,
    pub store: &'a Store,
}

/// A page shown instead of redirecting (Google's "Error 400: ..." screens).
pub(super) struct ErrorPage {
    pub status: StatusCode,
    /// Google's error code, e.g. `redirect_uri_mismatch`.
    pub title: String,
    pub detail: String,
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        let body = format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Error {code}: {title}</title></head>\n\
             <body><h1>Access blocked: authorization error</h1>\n\
             <p><strong>Error {code}: <span id=\"error\">{title}</span></strong></p>\n\
             <p id=\"detail\">{detail}</p></body></html>\n",
            code = self.status.as_u16(),
            title = escape(&self.title),
            detail = escape(&self.detail),
        );
        (self.status, Html(body)).into_response()
    }
}

pub(super) fn render(page: &ConsentPage<'_>) -> String {
    let request = page.request;
    let mut html = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Sign in - Google Accounts (emulator)</title>\n\
         <style>body{font-family:sans-serif;max-width:40em;margin:2em auto}fieldset{margin:1em 0}</style>\n\
         </head><body>\n<h1>Google emulator: choose an account</h1>\n",
    );
    html.push_str(&format!("<p>to continue to <strong>{}</strong></p>\n", escape(&request.client_id)));
    html.push_str("<form method=\"post\" action=\"/o/oauth2/v2/auth/decision\">\n");
    for (name, value) in &request.parameters.0 {
        html.push_str(&format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">\n", escape(name), escape(value)));
    }
    html.push_str("<input type=\"hidden\" name=\"granular_consent\" value=\"1\">\n");

    html.push_str("<fieldset><legend>Account</legend>\n");
    let preselected = request
        .login_hint
        .as_deref()
        .filter(|hint| page.store.accounts.contains_key(*hint))
        .or_else(|| page.store.accounts.keys().next().map(String::as_str));
    for account in page.store.accounts.values() {
        let checked = if Some(account.email.as_str()) == preselected { " checked" } else { "" };
        html.push_str(&format!(
            "<label><input type=\"radio\" name=\"account\" value=\"{email}\"{checked}> {name} &lt;{email}&gt;</label><br>\n",
            email = escape(&account.email),
            name = escape(&account.name),
        ));
    }
    html.push_str("</fieldset>\n");

    html.push_str("<fieldset><legend>This app wants to</legend>\n");
    for scope in &request.scopes {
        if scopes::is_sign_in(scope) {
            // Disabled inputs are not submitted, so the fixed scope travels hidden.
            html.push_str(&format!(
                "<input type=\"hidden\" name=\"scope_granted\" value=\"{s}\">\
                 <label><input type=\"checkbox\" checked disabled> {s} (required to sign in)</label><br>\n",
                s = escape(scope)
            ));
        } else {
            html.push_str(&format!(
                "<label><input type=\"checkbox\" name=\"scope_granted\" value=\"{s}\" checked> {s}</label><br>\n",
                s = escape(scope)
            ));
        }
    }
    html.push_str("</fieldset>\n");
    html.push_str(
        "<button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n\
         </form></body></html>\n",
    );
    html
}

/// Escapes text for both element content and double-quoted attribute values.
fn escape(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for character in raw.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_in_parameters_is_neutralised() {
        assert_eq!(
            escape("\"><script>alert('x')</script>&"),
            "&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"
        );
    }
}
