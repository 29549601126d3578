//! Debian's nginx with `deploy/nginx/` in front of the server
//! (`QUICKTALK_NGINX_BIN`, or `nginx` on the PATH when
//! `QUICKTALK_REQUIRE_SERVICES` is set): chat, the page compressed, the
//! metrics hidden, and the client key taken from `X-Forwarded-For` only
//! when nginx set it.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quicktalk_server::IpHasher;
use serde_json::json;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};

const TOKEN: &str = "test-admin-token-0123456789";
const IP_KEY: &str = "nginx-test-ip-hash-key";
/// The nginx configuration the deployment ships.
fn deploy() -> PathBuf {
    manifest_dir().join("../deploy/nginx")
}

/// The nginx binary, or `None` (the test skips) when there is none to use.
fn nginx_bin() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("QUICKTALK_NGINX_BIN") {
        return Some(bin.into());
    }
    let required = std::env::var_os("QUICKTALK_REQUIRE_SERVICES").is_some();
    let found = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.exists());
    assert!(
        found.is_some() || !required,
        "nginx is required here (scripts/test.sh installs it)"
    );
    found
}

/// The main config around the deploy files: a private prefix, no daemon.
fn main_conf(prefix: &Path, include: &str) -> String {
    // As root, nginx's workers would switch to `nobody`, who cannot enter
    // the private temporary prefix.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0"));
    let p = prefix.display();
    format!(
        "{user}worker_processes 1;\ndaemon off;\npid {p}/nginx.pid;\nerror_log {p}/error.log warn;\n\
         events {{ worker_connections 512; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
           fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
           include {include};\n}}\n",
        user = if root { "user root;\n" } else { "" },
    )
}

/// The deploy file with the test's ports and paths in place of the real ones.
fn deploy_file(name: &str, prefix: &Path, replacements: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(deploy().join(name)).unwrap();
    let snippets = format!("{}/", prefix.display());
    text = text.replace("/etc/nginx/snippets/", &snippets);
    for (from, to) in replacements {
        assert!(text.contains(from), "{name} has {from:?}");
        text = text.replace(from, to);
    }
    text
}

/// nginx running in the foreground; killed when dropped.
struct Nginx {
    child: Child,
    prefix: tempfile::TempDir,
}

