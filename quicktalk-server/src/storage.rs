//! The chat-store settings every subcommand shares (`serve`, `export`,
//! `forget`), and opening the store they name.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use quicktalk_core::memory::MemoryChatStore;
use quicktalk_core::ports::ChatStore;
use quicktalk_mongo::{MongoChatStore, MongoConfig, redact_uri};
use quicktalk_sqlite::SqliteChatStore;

use crate::config::{ConfigError, invalid};

/// Where the chat store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A MongoDB deployment (`mongodb://` or `mongodb+srv://`).
    Mongo(String),
    /// Process memory (nothing survives a restart).
    Memory,
}

/// The `--store` flag and the MongoDB settings that go with it.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Chat store: `sqlite://PATH` (a file the server creates if missing;
    /// `export` and `forget` need one it wrote),
    /// `mongodb://...` or `mongodb+srv://...` (MongoDB, Atlas, FerretDB), or
    /// `memory`.
    #[arg(long, env = "QUICKTALK_STORE", default_value = "sqlite://quicktalk.db")]
    pub store: String,
    /// SQLite's page cache in MiB (`sqlite://` stores). Resident memory once
    /// full; a larger one re-reads fewer pages when many rooms chat at once.
    #[arg(long, env = "QUICKTALK_SQLITE_CACHE_MIB", default_value_t = quicktalk_sqlite::DEFAULT_CACHE_MIB)]
    pub sqlite_cache_mib: u32,
    /// MongoDB database name (default: the URI's path, else `quicktalk`).
    #[arg(long, env = "QUICKTALK_MONGO_DATABASE")]
    pub mongo_database: Option<String>,
    /// MongoDB password for the URI's user, kept out of the URI (and out of
    /// logs and process lists when given by the variable).
    #[arg(long, env = "QUICKTALK_MONGO_PASSWORD", hide_env_values = true)]
    pub mongo_password: Option<String>,
    /// A file holding the MongoDB password (e.g. a Docker or Kubernetes
    /// secret); surrounding whitespace is ignored.
    #[arg(long, env = "QUICKTALK_MONGO_PASSWORD_FILE")]
    pub mongo_password_file: Option<PathBuf>,
    /// Most MongoDB connections per process.
    #[arg(long, env = "QUICKTALK_MONGO_POOL_SIZE", default_value_t = 20)]
    pub mongo_pool_size: u32,
    /// Seconds to wait for MongoDB to answer (server selection, connect,
    /// and the /readyz ping).
    #[arg(long, env = "QUICKTALK_MONGO_TIMEOUT_SECS", default_value_t = 5)]
    pub mongo_timeout_secs: u64,
}

fn store_invalid(reason: impl Into<String>) -> ConfigError {
    invalid("store", "QUICKTALK_STORE", reason)
}

