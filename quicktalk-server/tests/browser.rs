//! The bundled page in a real headless Chromium: two pages find each other
//! and chat (driven by `tests/browser/chat.mjs` with playwright-core).
//!
//! Needs `/usr/bin/chromium` (or `CHROMIUM`) and `npm ci` in
//! `quicktalk-server/tests/browser`; `scripts/test.sh` installs both. Without
//! them the test says SKIPPED loudly, unless `QUICKTALK_REQUIRE_BROWSER=1`
//! (set by `scripts/test.sh`) makes that a failure.

mod support;

use std::process::Command;

use support::*;

fn skip_or_fail(reason: &str) {
    if std::env::var_os("QUICKTALK_REQUIRE_BROWSER").is_some_and(|v| v == "1") {
        panic!("browser test required but cannot run: {reason}");
    }
    eprintln!(
        "\n*** SKIPPED browser test: {reason} (scripts/test.sh installs what it needs) ***\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browser_pages_find_each_other_and_chat() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() {
        return skip_or_fail(&format!("no Chromium at {chromium}"));
    }
    let dir = manifest_dir().join("tests/browser");
    if !dir.join("node_modules/playwright-core").exists() {
        return skip_or_fail(
            "playwright-core is not installed (npm ci in quicktalk-server/tests/browser)",
        );
    }
    let server = Server::start(config(&["--allow-bots"])).await;
    let url = format!("http://{}/", server.addr);
    let shots = std::env::temp_dir().join("quicktalk-browser");
    std::fs::create_dir_all(&shots).unwrap();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("chat.mjs")
            .current_dir(&dir)
            .env("QUICKTALK_URL", &url)
            .env("CHROMIUM", &chromium)
            .env("SCREENSHOT_DIR", &shots)
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser checks failed:\n{stdout}\n{stderr}"
    );
    server.stop().await;
}
