//! Runs the example app: `cargo run -p quicktalk-example-embed-axum -- 127.0.0.1:3000`.

const USAGE: &str = "Usage: quicktalk-example-embed-axum [ADDRESS]

Runs the example app (a login, the chat at /community/chat/ws, a SQLite store in
./embed-axum.db) on ADDRESS, default 127.0.0.1:3000. See
examples/embed-axum/README.md.";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1);
    if arg.as_deref().is_some_and(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let addr = arg.unwrap_or_else(|| "127.0.0.1:3000".into());
    // Checked before anything is created, with a message that says what is wrong.
    let Ok(addr) = addr.parse::<std::net::SocketAddr>() else {
        eprintln!("`{addr}` is not an address like 127.0.0.1:3000\n\n{USAGE}");
        std::process::exit(2);
    };
    let engine = quicktalk_example_embed_axum::engine("embed-axum.db".as_ref())?;
    let app = quicktalk_example_embed_axum::router(engine.clone());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    // Closes every chat (1001) and flushes the store before exit.
    engine.shutdown(std::time::Duration::from_secs(5)).await;
    Ok(())
}
