//! `quicktalk healthcheck`: asks a running server's `/livez` (or any URL on
//! it) and exits 0 when it answers 200. The container image has no shell or
//! curl, so its `HEALTHCHECK` runs the binary itself.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// `quicktalk healthcheck`.
#[derive(Debug, Clone, clap::Args)]
pub struct HealthcheckArgs {
    /// The URL to ask (plain `http://`; the server's own port).
    #[arg(
        long,
        env = "QUICKTALK_HEALTHCHECK_URL",
        default_value = "http://127.0.0.1:8080/livez"
    )]
    pub url: String,
    /// Seconds to wait for the answer (1 to 3600).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout_secs: u64,
}

/// Asks `args.url`; `Ok` with the status line when the answer is 200.
///
/// # Errors
/// A message saying what failed: a URL it cannot use, no connection, a
/// timeout, or a status other than 200.
pub fn check(args: &HealthcheckArgs) -> Result<String, String> {
    let (host, path) = split_url(&args.url)?;
    let timeout = Duration::from_secs(args.timeout_secs);
    let address: SocketAddr = host
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {host}: {error}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {host}"))?;
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .map_err(|error| format!("cannot connect to {address}: {error}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|error| error.to_string())?;
    // One write: `write!` straight onto the socket sends each formatted piece
    // in its own segment, and a server that answers after the first piece and
    // closes resets the connection before the answer is read.
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|error| format!("cannot send the request: {error}"))?;
    let mut head = [0u8; 256];
    let read = stream.read(&mut head).map_err(|error| {
        // A read timeout is `WouldBlock` on Unix ("resource temporarily
        // unavailable"), which says nothing to an operator.
        if matches!(
            error.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            format!("no answer from {address} within {} s", timeout.as_secs())
        } else {
            format!("no answer from {address}: {error}")
        }
    })?;
    let status_line = String::from_utf8_lossy(&head[..read])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    match status_line.split(' ').nth(1) {
        Some("200") => Ok(status_line),
        _ => Err(format!("{} answered {status_line:?}", args.url)),
    }
}

/// `http://host:port/path` into `("host:port", "/path")`.
fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("invalid setting --url (QUICKTALK_HEALTHCHECK_URL): {url:?} is not an http:// URL")
    })?;
    let (host, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/livez"),
    };
    if host.is_empty() {
        return Err(format!(
            "invalid setting --url (QUICKTALK_HEALTHCHECK_URL): {url:?} names no host"
        ));
    }
    let host = if host
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
    {
        host.to_owned()
    } else {
        format!("{host}:80")
    };
    Ok((host, path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_address_and_path() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/livez").unwrap(),
            ("127.0.0.1:8080".into(), "/livez".into())
        );
        assert_eq!(
            split_url("http://localhost").unwrap(),
            ("localhost:80".into(), "/livez".into())
        );
        assert!(split_url("https://example.com/").is_err());
        assert!(split_url("http:///livez").is_err());
    }

    #[test]
    fn a_server_that_does_not_answer_200_is_unhealthy() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let answer = |status: &'static str| {
            let (mut socket, _) = listener.accept().unwrap();
            // Read the whole request: closing with unread bytes would reset
            // the connection before the client reads the answer.
            let mut request = Vec::new();
            let mut chunk = [0u8; 512];
            while !request.ends_with(b"\r\n\r\n") {
                let read = socket.read(&mut chunk).unwrap();
                assert!(read > 0, "the request ended early");
                request.extend_from_slice(&chunk[..read]);
            }
            socket.write_all(status.as_bytes()).unwrap();
        };
        let args = HealthcheckArgs {
            url: format!("http://127.0.0.1:{port}/livez"),
            timeout_secs: 2,
        };
        std::thread::scope(|scope| {
            scope.spawn(|| answer("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
            assert!(check(&args).is_ok());
        });
        std::thread::scope(|scope| {
            scope.spawn(|| answer("HTTP/1.1 503 Service Unavailable\r\n\r\n"));
            assert!(check(&args).unwrap_err().contains("503"));
        });
        drop(listener);
        assert!(check(&args).unwrap_err().contains("cannot connect"));
    }

    #[test]
    fn a_server_that_never_answers_is_reported_as_such() {
        // Accepted by the kernel's backlog, never read or answered.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let args = HealthcheckArgs {
            url: format!("http://{}/livez", listener.local_addr().unwrap()),
            timeout_secs: 1,
        };
        let error = check(&args).unwrap_err();
        assert!(
            error.contains("no answer") && error.contains("within 1 s"),
            "{error}"
        );
    }

    /// A timeout of 0 was quietly taken as 1 s.
    #[test]
    fn a_timeout_out_of_range_is_refused_naming_it() {
        use clap::Parser;
        for value in ["0", "3601"] {
            let error =
                crate::Cli::try_parse_from(["quicktalk", "healthcheck", "--timeout-secs", value])
                    .unwrap_err()
                    .to_string();
            assert!(error.contains("--timeout-secs"), "{value}: {error}");
        }
    }
}
