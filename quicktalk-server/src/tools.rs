//! The store tools of the `quicktalk` binary: `export` (chat lines as JSON
//! Lines, for moderators and data requests) and `forget` (a person's lines
//! and flags deleted, for privacy requests). Both work on any `--store`.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use quicktalk_core::ports::chat_store::{from_unix_ms, unix_ms};
use quicktalk_core::ports::{ChatStore, ExportCursor, ExportQuery, ForgetStats};
use quicktalk_core::{ClientKey, RoomId};
use serde_json::json;

use crate::Error;
use crate::client_ip::IpHasher;
use crate::config::{ConfigError, invalid};
use crate::storage::StoreArgs;

/// `quicktalk export`: stored chat lines, oldest first, one JSON object per
/// line.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// The store to read.
    #[command(flatten)]
    pub storage: StoreArgs,
    /// Only lines at or after this time: unix milliseconds, `2026-11-30`,
    /// `2026-11-30T12:00:00Z`, or an age such as `24h` or `7d`.
    #[arg(long)]
    pub since: Option<String>,
    /// Only lines before this time (same forms as --since).
    #[arg(long)]
    pub until: Option<String>,
    /// Only this room's lines (the id from the admin API or a report).
    #[arg(long)]
    pub room: Option<String>,
    /// Only lines written under this client key.
    #[arg(long)]
    pub client_key: Option<String>,
    /// Lines read from the store per query.
    #[arg(long, default_value_t = 1000)]
    pub page_size: usize,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// `quicktalk forget`: deletes every chat line and moderation flag of one
/// person (a client key, or the IP it was made from). Reports stay.
#[derive(Debug, Clone, clap::Args)]
pub struct ForgetArgs {
    /// The store to change.
    #[command(flatten)]
    pub storage: StoreArgs,
    /// The client key (as the admin API shows it).
    #[arg(long, required_unless_present = "ip", conflicts_with = "ip")]
    pub client_key: Option<String>,
    /// The person's IP address; its client key is derived with the server's
    /// IP-hash key (from --ip-hash-key, else the one kept in the store).
    #[arg(long)]
    pub ip: Option<IpAddr>,
    /// The server's IP-hash key, when it was configured rather than generated.
    #[arg(long, env = "QUICKTALK_IP_HASH_KEY", hide_env_values = true)]
    pub ip_hash_key: Option<String>,
}

/// Parses a time given to --since or --until into unix milliseconds.
fn parse_time(flag: &'static str, text: &str, now: SystemTime) -> Result<i64, ConfigError> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(age) = humantime::parse_duration(text) {
        return Ok(unix_ms(
            now.checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH),
        ));
    }
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    humantime::parse_rfc3339_weak(&full)
        .map(unix_ms)
        .map_err(|_| {
            invalid(
                flag,
                "-",
                format!(
                    "{text:?} is not a time: use unix milliseconds, 2026-11-30, \
                     2026-11-30T12:00:00Z or an age such as 7d"
                ),
            )
        })
}

impl ExportArgs {
    /// The store query the flags describe (the first page).
    ///
    /// # Errors
    /// [`ConfigError`] naming the flag that does not parse.
    pub fn query(&self, now: SystemTime) -> Result<ExportQuery, ConfigError> {
        let room = self
            .room
            .as_deref()
            .map(|room| {
                room.parse::<RoomId>()
                    .map_err(|_| invalid("room", "-", format!("{room:?} is not a room id")))
            })
            .transpose()?;
        if self.page_size == 0 {
            return Err(invalid("page-size", "-", "must be at least 1"));
        }
        Ok(ExportQuery {
            since: self
                .since
                .as_deref()
                .map(|t| parse_time("since", t, now))
                .transpose()?,
            until: self
                .until
                .as_deref()
                .map(|t| parse_time("until", t, now))
                .transpose()?,
            room,
            client_key: self.client_key.as_deref().map(ClientKey::from),
            after: None,
            limit: self.page_size,
        })
    }
}

