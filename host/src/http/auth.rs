//! Who may call what: three roles, each with its own bearer tokens.
//!
//! `CLIENT_TOKENS` may start an order, read its status, cancel it and change its address; `OPERATOR_TOKENS` may also
//! approve, list orders, read events and set per-order options; `ADMIN_TOKENS` (and the older `ADMIN_TOKEN`) may
//! also administer plugins. A role whose list is unset asks for no more than the role below it — with nothing set
//! every order route is open, as the seed's curls expect — except admin, which is then disabled.
//!
//! Tokens are compared as SHA-256 digests in constant time, every configured token is looked at whatever matched,
//! and no token is ever logged or printed.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest as _, Sha256};

use super::AppState;
use super::error::ApiError;

/// A role, ordered: a higher role may do everything a lower one may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Client,
    Operator,
    Admin,
}

impl Role {
    const ALL: [Role; 3] = [Role::Client, Role::Operator, Role::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// A list of accepted tokens, kept only as digests (its `Debug` shows how many, never which).
#[derive(Clone, Default)]
pub struct Tokens(Vec<[u8; 32]>);

impl Tokens {
    /// Parses a comma-separated list; empty entries are ignored.
    pub fn parse(list: &str) -> Self {
        Tokens(list.split(',').map(str::trim).filter(|t| !t.is_empty()).map(digest).collect())
    }

    /// Looks at every token, so the time taken says nothing about which one (if any) matched.
    fn contains(&self, given: &[u8; 32]) -> bool {
        self.0.iter().fold(false, |found, token| found | constant_time_eq(token, given))
    }
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} configured)", self.0.len())
    }
}

/// The three roles' token lists; `None` = the variable is unset.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub client: Option<Tokens>,
    pub operator: Option<Tokens>,
    pub admin: Option<Tokens>,
}

impl Access {
    /// From the configured lists; `ADMIN_TOKEN` joins the admin list. Empty lists count as unset.
    pub fn new(client: Option<&str>, operator: Option<&str>, admin: Option<&str>, admin_token: Option<&str>) -> Self {
        let list = |s: Option<&str>| s.map(Tokens::parse).filter(|t| !t.0.is_empty());
        let mut admin_list = list(admin).unwrap_or_default();
        // `ADMIN_TOKEN` is one token, commas and all: splitting it would accept each piece on its own.
        admin_list.0.extend(admin_token.map(str::trim).filter(|t| !t.is_empty()).map(digest));
        Access { client: list(client), operator: list(operator), admin: Some(admin_list).filter(|t| !t.0.is_empty()) }
    }

    fn tokens(&self, role: Role) -> Option<&Tokens> {
        match role {
            Role::Client => self.client.as_ref(),
            Role::Operator => self.operator.as_ref(),
            Role::Admin => self.admin.as_ref(),
        }
    }

    /// `role` raised through every role above it whose list is unset (never to admin): an unset role asks no
    /// more than the role below it. `None` (no token) rises from nothing.
    fn climb(&self, role: Option<Role>) -> Option<Role> {
        Role::ALL
            .into_iter()
            .filter(|r| role.is_none_or(|have| *r > have))
            .take_while(|r| *r != Role::Admin && self.tokens(*r).is_none())
            .last()
            .or(role)
    }

    /// The highest role whose list holds `token`, if any.
    fn role_of(&self, token: &str) -> Option<Role> {
        let given = digest(token);
        Role::ALL.into_iter().rev().find(|r| self.tokens(*r).is_some_and(|t| t.contains(&given)))
    }

    /// What the caller may do: the role its token proves, or what is open to anybody. A token that matches no list
    /// is refused by [`Caller::require`], even where nothing would be asked for.
    pub fn caller(&self, authorization: Option<&str>) -> Result<Caller, ApiError> {
        let admin_enabled = self.admin.is_some();
        let Some(header) = authorization else {
            return Ok(Caller { role: self.climb(None), token: Token::None, admin_enabled });
        };
        let token = header
            .strip_prefix("Bearer ")
            .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))?;
        Ok(match self.role_of(token.trim()) {
            Some(role) => Caller { role: self.climb(Some(role)), token: Token::Valid, admin_enabled },
            None => Caller { role: None, token: Token::Unknown, admin_enabled },
        })
    }

    /// Logs which roles are open, once at start-up (never the tokens).
    pub fn log_summary(&self) {
        let describe = |r: Role| match self.tokens(r) {
            Some(t) => format!("{} token(s)", t.0.len()),
            None if r == Role::Admin => "disabled".to_owned(),
            None => "open".to_owned(),
        };
        tracing::info!(
            client = %describe(Role::Client),
            operator = %describe(Role::Operator),
            admin = %describe(Role::Admin),
            "API access"
        );
        if self.operator.is_none() && self.client.is_some() {
            tracing::warn!("CLIENT_TOKENS is set but OPERATOR_TOKENS is not: operator routes accept client tokens");
        }
    }
}

/// The caller of a request, as far as access goes.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    role: Option<Role>,
    token: Token,
    admin_enabled: bool,
}

/// What the caller's `Authorization` header held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    None,
    Valid,
    Unknown,
}

