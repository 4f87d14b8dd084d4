//! The HTML a person sees at the authorization endpoint: the consent page and the
//! error page shown instead of redirecting.
//!
//! Contract: the consent form is plain HTML (no script) posting to
//! `/oauth/authorize/decision`: every original query parameter as a hidden field,
//! one `account` radio per seeded user (the first preselected), the scopes the
//! app will be granted (read-only: Zoom grants the app's configured scopes), and
//! `decision` buttons `approve` / `deny`. Every interpolated value is HTML-escaped.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::authorize::AuthorizationRequest;
use crate::state::Store;

/// A page shown instead of redirecting.
pub(super) struct ErrorPage {
    pub status: StatusCode,
    /// A short error code, e.g. `redirect_uri_mismatch`.
    pub title: String,
    pub detail: String,
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        let body = format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Zoom - {title}</title></head>\n\
             <body><h1>Something went wrong</h1>\n\
             <p><strong>Error {code}: <span id=\"error\">{title}</span></strong></p>\n\
             <p id=\"detail\">{detail}</p></body></html>\n",
            code = self.status.as_u16(),
            title = escape(&self.title),
            detail = escape(&self.detail),
        );
        (self.status, Html(body)).into_response()
    }
}

pub(super) fn render(request: &AuthorizationRequest, store: &Store) -> String {
    let mut html = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Zoom (emulator): authorize app</title>\n\
         <style>body{font-family:sans-serif;max-width:40em;margin:2em auto}fieldset{margin:1em 0}</style>\n\
         </head><body>\n<h1>Zoom emulator: authorize an app</h1>\n",
    );
    html.push_str(&format!(
        "<p><strong>{}</strong> would like to access your Zoom account</p>\n",
        escape(&request.client_id)
    ));
    html.push_str("<form method=\"post\" action=\"/oauth/authorize/decision\">\n");
    for (name, value) in &request.parameters.0 {
        html.push_str(&format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">\n", escape(name), escape(value)));
    }
    html.push_str("<fieldset><legend>Sign in as</legend>\n");
    for (index, user) in store.users.values().enumerate() {
        let checked = if index == 0 { " checked" } else { "" };
        html.push_str(&format!(
            "<label><input type=\"radio\" name=\"account\" value=\"{email}\"{checked}> {first} {last} &lt;{email}&gt;</label><br>\n",
            email = escape(&user.email),
            first = escape(&user.first_name),
            last = escape(&user.last_name),
        ));
    }
    html.push_str("</fieldset>\n<fieldset><legend>The app will be able to</legend><ul>\n");
    for scope in &request.scopes {
        html.push_str(&format!("<li>{}</li>\n", escape(scope)));
    }
    html.push_str(
        "</ul></fieldset>\n\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Decline</button>\n\
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
        assert_eq!(escape("\"><script>'x'</script>&"), "&quot;&gt;&lt;script&gt;&#39;x&#39;&lt;/script&gt;&amp;");
    }
}
