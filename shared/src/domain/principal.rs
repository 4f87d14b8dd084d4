//! Who is asking: the app's backend service, or one user of the tenant.
//!
//! Contract (the one home of "who may act for whom"):
//! - A [`Principal::Service`] is a JWT of the tenant carrying the configured service scope. It
//!   acts for any user of its own tenant, and must name that user (body or path).
//! - A [`Principal::User`] (staff or client; calbridge does not tell them apart) acts for
//!   themselves only. Naming themselves is allowed; naming anyone else is refused.
//! - Nothing ever crosses the tenant of the token: every owner returned here is in it.
//!
//! Participants of a meeting and booking-link holders are not principals of their own: a
//! participant is a user the meeting record names, and a booking link is a signed capability
//! checked where it is spent.

use super::{Owner, TenantId, UserId};

/// The authenticated caller of a JWT route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The app's backend, acting for users of `tenant`. `client` is the token's subject (an
    /// OAuth client id, say), kept for logs only.
    Service { tenant: TenantId, client: String },
    /// One user of the tenant, acting for themselves.
    User(Owner),
}

/// Why a principal may not act as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActingError {
    /// The service must say which user it acts for.
    #[error("the service must name the user it acts for ({0})")]
    UserRequired(&'static str),
    /// The named user id does not parse.
    #[error("{field}: {message}")]
    InvalidUser { field: &'static str, message: String },
    /// A user named someone other than themselves, or asked for something only the service may.
    #[error("{0}")]
    Forbidden(&'static str),
}

impl Principal {
    pub fn tenant(&self) -> &TenantId {
        match self {
            Principal::Service { tenant, .. } => tenant,
            Principal::User(owner) => &owner.tenant,
        }
    }

    pub fn is_service(&self) -> bool {
        matches!(self, Principal::Service { .. })
    }

    /// The user, when the caller is one.
    pub fn user(&self) -> Option<&UserId> {
        match self {
            Principal::Service { .. } => None,
            Principal::User(owner) => Some(&owner.user),
        }
    }

    /// Whether this caller may act for `user` of its tenant.
    pub fn may_act_for(&self, user: &UserId) -> bool {
        match self {
            Principal::Service { .. } => true,
            Principal::User(owner) => &owner.user == user,
        }
    }

    /// The owner a request acts for. `named` is the user id the request names in `field`
    /// (body or path): the service must name one; a user may name only themselves.
    pub fn acting_for(&self, named: Option<&str>, field: &'static str) -> Result<Owner, ActingError> {
        let named = named
            .map(|raw| UserId::parse(raw).map_err(|e| ActingError::InvalidUser { field, message: e.to_string() }))
            .transpose()?;
        match (self, named) {
            (Principal::Service { tenant, .. }, Some(user)) => Ok(Owner::new(tenant.clone(), user)),
            (Principal::Service { .. }, None) => Err(ActingError::UserRequired(field)),
            (Principal::User(owner), None) => Ok(owner.clone()),
            (Principal::User(owner), Some(user)) if user == owner.user => Ok(owner.clone()),
            (Principal::User(_), Some(_)) => Err(ActingError::Forbidden("a user may act only for themselves")),
        }
    }

    /// Only the service may do this.
    pub fn require_service(&self, what: &'static str) -> Result<&TenantId, ActingError> {
        match self {
            Principal::Service { tenant, .. } => Ok(tenant),
            Principal::User(_) => Err(ActingError::Forbidden(what)),
        }
    }
}

/// Whether a token's scope claims grant `wanted`. Claims arrive as API Gateway renders them:
/// `scope` as a space-separated string, `scp` as a string or an array flattened to text
/// (`[a b]` by HTTP APIs, `["a","b"]` by others). Matching is exact per scope.
pub fn scopes_grant<'a>(claims: impl IntoIterator<Item = &'a str>, wanted: &str) -> bool {
    claims.into_iter().any(|claim| {
        claim
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']' | '"'))
            .filter(|s| !s.is_empty())
            .any(|scope| scope == wanted)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(tenant: &str, user: &str) -> Principal {
        Principal::User(Owner::new(TenantId::parse(tenant).unwrap(), UserId::parse(user).unwrap()))
    }

    fn service(tenant: &str) -> Principal {
        Principal::Service { tenant: TenantId::parse(tenant).unwrap(), client: "backend".into() }
    }

    #[test]
    fn the_service_acts_for_a_named_user_of_its_own_tenant() {
        let owner = service("t1").acting_for(Some("dr-lee"), "user_id").unwrap();
        assert_eq!(owner.tenant.as_str(), "t1");
        assert_eq!(owner.user.as_str(), "dr-lee");
        assert_eq!(service("t1").acting_for(None, "user_id"), Err(ActingError::UserRequired("user_id")));
        assert!(matches!(service("t1").acting_for(Some(""), "user_id"), Err(ActingError::InvalidUser { .. })));
    }

    #[test]
    fn a_user_acts_only_for_themselves() {
        let me = user("t1", "pat");
        assert_eq!(me.acting_for(None, "user_id").unwrap().user.as_str(), "pat");
        assert_eq!(me.acting_for(Some("pat"), "user_id").unwrap().user.as_str(), "pat");
        assert!(matches!(me.acting_for(Some("dr-lee"), "user_id"), Err(ActingError::Forbidden(_))));
        assert!(me.require_service("sync").is_err());
        assert!(me.may_act_for(&UserId::parse("pat").unwrap()));
        assert!(!me.may_act_for(&UserId::parse("dr-lee").unwrap()));
    }

    #[test]
    fn scope_claims_in_every_rendering() {
        let wanted = "calbridge/service";
        for granted in [
            "calbridge/service",
            "openid calbridge/service",
            "[calbridge/service email]",
            r#"["email","calbridge/service"]"#,
            "email,calbridge/service",
        ] {
            assert!(scopes_grant([granted], wanted), "{granted}");
        }
        for refused in ["", "calbridge/service2", "calbridge/services", "xcalbridge/service", "calbridge", "service"] {
            assert!(!scopes_grant([refused], wanted), "{refused}");
        }
    }
}
