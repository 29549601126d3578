//! How to reach the database: the URI and the settings a deployment tunes.

use std::time::Duration;

use mongodb::options::{ClientOptions, WriteConcern};

use crate::{Error, Result};

/// Connection settings for [`crate::MongoChatStore`].
///
/// Only the URI is required; the rest have the defaults a small deployment
/// wants. Credentials may sit in the URI, or the password may come apart
/// from it ([`MongoConfig::password`]) so that it never appears in a command
/// line or a log.
#[derive(Clone)]
pub struct MongoConfig {
    /// `mongodb://...` or `mongodb+srv://...` (Atlas: SRV lookup and TLS).
    pub uri: String,
    /// The database; default: the URI's path, else `quicktalk`.
    pub database: Option<String>,
    /// The password for the URI's user, replacing any in the URI.
    pub password: Option<String>,
    /// Most connections per process. Default 20.
    pub max_pool_size: u32,
    /// How long to wait for a usable server (selection and connect), and
    /// the longest a `/readyz` ping waits. Default 5 s.
    pub timeout: Duration,
    /// How long chat lines, flags and room events are kept; `Some` makes
    /// the store keep TTL indexes to match where the server has them.
    /// `None` leaves TTL indexes as they are (tools such as `export`).
    pub retention: Option<Duration>,
}

impl std::fmt::Debug for MongoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoConfig")
            .field("uri", &redact_uri(&self.uri))
            .field("database", &self.database)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("max_pool_size", &self.max_pool_size)
            .field("timeout", &self.timeout)
            .field("retention", &self.retention)
            .finish()
    }
}

impl MongoConfig {
    /// The defaults for `uri`.
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            database: None,
            password: None,
            max_pool_size: 20,
            timeout: Duration::from_secs(5),
            retention: None,
        }
    }

    /// The driver's options: the URI parsed (an SRV lookup for
    /// `mongodb+srv://`) and these settings applied.
    pub(crate) async fn client_options(&self) -> Result<ClientOptions> {
        let mut options = ClientOptions::parse(&self.uri).await.map_err(|error| {
            // An SRV lookup that fails is a reachability problem, not a typo.
            if matches!(*error.kind, mongodb::error::ErrorKind::DnsResolve { .. }) {
                Error::Unreachable {
                    uri: redact_uri(&self.uri),
                    reason: error.to_string(),
                }
            } else {
                Error::InvalidUri(format!("{}: {error}", redact_uri(&self.uri)))
            }
        })?;
        if let Some(password) = &self.password {
            match options.credential.as_mut() {
                Some(credential) if credential.username.is_some() => {
                    credential.password = Some(password.clone());
                }
                _ => {
                    return Err(Error::InvalidUri(
                        "a password was given but the URI names no user (mongodb://USER@HOST/...)"
                            .into(),
                    ));
                }
            }
        }
        if options.app_name.is_none() {
            options.app_name = Some("quicktalk".into());
        }
        options.max_pool_size = Some(self.max_pool_size.max(1));
        options.server_selection_timeout = Some(self.timeout);
        options.connect_timeout = Some(self.timeout);
        // `Ok` must mean durable (the port's guarantee): acknowledged by a
        // majority unless the URI asks for something else.
        if options.write_concern.is_none() {
            options.write_concern = Some(WriteConcern::majority());
        }
        Ok(options)
    }

    /// The database to use.
    pub(crate) fn database_name(&self, options: &ClientOptions) -> String {
        self.database
            .clone()
            .or_else(|| options.default_database.clone())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "quicktalk".into())
    }
}

/// The URI with the password of its user info replaced by `<redacted>`,
/// for logs and error messages.
pub fn redact_uri(uri: &str) -> String {
    let Some(scheme_end) = uri.find("://").map(|i| i + 3) else {
        return uri.to_owned();
    };
    let rest = &uri[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return uri.to_owned();
    };
    let user_info = &authority[..at];
    let user = user_info.split(':').next().unwrap_or_default();
    let masked = if user_info.contains(':') {
        format!("{user}:<redacted>")
    } else {
        user.to_owned()
    };
    format!("{}{masked}{}", &uri[..scheme_end], &rest[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_and_the_rest_kept() {
        for (uri, expected) in [
            (
                "mongodb://qt:s3cret@db.example.com:27017/chat?tls=true",
                "mongodb://qt:<redacted>@db.example.com:27017/chat?tls=true",
            ),
            (
                "mongodb+srv://qt:p%40ss@cluster0.ab12c.mongodb.net/?retryWrites=true",
                "mongodb+srv://qt:<redacted>@cluster0.ab12c.mongodb.net/?retryWrites=true",
            ),
            ("mongodb://qt@localhost/", "mongodb://qt@localhost/"),
            ("mongodb://localhost:27017", "mongodb://localhost:27017"),
            ("not a uri", "not a uri"),
        ] {
            assert_eq!(redact_uri(uri), expected);
        }
    }

    #[tokio::test]
    async fn a_password_without_a_user_is_refused() {
        let config = MongoConfig {
            password: Some("x".into()),
            ..MongoConfig::new("mongodb://127.0.0.1:1/")
        };
        let error = config.client_options().await.unwrap_err().to_string();
        assert!(error.contains("names no user"), "{error}");
    }

    #[tokio::test]
    async fn a_separate_password_replaces_the_uris() {
        let config = MongoConfig {
            password: Some("from-file".into()),
            ..MongoConfig::new("mongodb://qt:old@127.0.0.1:1/chat")
        };
        let options = config.client_options().await.unwrap();
        let credential = options.credential.clone().unwrap();
        assert_eq!(credential.password.as_deref(), Some("from-file"));
        assert_eq!(config.database_name(&options), "chat");
        assert!(!format!("{config:?}").contains("from-file"));
        assert!(!format!("{config:?}").contains("old"));
    }

    #[tokio::test]
    async fn a_malformed_uri_is_a_clear_error() {
        let error = MongoConfig::new("mongodb://")
            .client_options()
            .await
            .unwrap_err();
        assert!(matches!(error, Error::InvalidUri(_)), "{error}");
    }
}
