//! Meeting links a host attaches instead of a new Meet: validated strictly, and named by the
//! service they belong to.

use url::Url;

use super::{MeetingError, invalid};

/// A validated attached link and the provider it belongs to.
#[derive(Debug, PartialEq, Eq)]
pub struct AttachedLink {
    pub url: String,
    pub provider: &'static str,
}

/// Validates a link the host wants to attach.
pub fn parse_meeting_link(raw: &str, allowed_hosts: &[String]) -> Result<AttachedLink, MeetingError> {
    let refuse = |why: &str| invalid("invalid_meeting_url", format!("existing_url {why}"));
    let url = Url::parse(raw.trim()).map_err(|_| refuse("is not an absolute URL"))?;
    if url.scheme() != "https" {
        return Err(refuse("must use https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("must not carry credentials"));
    }
    if url.port().is_some() {
        return Err(refuse("must not name a port"));
    }
    let Some(url::Host::Domain(host)) = url.host() else {
        return Err(refuse("must name a meeting service by its host name"));
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let allowed = allowed_hosts.iter().any(|entry| match entry.strip_prefix("*.") {
        Some(parent) => host.ends_with(&format!(".{parent}")),
        None => host == *entry,
    });
    if !allowed {
        return Err(refuse("is not on an allowed meeting host"));
    }
    let provider = match host.as_str() {
        "meet.google.com" => "google_meet",
        h if h == "zoom.us" || h.ends_with(".zoom.us") => "zoom",
        "teams.microsoft.com" | "teams.live.com" => "teams",
        _ => "other",
    };
    Ok(AttachedLink { url: url.into(), provider })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<String> {
        crate::config::DEFAULT_MEETING_HOSTS.split(',').map(str::to_owned).collect()
    }

    #[test]
    fn links_of_each_provider_are_accepted() {
        for (url, provider) in [
            ("https://meet.google.com/abc-defg-hij", "google_meet"),
            ("https://zoom.us/j/123456789?pwd=abc", "zoom"),
            ("https://us02web.zoom.us/j/123456789", "zoom"),
            ("https://teams.microsoft.com/l/meetup-join/19%3ameeting", "teams"),
            ("https://teams.live.com/meet/9876", "teams"),
        ] {
            assert_eq!(parse_meeting_link(url, &hosts()).unwrap().provider, provider, "{url}");
        }
    }

    #[test]
    fn unsafe_and_look_alike_links_are_refused() {
        for url in [
            "http://meet.google.com/abc-defg-hij",
            "javascript:alert(1)",
            "https://meet.google.com.evil.example/abc",
            "https://evilzoom.us/j/1",
            "https://zoom.us.evil.example/j/1",
            "https://user:pass@zoom.us/j/1",
            "https://user@meet.google.com/abc",
            "https://meet.google.com:8443/abc",
            "https://142.250.0.1/abc",
            "//meet.google.com/abc",
            "meet.google.com/abc",
            "https://example.com/",
        ] {
            assert!(parse_meeting_link(url, &hosts()).is_err(), "{url} accepted");
        }
    }
}