impl StoreArgs {
    /// The parsed `--store`.
    ///
    /// # Errors
    /// [`ConfigError`] for an unknown scheme or a missing path or host.
    pub fn store_url(&self) -> Result<StoreUrl, ConfigError> {
        let store = self.store.trim();
        if store == "memory" {
            return Ok(StoreUrl::Memory);
        }
        if let Some(path) = store.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(store_invalid("`sqlite://` needs a file path"));
            }
            return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
        }
        for scheme in ["mongodb://", "mongodb+srv://"] {
            if let Some(rest) = store.strip_prefix(scheme) {
                if rest.is_empty() || rest.starts_with('/') || rest.starts_with('?') {
                    return Err(store_invalid(format!("`{scheme}` needs a host")));
                }
                return Ok(StoreUrl::Mongo(store.to_owned()));
            }
        }
        Err(store_invalid(format!(
            "{:?} is not `sqlite://PATH`, `mongodb://...`, `mongodb+srv://...` or `memory`",
            redact_uri(store)
        )))
    }

    /// Checks the settings without connecting.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first bad setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.store_url()?;
        if self.sqlite_cache_mib == 0 {
            return Err(invalid(
                "sqlite-cache-mib",
                "QUICKTALK_SQLITE_CACHE_MIB",
                "must be at least 1",
            ));
        }
        if self.mongo_pool_size == 0 {
            return Err(invalid(
                "mongo-pool-size",
                "QUICKTALK_MONGO_POOL_SIZE",
                "must be at least 1",
            ));
        }
        if self.mongo_timeout_secs == 0 {
            return Err(invalid(
                "mongo-timeout-secs",
                "QUICKTALK_MONGO_TIMEOUT_SECS",
                "must be at least 1",
            ));
        }
        if self.mongo_timeout_secs > crate::config::MAX_SECS {
            return Err(invalid(
                "mongo-timeout-secs",
                "QUICKTALK_MONGO_TIMEOUT_SECS",
                format!("must be at most {} (a year)", crate::config::MAX_SECS),
            ));
        }
        if self.mongo_password.is_some() && self.mongo_password_file.is_some() {
            return Err(invalid(
                "mongo-password-file",
                "QUICKTALK_MONGO_PASSWORD_FILE",
                "give the password or a file, not both",
            ));
        }
        self.password()?;
        Ok(())
    }

    /// The MongoDB password from the flag, the variable or the file.
    fn password(&self) -> Result<Option<String>, ConfigError> {
        if let Some(password) = &self.mongo_password {
            return Ok(Some(password.clone()));
        }
        let Some(path) = &self.mongo_password_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|error| {
            invalid(
                "mongo-password-file",
                "QUICKTALK_MONGO_PASSWORD_FILE",
                format!("{}: {error}", path.display()),
            )
        })?;
        Ok(Some(text.trim().to_owned()))
    }

    /// The store URL with any password redacted, for logs.
    pub fn redacted(&self) -> String {
        format!(
            "store={} sqlite_cache_mib={} mongo_database={:?} mongo_password={} \
             mongo_password_file={:?} mongo_pool_size={} mongo_timeout_secs={}",
            redact_uri(&self.store),
            self.sqlite_cache_mib,
            self.mongo_database,
            if self.mongo_password.is_some() {
                "<set>"
            } else {
                "<unset>"
            },
            self.mongo_password_file,
            self.mongo_pool_size,
            self.mongo_timeout_secs,
        )
    }

    /// Opens the store a server wrote, for the tools (`export`, `forget`):
    /// a SQLite file that does not exist is an error, not a new empty
    /// store (a mistyped path answered "0 lines" and left a file behind),
    /// and `memory` holds nothing outside a running server.
    ///
    /// # Errors
    /// [`ConfigError`] naming `--store`.
    pub async fn open_existing(&self) -> Result<Arc<dyn ChatStore>, ConfigError> {
        match self.store_url()? {
            StoreUrl::Memory => {
                return Err(store_invalid(
                    "`memory` keeps nothing outside a running server: name the server's store",
                ));
            }
            // An empty file is no store either: opening it would write the
            // schema into it.
            StoreUrl::Sqlite(path)
                if std::fs::metadata(&path).map_or(true, |m| !m.is_file() || m.len() == 0) =>
            {
                return Err(store_invalid(format!(
                    "no store at {} (the tools read a store the server wrote; they do not create one)",
                    path.display()
                )));
            }
            _ => {}
        }
        self.open(None).await
    }

    /// Opens the store. `retention` is the serving retention (it keeps
    /// MongoDB's TTL indexes in step).
    ///
    /// # Errors
    /// [`ConfigError`] naming `--store` when the store cannot be opened or
    /// reached (the reason included, credentials redacted).
    pub async fn open(
        &self,
        retention: Option<Duration>,
    ) -> Result<Arc<dyn ChatStore>, ConfigError> {
        Ok(match self.store_url()? {
            StoreUrl::Memory => Arc::new(MemoryChatStore::new()),
            StoreUrl::Sqlite(path) => Arc::new(
                SqliteChatStore::open_with_cache(&path, self.sqlite_cache_mib)
                    .map_err(|e| store_invalid(format!("cannot open {}: {e}", path.display())))?,
            ),
            StoreUrl::Mongo(uri) => {
                let config = MongoConfig {
                    database: self.mongo_database.clone(),
                    password: self.password()?,
                    max_pool_size: self.mongo_pool_size,
                    timeout: Duration::from_secs(self.mongo_timeout_secs),
                    retention,
                    ..MongoConfig::new(uri)
                };
                Arc::new(
                    MongoChatStore::connect(&config)
                        .await
                        .map_err(|e| store_invalid(e.to_string()))?,
                )
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        store: StoreArgs,
    }

    fn parse(args: &[&str]) -> StoreArgs {
        let mut all = vec!["test"];
        all.extend_from_slice(args);
        Args::try_parse_from(all).unwrap().store
    }

    #[test]
    fn every_store_scheme_parses() {
        assert_eq!(
            parse(&["--store", "mongodb+srv://qt:pw@cluster0.example.net/chat"])
                .store_url()
                .unwrap(),
            StoreUrl::Mongo("mongodb+srv://qt:pw@cluster0.example.net/chat".into())
        );
        assert_eq!(
            parse(&["--store", "sqlite:///data/q.db"])
                .store_url()
                .unwrap(),
            StoreUrl::Sqlite("/data/q.db".into())
        );
        assert_eq!(
            parse(&["--store", "memory"]).store_url().unwrap(),
            StoreUrl::Memory
        );
    }

    #[test]
    fn a_bad_store_names_the_setting_and_hides_the_password() {
        for store in [
            "mongodb://",
            "mongodb:///db",
            "postgres://u:hunter2@x/db",
            "sqlite://",
        ] {
            let error = parse(&["--store", store])
                .validate()
                .unwrap_err()
                .to_string();
            assert!(error.contains("--store (QUICKTALK_STORE)"), "{error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn the_password_comes_from_a_file_and_is_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret-from-file\n").unwrap();
        let args = parse(&[
            "--store",
            "mongodb://qt:in-uri-secret@127.0.0.1/chat",
            "--mongo-password-file",
            file.to_str().unwrap(),
        ]);
        args.validate().unwrap();
        assert_eq!(
            args.password().unwrap().as_deref(),
            Some("s3cret-from-file")
        );
        let line = args.redacted();
        assert!(
            !line.contains("s3cret") && !line.contains("in-uri-secret"),
            "{line}"
        );
        let missing = parse(&["--mongo-password-file", "/nonexistent/pw"]);
        assert!(
            missing
                .validate()
                .unwrap_err()
                .to_string()
                .contains("--mongo-password-file (QUICKTALK_MONGO_PASSWORD_FILE)")
        );
    }

    #[tokio::test]
    async fn an_unreachable_mongodb_at_start_is_a_clear_error_naming_the_setting() {
        let args = parse(&[
            "--store",
            "mongodb://qt:hunter2@127.0.0.1:1/chat",
            "--mongo-timeout-secs",
            "1",
        ]);
        let error = args
            .open(None)
            .await
            .err()
            .expect("unreachable")
            .to_string();
        assert!(error.contains("--store (QUICKTALK_STORE)"), "{error}");
        assert!(error.contains("cannot reach MongoDB"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
}
