//! Who is connecting: the client IP (X-Forwarded-For only from trusted
//! proxies) and its keyed hash, which is all the engine and the logs ever see.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use quicktalk_core::ClientKey;
use sha2::Sha256;

/// Resolves the client IP of a request.
#[derive(Debug, Clone)]
pub struct ClientIpResolver {
    trusted: Vec<IpNet>,
}

impl ClientIpResolver {
    /// Believes `X-Forwarded-For` only when the peer is in `trusted`.
    pub fn new(trusted: Vec<IpNet>) -> Self {
        Self { trusted }
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client IP: the peer, or, behind trusted proxies, the right-most
    /// `X-Forwarded-For` entry that is not itself a trusted proxy (entries
    /// further left are written by the client and can be forged).
    pub fn resolve(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer_ip = peer.ip().to_canonical();
        if !self.is_trusted(peer_ip) {
            return peer_ip;
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
            .map(|ip| ip.to_canonical())
            .collect();
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !self.is_trusted(*ip))
            .unwrap_or(peer_ip)
    }
}

/// Turns client IPs into opaque keys with a secret, so bans and report
/// blocks work without keeping IPs.
#[derive(Clone)]
pub struct IpHasher {
    key: Vec<u8>,
}

impl std::fmt::Debug for IpHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IpHasher(<secret>)")
    }
}

impl IpHasher {
    /// A hasher with this secret.
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    /// The client key of an IP. IPv6 addresses are hashed by their /64
    /// prefix: one subscriber usually holds a whole /64 and could otherwise
    /// step around a ban by changing the low bits.
    pub fn client_key(&self, ip: IpAddr) -> ClientKey {
        let bytes: Vec<u8> = match ip {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets()[..8].to_vec(),
        };
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(&bytes);
        let digest = mac.finalize().into_bytes();
        ClientKey::new(hex::encode(&digest[..KEY_BYTES]))
    }

    /// Whether `text` has the shape of a key [`IpHasher::client_key`] makes
    /// (lowercase or uppercase hex of its bytes).
    pub fn is_client_key(text: &str) -> bool {
        text.len() == 2 * KEY_BYTES && text.bytes().all(|b| b.is_ascii_hexdigit())
    }
}

/// Bytes of the HMAC a client key keeps.
const KEY_BYTES: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_it_makes_have_the_shape_it_checks() {
        let hasher = IpHasher::new(b"a key for the shape test");
        for ip in ["203.0.113.7", "2001:db8::1"] {
            let key = hasher.client_key(ip.parse().unwrap());
            assert!(IpHasher::is_client_key(key.as_str()), "{key:?}");
        }
        for text in ["", "xyz", "not a key!", &"a".repeat(31), &"g".repeat(32)] {
            assert!(!IpHasher::is_client_key(text), "{text:?}");
        }
    }
    use axum::http::HeaderValue;

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 5000)
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let resolver = ClientIpResolver::new(vec![]);
        let ip = resolver.resolve(peer("203.0.113.9"), &forwarded("198.51.100.1"));
        assert_eq!(ip, "203.0.113.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_entry_is_the_client() {
        let resolver = ClientIpResolver::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let ip = resolver.resolve(
            peer("10.0.0.2"),
            &forwarded("1.2.3.4, 198.51.100.7, 10.0.0.3"),
        );
        assert_eq!(
            ip,
            "198.51.100.7".parse::<IpAddr>().unwrap(),
            "1.2.3.4 could be forged"
        );
        let ip = resolver.resolve(peer("10.0.0.2"), &HeaderMap::new());
        assert_eq!(ip, "10.0.0.2".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn keys_are_stable_secret_dependent_and_not_the_ip() {
        let hasher = IpHasher::new(b"secret-one-0123456789");
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let key = hasher.client_key(ip);
        assert_eq!(key, hasher.client_key(ip));
        assert!(!key.as_str().contains("203"));
        assert_ne!(key, IpHasher::new(b"secret-two-0123456789").client_key(ip));
    }

    #[test]
    fn ipv6_addresses_in_one_64_share_a_key() {
        let hasher = IpHasher::new(b"secret-one-0123456789");
        let a = hasher.client_key("2001:db8:1:2::1".parse().unwrap());
        let b = hasher.client_key("2001:db8:1:2:ffff::9".parse().unwrap());
        let c = hasher.client_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
