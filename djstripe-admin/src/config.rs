//! [`AdminConfig`]: who may log in, where new endpoints point, rows per page.

use crate::auth;

/// The admin's settings: who may log in, and how pages look.
///
/// ```
/// use djstripe_admin::{AdminConfig, hash_password};
/// let config = AdminConfig::password("ops", &hash_password("correct horse")).unwrap().page_size(25);
/// assert!(config.check_password("ops", "correct horse"));
/// assert!(!config.check_password("ops", "wrong"));
/// ```
#[derive(Clone)]
pub struct AdminConfig {
    pub(crate) user: String,
    pub(crate) password: Option<[u8; 32]>,
    pub(crate) token: Option<[u8; 32]>,
    pub(crate) webhook_prefix: String,
    pub(crate) page_size: i64,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("user", &self.user)
            .field("password", &self.password.map(|_| "sha256:…"))
            .field("token", &self.token.map(|_| "…"))
            .field("webhook_prefix", &self.webhook_prefix)
            .field("page_size", &self.page_size)
            .finish()
    }
}

impl AdminConfig {
    fn empty() -> Self {
        Self { user: "admin".into(), password: None, token: None, webhook_prefix: "/stripe".into(), page_size: 50 }
    }

    /// Log in as `user` with the password whose hash is `hash` (`sha256:<64 hex digits>`, see
    /// [`hash_password`]): HTTP basic auth or the login form.
    ///
    /// ```
    /// let err = djstripe_admin::AdminConfig::password("admin", "hunter2").unwrap_err();
    /// assert!(err.to_string().contains("sha256:"));
    /// ```
    pub fn password(user: impl Into<String>, hash: &str) -> Result<Self, djstripe_core::Error> {
        let digest = auth::parse_hash("DJSTRIPE_ADMIN_PASSWORD_HASH", hash)?;
        Ok(Self { user: user.into(), password: Some(digest), ..Self::empty() })
    }

    /// Log in with a token: `Authorization: Bearer <token>`, or the token as the login form's
    /// password. Only its SHA-256 is kept.
    ///
    /// ```
    /// let config = djstripe_admin::AdminConfig::token("s3cr3t-token-of-enough-length");
    /// assert!(config.check_token("s3cr3t-token-of-enough-length"));
    /// ```
    pub fn token(token: &str) -> Self {
        Self { token: Some(auth::sha256(token.as_bytes())), ..Self::empty() }
    }

    /// Also accept a token (see [`AdminConfig::token`]).
    ///
    /// ```
    /// use djstripe_admin::{AdminConfig, hash_password};
    /// let config = AdminConfig::password("admin", &hash_password("pw")).unwrap().with_token("t0ken");
    /// assert!(config.check_token("t0ken"));
    /// ```
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(auth::sha256(token.as_bytes()));
        self
    }

    /// Where the webhook scope is mounted (default `/stripe`): new endpoints created from the
    /// admin get the URL `{base URL}{prefix}/webhook/{uuid}/`.
    ///
    /// ```
    /// let config = djstripe_admin::AdminConfig::token("t").webhook_prefix("/payments/stripe/");
    /// # let _ = config;
    /// ```
    pub fn webhook_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.webhook_prefix = prefix.into().trim_end_matches('/').to_owned();
        self
    }

    /// Rows per page of the triggers and events lists (default 50, at least 1).
    ///
    /// ```
    /// let config = djstripe_admin::AdminConfig::token("t").page_size(20);
    /// # let _ = config;
    /// ```
    pub fn page_size(mut self, rows: u32) -> Self {
        self.page_size = i64::from(rows.max(1));
        self
    }

    /// From the environment; `Ok(None)` (the admin stays off) when no credential is set.
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `DJSTRIPE_ADMIN_PASSWORD_HASH` | `sha256:<hex>` of the password (`printf %s 'pw' \| sha256sum`) |
    /// | `DJSTRIPE_ADMIN_USER` | the user name for that password (default `admin`) |
    /// | `DJSTRIPE_ADMIN_TOKEN` | a bearer token (at least 16 characters) |
    /// | `DJSTRIPE_ADMIN_PAGE_SIZE` | rows per page (default 50) |
    ///
    /// ```
    /// // Nothing configured: no admin.
    /// assert!(djstripe_admin::AdminConfig::from_lookup(|_| None).unwrap().is_none());
    /// ```
    pub fn from_env() -> Result<Option<Self>, djstripe_core::Error> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// [`AdminConfig::from_env`] reading variables through `get` (for tests and other sources).
    ///
    /// ```
    /// use djstripe_admin::{AdminConfig, hash_password};
    /// let hash = hash_password("pw");
    /// let config = AdminConfig::from_lookup(|name| match name {
    ///     "DJSTRIPE_ADMIN_PASSWORD_HASH" => Some(hash.clone()),
    ///     "DJSTRIPE_ADMIN_USER" => Some("ops".into()),
    ///     _ => None,
    /// }).unwrap().unwrap();
    /// assert!(config.check_password("ops", "pw"));
    /// ```
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, djstripe_core::Error> {
        let hash = get("DJSTRIPE_ADMIN_PASSWORD_HASH");
        let token = get("DJSTRIPE_ADMIN_TOKEN");
        if hash.is_none() && token.is_none() {
            return Ok(None);
        }
        let mut config = match &hash {
            Some(hash) => Self::password(get("DJSTRIPE_ADMIN_USER").unwrap_or_else(|| "admin".into()), hash)?,
            None => Self::empty(),
        };
        if let Some(token) = token {
            if token.trim().len() < 16 {
                return Err(djstripe_core::Error::InvalidSetting {
                    setting: "DJSTRIPE_ADMIN_TOKEN",
                    message: "the token is too short: use at least 16 random characters".into(),
                });
            }
            config = config.with_token(token.trim());
        }
        if let Some(size) = get("DJSTRIPE_ADMIN_PAGE_SIZE") {
            let rows = size.trim().parse::<u32>().map_err(|_| djstripe_core::Error::InvalidSetting {
                setting: "DJSTRIPE_ADMIN_PAGE_SIZE",
                message: format!("`{size}` is not a number of rows"),
            })?;
            config = config.page_size(rows);
        }
        Ok(Some(config))
    }

    /// Whether `user` / `password` is the configured login (constant-time comparison).
    ///
    /// ```
    /// let config = djstripe_admin::AdminConfig::token("a-token-for-scripts");
    /// assert!(!config.check_password("admin", "a-token-for-scripts"), "a token is not a password");
    /// ```
    pub fn check_password(&self, user: &str, password: &str) -> bool {
        auth::check_password(self, user, password)
    }

    /// Whether `token` is the configured token (constant-time comparison).
    ///
    /// ```
    /// let config = djstripe_admin::AdminConfig::token("a-token-for-scripts");
    /// assert!(!config.check_token("a-token-for-script"));
    /// ```
    pub fn check_token(&self, token: &str) -> bool {
        auth::check_token(self, token)
    }
}
