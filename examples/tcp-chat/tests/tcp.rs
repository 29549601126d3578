//! The TCP example binary over real sockets: two `nc`-style clients are
//! matched and chat; bad input gets a clear line and the session goes on.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

const WAIT: Duration = Duration::from_secs(10);

/// The example binary on a free port, killed when the test ends.
struct ChatServer {
    child: Child,
    addr: String,
}

impl ChatServer {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_quicktalk-tcp-chat"))
            .args(["--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("the example starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        Self { child, addr }
    }
}

impl Drop for ChatServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `nc` does: write lines, read lines.
struct Nc {
    reader: tokio::io::Lines<AsyncBufReader<OwnedReadHalf>>,
    writer: OwnedWriteHalf,
}

impl Nc {
    async fn connect(server: &ChatServer) -> Self {
        let (read, writer) = TcpStream::connect(&server.addr).await.unwrap().into_split();
        let mut nc = Self {
            reader: AsyncBufReader::new(read).lines(),
            writer,
        };
        nc.expect("* QuickTalk over TCP").await;
        nc.expect("* connected").await;
        nc
    }

    async fn type_line(&mut self, line: &str) {
        self.writer.write_all(line.as_bytes()).await.unwrap();
        self.writer.write_all(b"\n").await.unwrap();
    }

    /// The next line starting with `prefix`; online counts and typing are skipped.
    async fn expect(&mut self, prefix: &str) -> String {
        let read = async {
            loop {
                let line = self.reader.next_line().await.unwrap().expect("still open");
                if line.starts_with(prefix) {
                    return line;
                }
                assert!(
                    line.ends_with(" online") || line.starts_with("* stranger is typing"),
                    "expected {prefix:?}, got {line:?}"
                );
            }
        };
        tokio::time::timeout(WAIT, read)
            .await
            .unwrap_or_else(|_| panic!("no line starting with {prefix:?} within {WAIT:?}"))
    }
}

#[tokio::test]
async fn two_nc_clients_are_matched_and_chat_over_tcp() {
    let server = ChatServer::start();
    let mut alice = Nc::connect(&server).await;
    let mut bob = Nc::connect(&server).await;

    alice.type_line("/join music @en").await;
    alice.expect("* waiting for a stranger").await;
    bob.type_line("/join Music").await;
    assert_eq!(
        alice.expect("* matched").await,
        "* matched, common interests: music"
    );
    bob.expect("* matched, common interests: music").await;

    alice.type_line("hello bob, 안녕").await;
    alice.expect("you: hello bob, 안녕").await;
    bob.expect("stranger: hello bob, 안녕").await;
    bob.type_line("hi alice").await;
    bob.expect("you: hi alice").await;
    alice.expect("stranger: hi alice").await;

    bob.type_line("/report spam he keeps pasting links").await;
    bob.expect("* report sent").await;

    bob.type_line("/next").await;
    alice.expect("* the stranger skipped to someone new").await;
    bob.expect("* waiting").await;
    alice.type_line("/quit").await;
    // The online count may still come first (it is pushed when it changes).
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match alice.reader.next_line().await {
                Ok(Some(line)) if line.ends_with(" online") => {}
                other => return other,
            }
        }
    })
    .await;
    assert!(
        matches!(closed, Ok(Ok(None))),
        "/quit closes the connection: {closed:?}"
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_line_and_the_session_goes_on() {
    let server = ChatServer::start();
    let mut alice = Nc::connect(&server).await;
    alice.type_line("hello?").await;
    alice
        .expect("! not sent: you are not in a chat; /join first")
        .await;
    alice.type_line("").await;
    alice.expect("! an empty line is not sent").await;
    alice.type_line("/dance").await;
    alice.expect("! unknown command /dance").await;
    alice.writer.write_all(b"\xff\xfe bytes\n").await.unwrap();
    alice.expect("! that line is not UTF-8").await;
    alice.type_line("/report because").await;
    alice.expect("! usage: /report").await;
    alice.type_line(&"x".repeat(5000)).await;
    alice.expect("! that line is longer than 4096 bytes").await;
    alice.type_line("/join").await;
    alice.expect("* waiting").await;
    alice.type_line("/join").await;
    let twice = alice.expect("! bad_state").await;
    assert!(!twice.contains('`'), "commands, not frame names: {twice}");

    // A second client is served normally all along.
    let mut bob = Nc::connect(&server).await;
    bob.type_line("/join").await;
    bob.expect("* matched with a random stranger").await;
    alice.expect("* matched").await;
    bob.type_line(&"y".repeat(600)).await;
    bob.expect("! not sent: too long").await;
    // The reference server's filter: a phone number is not sent.
    bob.type_line("내 번호 010-1234-5678").await;
    bob.expect("! not sent: blocked by the filter (contact)")
        .await;
    bob.type_line("still fine").await;
    alice.expect("stranger: still fine").await;

    // Hanging up tells the partner at once (no resume over TCP).
    drop(bob);
    alice.expect("* the stranger left;").await;
}