/// Writes every line the query admits to `out`, page by page; returns how
/// many were written.
///
/// # Errors
/// [`Error::Engine`] when the store fails, [`Error::Io`] when `out` does.
pub async fn export_to(
    store: &dyn ChatStore,
    mut query: ExportQuery,
    out: &mut dyn Write,
) -> Result<u64, Error> {
    let mut written = 0;
    loop {
        let page = store.export_messages(&query).await?;
        let Some(last) = page.last() else {
            break;
        };
        query.after = Some(ExportCursor::of(last));
        for line in &page {
            let time = humantime::format_rfc3339_millis(from_unix_ms(line.ts));
            let record = json!({
                "room": line.room,
                "seq": line.seq,
                "session": line.session,
                "client_key": line.client_key,
                "text": line.text,
                "ts": line.ts,
                "time": time.to_string(),
                "masked": line.masked,
            });
            serde_json::to_writer(&mut *out, &record).map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
            written += 1;
        }
    }
    out.flush()?;
    Ok(written)
}

/// `quicktalk export`.
///
/// # Errors
/// [`Error::Config`] for a bad flag or an unreachable store, then what
/// [`export_to`] returns.
pub async fn export(args: &ExportArgs) -> Result<u64, Error> {
    args.storage.validate()?;
    let query = args.query(SystemTime::now())?;
    let store = args.storage.open_existing().await?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| invalid("output", "-", format!("{}: {e}", path.display())))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    export_to(store.as_ref(), query, &mut out).await
}

/// `quicktalk forget`: returns the key and what was removed.
///
/// # Errors
/// [`Error::Config`] for a bad flag or an unreachable store,
/// [`Error::Engine`] when the store fails (running it again finishes the job).
pub async fn forget(args: &ForgetArgs) -> Result<(ClientKey, ForgetStats), Error> {
    args.storage.validate()?;
    if let Some(key) = &args.ip_hash_key {
        if key.len() < 16 {
            return Err(invalid(
                "ip-hash-key",
                "QUICKTALK_IP_HASH_KEY",
                "must be at least 16 characters",
            )
            .into());
        }
    }
    let store = args.storage.open_existing().await?;
    let key = match (&args.client_key, args.ip) {
        (Some(key), _) => ClientKey::from(key.as_str()),
        (None, Some(ip)) => {
            // The key the server hashed with: given, or the one it kept in
            // the store. Never a new one: that would hash to nobody and
            // report a privacy request as done with nothing deleted.
            let secret = match &args.ip_hash_key {
                Some(secret) => secret.clone(),
                None => store.setting("ip_hash_key").await?.ok_or_else(|| {
                    invalid(
                        "ip-hash-key",
                        "QUICKTALK_IP_HASH_KEY",
                        "the store keeps no IP-hash key (the server was given one): pass the server's --ip-hash-key",
                    )
                })?,
            };
            IpHasher::new(secret.as_bytes()).client_key(ip)
        }
        (None, None) => {
            return Err(invalid("client-key", "-", "give --client-key or --ip").into());
        }
    };
    let removed = store.forget_client(&key).await?;
    Ok((key, removed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_every_documented_form() {
        let now = from_unix_ms(1_764_547_200_000); // 2025-12-01T00:00:00Z
        assert_eq!(
            parse_time("since", "1700000000000", now).unwrap(),
            1_700_000_000_000
        );
        assert_eq!(
            parse_time("since", "2025-11-30", now).unwrap(),
            1_764_547_200_000 - 86_400_000
        );
        assert_eq!(
            parse_time("since", "2025-11-30T12:00:00Z", now).unwrap(),
            1_764_547_200_000 - 43_200_000
        );
        assert_eq!(
            parse_time("since", "7d", now).unwrap(),
            1_764_547_200_000 - 7 * 86_400_000
        );
        let error = parse_time("until", "yesterday-ish", now)
            .unwrap_err()
            .to_string();
        assert!(error.contains("--until"), "{error}");
    }
}
