//! Reading `application/x-www-form-urlencoded` data (query strings, form bodies,
//! HTTP Basic credentials) as ordered name/value pairs.
//!
//! Contract: repeated names are kept (the consent form repeats `scope_granted`),
//! and callers that must refuse repeats (RFC 6749 §3.1, §3.2) ask
//! [`FormPairs::single`], which tells "absent" from "repeated".

use url::form_urlencoded;

/// Name/value pairs in the order they arrived.
#[derive(Debug, Clone, Default)]
pub struct FormPairs(pub Vec<(String, String)>);

/// A parameter that RFC 6749 says must not appear more than once did.
#[derive(Debug, thiserror::Error)]
#[error("Parameter {0} was provided more than once.")]
pub struct RepeatedParameter(pub String);

impl FormPairs {
    pub fn parse(raw: &[u8]) -> Self {
        FormPairs(form_urlencoded::parse(raw).into_owned().collect())
    }

    /// The only value of `name`; an empty value counts as absent, as Google and Zoom treat it.
    pub fn single(&self, name: &str) -> Result<Option<&str>, RepeatedParameter> {
        let mut values = self.0.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(RepeatedParameter(name.to_owned()));
        }
        Ok(first.filter(|value| !value.is_empty()))
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|(key, _)| key == name)
    }

    /// The first repeated name among `names`, if any.
    pub fn first_repeated(&self, names: &[&str]) -> Option<RepeatedParameter> {
        names.iter().find_map(|name| self.single(name).err())
    }
}

/// Decodes one form-urlencoded component (`+` is a space), as RFC 6749 §2.3.1
/// requires for the client id and secret inside HTTP Basic credentials.
pub fn decode_component(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let hex = bytes.get(index + 1..index + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                decoded.push(u8::from_str_radix(hex, 16).ok()?);
                index += 2;
            }
            other => decoded.push(other),
        }
        index += 1;
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_told_apart_from_absent_ones() {
        let pairs = FormPairs::parse(b"a=1&b=&c=2&c=3");
        assert_eq!(pairs.single("a").unwrap(), Some("1"));
        assert_eq!(pairs.single("b").unwrap(), None);
        assert_eq!(pairs.single("missing").unwrap(), None);
        assert!(pairs.single("c").is_err());
        assert_eq!(pairs.all("c").collect::<Vec<_>>(), vec!["2", "3"]);
    }

    #[test]
    fn basic_credentials_components_are_form_decoded() {
        assert_eq!(decode_component("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(decode_component("bad%zz"), None);
        assert_eq!(decode_component("trailing%4"), None);
    }
}
