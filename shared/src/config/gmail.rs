//! Gmail's section of the configuration: `GOOGLE_MAIL_*` and `GOOGLE_GMAIL_API_URL`.
//!
//! Gmail is a connection kind of its own (provider `gmail`) served by Google's OAuth endpoints,
//! so it is offered whenever Google's section is: the OAuth endpoints, issuer and JWKS are
//! Google's. What differs is the scope set (sign-in plus `gmail.send`, nothing else), the
//! redirect URI (`.../connections/gmail/callback`: `GOOGLE_MAIL_REDIRECT_URI`, else derived
//! from `GOOGLE_REDIRECT_URI` by swapping `google` for `gmail`), and optionally the OAuth
//! client: `GOOGLE_MAIL_CLIENT_ID` names a separate client for mail, whose secret is
//! `gmail_client_secret` in the stored secret (`GMAIL_CLIENT_SECRET` inline). With the shared
//! client (the default) Calendar and Gmail grants of one Google account are one grant at
//! Google, which decides how a disconnect revokes ([`crate::usecases::connect`]).

use url::Url;

use super::GoogleConfig;
use super::reader::Reader;

/// The scopes a Gmail connection asks for and must be granted: who the account is (its
/// address becomes the From of every message) and sending, which Google classes as
/// "sensitive" (verification, no annual security assessment), unlike reading the mailbox.
pub const DEFAULT_GMAIL_SCOPES: &str = "openid email https://www.googleapis.com/auth/gmail.send";
/// The one scope sending needs.
pub const GMAIL_SEND_SCOPE: &str = "https://www.googleapis.com/auth/gmail.send";
pub const DEFAULT_GMAIL_API_URL: &str = "https://gmail.googleapis.com/gmail/v1";

#[derive(Debug, Clone)]
pub struct GmailConfig {
    /// The OAuth client mail is connected with: Google's own unless `GOOGLE_MAIL_CLIENT_ID`.
    pub client_id: String,
    /// Whether `client_id` is a client of its own (its grants are then never shared with
    /// Calendar's, and its secret is `gmail_client_secret`).
    pub separate_client: bool,
    /// `.../connections/gmail/callback`, registered on the client.
    pub redirect_uri: Url,
    /// Base of the Gmail API including `/gmail/v1`, without a trailing slash.
    pub api_url: Url,
    pub scopes: Vec<String>,
}

impl GmailConfig {
    /// Google's section with Gmail's client, redirect and scopes: what the Google OAuth
    /// adapter needs to run Gmail's consent flow.
    pub fn oauth_section(&self, google: &GoogleConfig) -> GoogleConfig {
        GoogleConfig {
            client_id: self.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            scopes: self.scopes.clone(),
            ..google.clone()
        }
    }
}

/// Reads the section for a deployment whose Google section is `google`.
pub(super) fn read<F: Fn(&str) -> Option<String>>(
    env: &mut Reader<'_, F>,
    google: &GoogleConfig,
) -> Option<GmailConfig> {
    let redirect_uri = match env.optional("GOOGLE_MAIL_REDIRECT_URI") {
        Some(raw) => env.parse_url("GOOGLE_MAIL_REDIRECT_URI", &raw),
        None => derived_redirect(&google.redirect_uri),
    };
    match &redirect_uri {
        Some(uri) if !uri.path().ends_with("/connections/gmail/callback") => env.problem(
            "GOOGLE_MAIL_REDIRECT_URI must end with /connections/gmail/callback (the launch route is derived from it)",
        ),
        None if env.optional("GOOGLE_MAIL_REDIRECT_URI").is_none() => env.problem(
            "GOOGLE_MAIL_REDIRECT_URI is required when GOOGLE_REDIRECT_URI does not end with /connections/google/callback",
        ),
        _ => {}
    }
    let separate = env.optional("GOOGLE_MAIL_CLIENT_ID");
    let api_url = env.url_or("GOOGLE_GMAIL_API_URL", DEFAULT_GMAIL_API_URL);
    let scopes = DEFAULT_GMAIL_SCOPES.split(' ').map(str::to_owned).collect();
    Some(GmailConfig {
        separate_client: separate.is_some(),
        client_id: separate.unwrap_or_else(|| google.client_id.clone()),
        redirect_uri: redirect_uri?,
        api_url: api_url?,
        scopes,
    })
}

/// `.../connections/google/callback` -> `.../connections/gmail/callback`, same origin.
fn derived_redirect(google: &Url) -> Option<Url> {
    let base = google.path().strip_suffix("/connections/google/callback")?;
    let mut url = google.clone();
    url.set_path(&format!("{base}/connections/gmail/callback"));
    url.set_query(None);
    Some(url)
}
