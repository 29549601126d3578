//! The container image (built by `scripts/image.sh`, named by
//! `QUICKTALK_TEST_IMAGE`) run by Podman or Docker
//! (`QUICKTALK_CONTAINER_ENGINE`, default `podman`): two clients chat
//! through the published port, `stop` (SIGTERM) closes them with 1001, and
//! the data volume keeps the store.

mod support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use quicktalk_core::ports::ChatStore;
use quicktalk_sqlite::SqliteChatStore;
use serde_json::json;
use support::*;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The image under test, or `None` (the test skips) when not asked for.
fn image() -> Option<String> {
    match std::env::var("QUICKTALK_TEST_IMAGE") {
        Ok(image) if !image.is_empty() => Some(image),
        _ => {
            assert!(
                std::env::var_os("QUICKTALK_REQUIRE_SERVICES").is_none(),
                "QUICKTALK_TEST_IMAGE is required here (scripts/test.sh builds it)"
            );
            None
        }
    }
}

/// Runs the container engine; its stdout, trimmed, or a panic with stderr.
fn engine(args: &[&str]) -> String {
    let engine = std::env::var("QUICKTALK_CONTAINER_ENGINE").unwrap_or_else(|_| "podman".into());
    let output = Command::new(&engine)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("{engine} runs: {error}"));
    assert!(
        output.status.success(),
        "{engine} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Removes the container and its volume however the test ends.
struct Cleanup {
    name: String,
    volume: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let engine =
            std::env::var("QUICKTALK_CONTAINER_ENGINE").unwrap_or_else(|_| "podman".into());
        let _ = Command::new(&engine)
            .args(["rm", "-f", "-t", "0", &self.name])
            .output();
        let _ = Command::new(&engine)
            .args(["volume", "rm", "-f", &self.volume])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_chats_stops_gracefully_and_keeps_its_volume() {
    let Some(image) = image() else {
        return;
    };
    // Small, and nothing runs as root.
    let size: u64 = engine(&["image", "inspect", "-f", "{{.Size}}", &image])
        .parse()
        .unwrap();
    assert!(size < 30_000_000, "the image is {size} bytes");
    assert_eq!(
        engine(&["image", "inspect", "-f", "{{.Config.User}}", &image]),
        "10001:10001"
    );

    let unique = format!("quicktalk-test-{}-{}", std::process::id(), free_port());
    let cleanup = Cleanup {
        name: unique.clone(),
        volume: format!("{unique}-data"),
    };
    let port = free_port();
    engine(&[
        "run",
        "-d",
        "--name",
        &cleanup.name,
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        "-v",
        &format!("{}:/data", cleanup.volume),
        &image,
    ]);
    let server = Server::at(SocketAddr::from(([127, 0, 0, 1], port)));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = tokio::net::TcpStream::connect(server.addr).await.is_ok()
            && tokio::time::timeout(Duration::from_secs(2), async {
                http(&server, "GET", "/livez", &[], "").await.0
            })
            .await
            .is_ok_and(|status| status == 200);
        if up {
            break;
        }
        assert!(Instant::now() < deadline, "the container answers /livez");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The image's own HEALTHCHECK (the binary asking itself) passes.
    engine(&["healthcheck", "run", &cleanup.name]);

    let (mut a, mut b) = pair(&server).await;
    let room = a.last_matched_room();
    for seq in 1..=3u64 {
        a.send(json!({"type": "send", "text": format!("안녕 {seq}"), "cid": format!("c{seq}")}))
            .await;
        assert_eq!(a.expect("message").await["seq"], seq);
        assert_eq!(b.expect("message").await["seq"], seq);
    }

    // `stop` sends SIGTERM: both clients are told the server is going away,
    // and the process exits 0 (well before the engine's 20 s SIGKILL).
    let name = cleanup.name.clone();
    let stopping = tokio::task::spawn_blocking(move || engine(&["stop", "-t", "20", &name]));
    for client in [&mut a, &mut b] {
        let frame = client.closed().await.expect("a close frame");
        assert_eq!(frame.code, CloseCode::Away);
    }
    stopping.await.unwrap();
    assert_eq!(
        engine(&["inspect", "-f", "{{.State.ExitCode}}", &cleanup.name]),
        "0"
    );

    // The volume kept the store, with every line.
    let mountpoint = engine(&[
        "volume",
        "inspect",
        "-f",
        "{{.Mountpoint}}",
        &cleanup.volume,
    ]);
    let store = SqliteChatStore::open(std::path::Path::new(&mountpoint).join("quicktalk.db"))
        .expect("the store is on the volume");
    let lines = ChatStore::room_history(&store, room).await.unwrap();
    assert_eq!(
        lines.iter().map(|line| line.seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    drop(store);
    drop(cleanup);
}
