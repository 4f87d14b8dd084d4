//! Reading `application/x-www-form-urlencoded` data (query strings, form bodies)
//! as ordered name/value pairs.
//!
//! Contract: repeated names are kept, and callers that must refuse repeats (RFC 6749 §3.1, §3.2) ask
//! [`FormPairs::single`], which tells "absent" from "repeated".

use url::form_urlencoded;

/// Name/value pairs in the order they arrived.
#[derive(Debug, Clone, Default)]
pub(crate) struct FormPairs(pub Vec<(String, String)>);

/// A parameter that RFC 6749 says must not appear more than once did.
#[derive(Debug, thiserror::Error)]
#[error("Parameter {0} was provided more than once.")]
pub(crate) struct RepeatedParameter(pub String);

impl FormPairs {
    pub fn parse(raw: &[u8]) -> Self {
        FormPairs(form_urlencoded::parse(raw).into_owned().collect())
    }

    /// The only value of `name`; an empty value counts as absent, as Google treats it.
    pub fn single(&self, name: &str) -> Result<Option<&str>, RepeatedParameter> {
        let mut values = self.0.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(RepeatedParameter(name.to_owned()));
        }
        Ok(first.filter(|value| !value.is_empty()))
    }

    /// The first repeated name among `names`, if any.
    pub fn first_repeated(&self, names: &[&str]) -> Option<RepeatedParameter> {
        names.iter().find_map(|name| self.single(name).err())
    }
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
    }
}
