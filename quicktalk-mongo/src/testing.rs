//! Test helpers (feature `testing`): which server the tests use, a fresh
//! database per test, and a FerretDB process a test can stop and restart.
//!
//! - `QUICKTALK_TEST_MONGO_URI` names the server every store test runs
//!   against (`scripts/services.sh up` starts FerretDB and sets it; point it
//!   at MongoDB or Atlas to prove the store there).
//! - `QUICKTALK_FERRETDB_BIN` names a FerretDB binary; tests that stop the
//!   database start their own from it.
//! - With `QUICKTALK_REQUIRE_SERVICES=1` (CI) a missing variable fails the
//!   test instead of skipping it.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{MongoChatStore, MongoConfig};

/// Whether tests must fail rather than skip when a service is missing.
pub fn services_required() -> bool {
    std::env::var("QUICKTALK_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

fn missing<T>(variable: &str, test: &str) -> Option<T> {
    assert!(
        !services_required(),
        "{variable} is not set and QUICKTALK_REQUIRE_SERVICES=1: start the services with `scripts/services.sh up`"
    );
    eprintln!("SKIPPED {test}: {variable} is not set (run `scripts/services.sh up` first)");
    None
}

/// The MongoDB URI the tests use, or `None` (with a loud note) to skip.
///
/// # Panics
/// When the variable is missing and `QUICKTALK_REQUIRE_SERVICES=1`.
pub fn test_uri(test: &str) -> Option<String> {
    match std::env::var("QUICKTALK_TEST_MONGO_URI") {
        Ok(uri) if !uri.is_empty() => Some(uri),
        _ => missing("QUICKTALK_TEST_MONGO_URI", test),
    }
}

/// The FerretDB binary for tests that stop the database, or `None` to skip.
///
/// # Panics
/// When the variable is missing and `QUICKTALK_REQUIRE_SERVICES=1`.
pub fn ferretdb_bin(test: &str) -> Option<PathBuf> {
    match std::env::var("QUICKTALK_FERRETDB_BIN") {
        Ok(path) if Path::new(&path).is_file() => Some(PathBuf::from(path)),
        _ => missing("QUICKTALK_FERRETDB_BIN", test),
    }
}

/// A database name no other test uses.
pub fn unique_database(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("qt_{prefix}_{}_{nanos:x}", std::process::id())
}

/// A store on a fresh database of `uri`, dropped by [`FreshStore::drop_database`].
pub struct FreshStore {
    /// The store.
    pub store: MongoChatStore,
    /// Its settings (to open a second store on the same database).
    pub config: MongoConfig,
}

impl FreshStore {
    /// Connects to a new database on `uri`.
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub async fn new(uri: &str, prefix: &str, retention: Option<Duration>) -> Self {
        let config = MongoConfig {
            database: Some(unique_database(prefix)),
            retention,
            ..MongoConfig::new(uri)
        };
        let store = MongoChatStore::connect(&config)
            .await
            .unwrap_or_else(|error| panic!("test MongoDB at {uri}: {error}"));
        Self { store, config }
    }

    /// Drops the test database.
    pub async fn drop_database(self) {
        let _ = self.store.database().drop().await;
    }
}

/// A FerretDB process (SQLite backend) on a loopback port, with its data in
/// a directory that outlives restarts.
pub struct FerretDb {
    binary: PathBuf,
    data: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl FerretDb {
    /// Starts FerretDB with its data under `dir` on a free port.
    ///
    /// # Panics
    /// When it cannot be started or does not listen within 20 s.
    pub fn start(binary: &Path, dir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut server = Self {
            binary: binary.to_owned(),
            data: dir.to_owned(),
            port,
            child: None,
        };
        server.restart();
        server
    }

    /// `mongodb://127.0.0.1:PORT/`.
    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/", self.port)
    }

    /// Kills the process at once (SIGKILL): the database is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again on the same port and data.
    ///
    /// # Panics
    /// When it cannot be started or does not listen within 20 s.
    pub fn restart(&mut self) {
        self.kill();
        let data = self.data.join("data");
        let state = self.data.join("state");
        std::fs::create_dir_all(&data).expect("data dir");
        std::fs::create_dir_all(&state).expect("state dir");
        let child = Command::new(&self.binary)
            .arg("--handler=sqlite")
            .arg(format!("--sqlite-url=file:{}/", data.display()))
            .arg(format!("--listen-addr=127.0.0.1:{}", self.port))
            .arg("--debug-addr=127.0.0.1:0")
            .arg(format!("--state-dir={}", state.display()))
            .arg("--telemetry=disable")
            .arg("--log-level=error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("FerretDB starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "FerretDB did not listen in 20 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for FerretDb {
    fn drop(&mut self) {
        self.kill();
    }
}
