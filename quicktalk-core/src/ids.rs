//! Identifiers: sessions, rooms, resume tokens and the transport's opaque client key.
//!
//! Session and room ids are random 64-bit numbers shown as 16 hex digits, so
//! ids minted by different nodes do not collide in practice and reveal
//! nothing about load or order. Resume tokens are 128 random bits.

use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u64);

        impl $name {
            /// A fresh random id.
            pub fn random() -> Self {
                Self(rand::random())
            }

            /// The id with this raw value (tests, storage round trips).
            pub const fn from_raw(raw: u64) -> Self {
                Self(raw)
            }

            /// The raw 64-bit value.
            pub const fn raw(self) -> u64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:016x}", self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:016x})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                u64::from_str_radix(s, 16).map(Self)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_id!(
    /// One anonymous session (one connection, or several in a row through `resume`).
    SessionId
);
hex_id!(
    /// One chat between two sessions.
    RoomId
);

/// The secret a client presents in `resume` to take its session back.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResumeToken(Arc<str>);

impl ResumeToken {
    /// A fresh unguessable token (128 random bits, hex).
    pub fn random() -> Self {
        let bits: u128 = rand::random();
        Self(format!("{bits:032x}").into())
    }

    /// The token as the client sees it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A one-way digest of the token (SHA-256, hex): what cluster mode
    /// publishes so another node can recognise the token in a `resume`
    /// without the bus ever carrying the token itself.
    pub fn digest(&self) -> String {
        use sha2::Digest as _;
        let hash = sha2::Sha256::digest(self.0.as_bytes());
        hash.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl From<&str> for ResumeToken {
    fn from(value: &str) -> Self {
        Self(value.into())
    }
}

impl fmt::Debug for ResumeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A token is a credential: never print it whole.
        write!(f, "ResumeToken({}…)", &self.0[..self.0.len().min(4)])
    }
}

/// The opaque identity a transport gives a session at connect, e.g. a keyed
/// hash of the client IP. Bans and report blocks apply to it; the engine
/// never interprets it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientKey {
    text: Arc<str>,
    /// A 64-bit fingerprint for the matcher's exclusion tables, computed
    /// once; seeded per process so nobody can build colliding keys on purpose.
    fingerprint: u64,
}

impl ClientKey {
    /// Wraps a transport-provided key.
    pub fn new(key: impl Into<Arc<str>>) -> Self {
        static SEED: std::sync::OnceLock<std::hash::RandomState> = std::sync::OnceLock::new();
        let text = key.into();
        let fingerprint = SEED
            .get_or_init(std::hash::RandomState::new)
            .hash_one(&*text);
        Self { text, fingerprint }
    }

    /// The key as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub(crate) fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
}

impl Serialize for ClientKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for ClientKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Self::new(text.as_ref()))
    }
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientKey({})", self.text)
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<&str> for ClientKey {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for ClientKey {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_hex_text() {
        let id = RoomId::from_raw(0xdead_beef);
        assert_eq!(id.to_string(), "00000000deadbeef");
        assert_eq!("00000000deadbeef".parse::<RoomId>().unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"00000000deadbeef\"");
        assert_eq!(serde_json::from_str::<RoomId>(&json).unwrap(), id);
    }

    #[test]
    fn resume_tokens_are_long_and_distinct() {
        let a = ResumeToken::random();
        let b = ResumeToken::random();
        assert_eq!(a.as_str().len(), 32);
        assert_ne!(a, b);
        assert!(!format!("{a:?}").contains(a.as_str()));
    }
}
