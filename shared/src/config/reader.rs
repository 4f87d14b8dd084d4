//! Reading variables: every problem is collected, so one error names them all.

use base64::Engine as _;
use url::Url;

use super::MIN_SIGNING_KEY_BYTES;

pub(super) struct Reader<'a, F: Fn(&str) -> Option<String>> {
    pub(super) lookup: &'a F,
    pub(super) problems: Vec<String>,
}

impl<F: Fn(&str) -> Option<String>> Reader<'_, F> {
    pub(super) fn problem(&mut self, text: &str) {
        self.problems.push(text.to_owned());
    }

    pub(super) fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    pub(super) fn required(&mut self, name: &str) -> Option<String> {
        let value = self.optional(name);
        if value.is_none() {
            self.problems.push(format!("{name} is required"));
        }
        value
    }

    pub(super) fn required_because(&mut self, name: &str, why: &str) -> Option<String> {
        let value = self.optional(name);
        if value.is_none() {
            self.problems.push(format!("{name} is required ({why})"));
        }
        value
    }

    pub(super) fn parse_url(&mut self, name: &str, raw: &str) -> Option<Url> {
        match Url::parse(raw) {
            Ok(url) if matches!(url.scheme(), "https" | "http") => {
                Some(Url::parse(raw.trim_end_matches('/')).unwrap_or(url))
            }
            _ => {
                self.problems.push(format!("{name} must be an absolute http(s) URL"));
                None
            }
        }
    }

    pub(super) fn required_url(&mut self, name: &str) -> Option<Url> {
        let raw = self.required(name)?;
        self.parse_url(name, &raw)
    }

    pub(super) fn url_or(&mut self, name: &str, default: &str) -> Option<Url> {
        let raw = self.optional(name).unwrap_or_else(|| default.to_owned());
        self.parse_url(name, &raw)
    }

    pub(super) fn number_or(&mut self, name: &str, default: u64) -> u64 {
        match self.optional(name) {
            None => default,
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                self.problems.push(format!("{name} must be a whole number"));
                default
            }),
        }
    }

    pub(super) fn flag(&mut self, name: &str) -> bool {
        match self.optional(name).map(|v| v.to_ascii_lowercase()) {
            None => false,
            Some(v) if v == "true" || v == "1" => true,
            Some(v) if v == "false" || v == "0" => false,
            Some(_) => {
                self.problems.push(format!("{name} must be true or false"));
                false
            }
        }
    }

    pub(super) fn signing_key(&mut self, name: &str, raw: &str) -> Option<Vec<u8>> {
        match base64::engine::general_purpose::STANDARD.decode(raw) {
            Ok(bytes) if bytes.len() >= MIN_SIGNING_KEY_BYTES => Some(bytes),
            _ => {
                self.problems
                    .push(format!("{name} must be at least {MIN_SIGNING_KEY_BYTES} random bytes, base64-encoded"));
                None
            }
        }
    }
}