impl Nginx {
    fn start(bin: &Path, upstream: SocketAddr, port: u16) -> Self {
        let prefix = tempfile::tempdir().unwrap();
        let p = prefix.path();
        std::fs::copy(
            deploy().join("quicktalk-proxy.conf"),
            p.join("quicktalk-proxy.conf"),
        )
        .unwrap();
        let upstream_conf = deploy_file(
            "quicktalk-upstream.conf",
            p,
            &[("server 127.0.0.1:8080", &format!("server {upstream}"))],
        );
        std::fs::write(p.join("quicktalk-upstream.conf"), upstream_conf).unwrap();
        let site = deploy_file(
            "quicktalk.conf",
            p,
            &[
                (
                    "listen 80 default_server;",
                    &format!("listen 127.0.0.1:{port} default_server;"),
                ),
                ("listen [::]:80 default_server;", ""),
            ],
        );
        std::fs::write(p.join("quicktalk.conf"), site).unwrap();
        let conf = p.join("nginx.conf");
        std::fs::write(
            &conf,
            main_conf(p, &format!("{}/quicktalk.conf", p.display())),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg("-p")
            .arg(p)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx starts");
        Self { child, prefix }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.prefix.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its worker, then itself. A SIGKILL left
        // the worker running after the test, holding its port.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebSocket client from a chosen loopback address, with extra headers.
async fn connect_from(to: SocketAddr, from: [u8; 4], headers: &[(&str, &str)]) -> Client {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    let stream = socket.connect(to).await.unwrap();
    let mut request = format!("ws://{to}/ws").into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    let (socket, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap();
    Client {
        socket,
        hello: serde_json::Value::Null,
        matched: None,
    }
}

/// The raw response head and body of a GET.
async fn get(to: SocketAddr, path: &str, headers: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(to).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: chat.test\r\nConnection: close\r\n{headers}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut response))
        .await
        .expect("an answer in time")
        .unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_goes_through_nginx_and_the_client_key_comes_from_it_alone() {
    let Some(bin) = nginx_bin() else {
        return;
    };
    let server = Server::start(config(&[
        "--trusted-proxies",
        "127.0.0.1",
        "--admin-token",
        TOKEN,
        "--ip-hash-key",
        IP_KEY,
    ]))
    .await;
    let port = free_port();
    let nginx = Nginx::start(&bin, server.addr, port);
    let proxy = Server::at(SocketAddr::from(([127, 0, 0, 1], port)));
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(proxy.addr).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx listens: {}",
            nginx.error_log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Two strangers matched and chatting through nginx.
    let (mut a, mut b) = pair(&proxy).await;
    for seq in 1..=3u64 {
        a.send(
            json!({"type": "send", "text": format!("hello {seq} 안녕"), "cid": format!("c{seq}")}),
        )
        .await;
        assert_eq!(a.expect("message").await["seq"], seq);
        assert_eq!(
            b.expect("message").await["text"],
            format!("hello {seq} 안녕")
        );
    }
    b.send(json!({"type": "typing", "active": true})).await;
    assert_eq!(a.expect("typing").await["active"], true);

    // The page compressed, the API through, the metrics hidden.
    let page = get(proxy.addr, "/", "Accept-Encoding: gzip\r\n").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page:.200}");
    assert!(
        page.to_ascii_lowercase().contains("content-encoding: gzip"),
        "{page:.400}"
    );
    assert!(
        get(proxy.addr, "/api/stats", "")
            .await
            .starts_with("HTTP/1.1 200")
    );
    assert!(
        get(proxy.addr, "/metrics", "")
            .await
            .starts_with("HTTP/1.1 404")
    );
    assert!(
        get(server.addr, "/metrics", "")
            .await
            .starts_with("HTTP/1.1 200")
    );

    // A ban on the visitor 127.0.0.4's key.
    let banned_key = IpHasher::new(IP_KEY.as_bytes())
        .client_key("127.0.0.4".parse().unwrap())
        .to_string();
    let ban = json!({"client_key": banned_key, "reason": "test", "duration_s": 3600}).to_string();
    let auth = format!("Bearer {TOKEN}");
    let (status, body) = http(
        &server,
        "POST",
        "/api/admin/bans",
        &[("Authorization", &auth)],
        &ban,
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // Through nginx, the visitor's own address counts: 127.0.0.4 is refused
    // although nginx itself connects from 127.0.0.1 ...
    let mut visitor = connect_from(proxy.addr, [127, 0, 0, 4], &[]).await;
    assert_eq!(visitor.expect("error").await["code"], "banned");
    // ... and a visitor who claims to be 127.0.0.4 is not believed: nginx
    // replaces the header.
    let forged = [("x-forwarded-for", "127.0.0.4")];
    let mut liar = connect_from(proxy.addr, [127, 0, 0, 6], &forged).await;
    assert_eq!(liar.expect("hello").await["type"], "hello");
    // Straight to the server, from an address that is not a trusted proxy,
    // the header is ignored too.
    let mut direct = connect_from(server.addr, [127, 0, 0, 5], &forged).await;
    assert_eq!(direct.expect("hello").await["type"], "hello");
    // A browser's WebSocket carries its page's origin, port included (nginx
    // listens on a port of its own here): the server's same-origin check
    // sees the Host the browser sent, not one without the port.
    let origin = format!("http://{}", proxy.addr);
    let mut browser = connect_from(proxy.addr, [127, 0, 0, 7], &[("origin", &origin)]).await;
    assert_eq!(browser.expect("hello").await["type"], "hello");

    drop(nginx);
    server.stop().await;
}

#[test]
fn the_tls_server_block_is_valid_nginx() {
    let Some(bin) = nginx_bin() else {
        return;
    };
    let prefix = tempfile::tempdir().unwrap();
    let p = prefix.path();
    // A throwaway certificate where certbot would put the real one.
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=chat.example.com", "-keyout"])
        .arg(p.join("privkey.pem"))
        .arg("-out")
        .arg(p.join("fullchain.pem"))
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    std::fs::copy(
        deploy().join("quicktalk-proxy.conf"),
        p.join("quicktalk-proxy.conf"),
    )
    .unwrap();
    std::fs::copy(
        deploy().join("quicktalk-upstream.conf"),
        p.join("quicktalk-upstream.conf"),
    )
    .unwrap();
    let live = "/etc/letsencrypt/live/chat.example.com/";
    let port = free_port().to_string();
    let tls = deploy_file(
        "quicktalk-tls.conf",
        p,
        &[
            (live, &format!("{}/", p.display())),
            (
                "listen 443 ssl http2;",
                &format!("listen 127.0.0.1:{port} ssl http2;"),
            ),
            ("listen [::]:443 ssl http2;", ""),
        ],
    );
    let site = deploy_file(
        "quicktalk.conf",
        p,
        &[
            (
                "listen 80 default_server;",
                &format!("listen 127.0.0.1:{} default_server;", free_port()),
            ),
            ("listen [::]:80 default_server;", ""),
        ],
    );
    std::fs::write(p.join("quicktalk.conf"), format!("{site}\n{tls}")).unwrap();
    let conf = p.join("nginx.conf");
    std::fs::write(
        &conf,
        main_conf(p, &format!("{}/quicktalk.conf", p.display())),
    )
    .unwrap();
    let checked = Command::new(bin)
        .arg("-t")
        .arg("-p")
        .arg(p)
        .arg("-c")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
}