impl Caller {
    /// 401 if the caller showed a token that matches no list.
    pub fn known(self) -> Result<(), ApiError> {
        if self.token == Token::Unknown { Err(ApiError::unauthorized("unknown token")) } else { Ok(()) }
    }

    /// 401 if the caller showed no valid token and needs one (or showed an unknown one); 403 if its token's role is
    /// too low.
    pub fn require(self, role: Role) -> Result<(), ApiError> {
        if role == Role::Admin && !self.admin_enabled {
            return Err(ApiError::unauthorized("plugin administration is disabled: the host has no ADMIN_TOKENS"));
        }
        match (self.token, self.role) {
            (Token::Unknown, _) => Err(ApiError::unauthorized("unknown token")),
            (_, Some(have)) if have >= role => Ok(()),
            (Token::None, _) => {
                Err(ApiError::unauthorized(format!("send Authorization: Bearer <token> of the {} role", role.name())))
            }
            (Token::Valid, have) => Err(ApiError::forbidden(format!(
                "a {} token may not do this; it needs the {} role",
                have.map_or("lower", Role::name),
                role.name()
            ))),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).map(|v| v.to_str().unwrap_or("\u{0}"));
        state.access.caller(header)
    }
}

/// Extractors that admit only callers of at least one role.
macro_rules! role_guard {
    ($name:ident, $role:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
                Caller::from_request_parts(parts, state).await?.require($role)?;
                Ok($name)
            }
        }
    };
}

/// The caller has at least the client role; the handler may ask more of it (options need an operator).
#[derive(Debug, Clone, Copy)]
pub struct ClientRole(pub Caller);

impl FromRequestParts<AppState> for ClientRole {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(Role::Client)?;
        Ok(ClientRole(caller))
    }
}

role_guard!(OperatorRole, Role::Operator, "The caller has at least the operator role.");
role_guard!(AdminRole, Role::Admin, "The caller has the admin role.");

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(r: Result<(), ApiError>) -> u16 {
        match r {
            Ok(()) => 200,
            Err(e) => e.status.as_u16(),
        }
    }

    #[test]
    fn nothing_set_opens_orders_and_closes_admin() {
        let access = Access::default();
        let anyone = access.caller(None).unwrap();
        assert_eq!(status(anyone.require(Role::Client)), 200);
        assert_eq!(status(anyone.require(Role::Operator)), 200);
        assert_eq!(status(anyone.require(Role::Admin)), 401);
        assert_eq!(status(access.caller(Some("Bearer x")).unwrap().require(Role::Client)), 401, "unknown token");
    }

    #[test]
    fn roles_are_ordered_and_checked() {
        let access = Access::new(Some("c1, c2"), Some("o1"), Some("a1"), Some("legacy"));
        assert_eq!(status(access.caller(None).unwrap().require(Role::Client)), 401);
        let client = access.caller(Some("Bearer c2")).unwrap();
        assert_eq!(status(client.require(Role::Client)), 200);
        assert_eq!(status(client.require(Role::Operator)), 403);
        let operator = access.caller(Some("Bearer o1")).unwrap();
        assert_eq!(status(operator.require(Role::Operator)), 200);
        assert_eq!(status(operator.require(Role::Admin)), 403);
        for admin in ["Bearer a1", "Bearer legacy"] {
            let admin = access.caller(Some(admin)).unwrap();
            assert_eq!(status(admin.require(Role::Client)), 200);
            assert_eq!(status(admin.require(Role::Admin)), 200);
        }
        assert_eq!(status(access.caller(Some("Bearer c3")).unwrap().require(Role::Client)), 401);
        assert_eq!(access.caller(Some("Basic c1")).unwrap_err().status, 401);
    }

    #[test]
    fn an_unset_role_asks_what_the_role_below_asks() {
        // Clients need tokens, operators have none: a client token may approve; nobody anonymous may.
        let access = Access::new(Some("c"), None, Some("a"), None);
        assert_eq!(status(access.caller(None).unwrap().require(Role::Operator)), 401);
        assert_eq!(status(access.caller(Some("Bearer c")).unwrap().require(Role::Operator)), 200);
        assert_eq!(status(access.caller(Some("Bearer c")).unwrap().require(Role::Admin)), 403, "admin never inherits");
        // Only operators have tokens: client routes are open, operator routes need the token.
        let access = Access::new(None, Some("o"), None, None);
        assert_eq!(status(access.caller(None).unwrap().require(Role::Client)), 200);
        assert_eq!(status(access.caller(None).unwrap().require(Role::Operator)), 401);
        assert_eq!(status(access.caller(Some("Bearer o")).unwrap().require(Role::Operator)), 200);
    }

    #[test]
    fn admin_token_is_one_token() {
        let access = Access::new(None, None, None, Some("abc,def"));
        assert_eq!(status(access.caller(Some("Bearer abc,def")).unwrap().require(Role::Admin)), 200);
        assert_eq!(status(access.caller(Some("Bearer abc")).unwrap().require(Role::Admin)), 401);
    }

    #[test]
    fn debug_never_shows_a_token() {
        let access = Access::new(Some("secret-client"), None, Some("secret-admin"), None);
        let shown = format!("{access:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
