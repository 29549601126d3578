//! Runs the example app: `cargo run -p quicktalk-example-embed-axum -- 127.0.0.1:3000`.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let engine = quicktalk_example_embed_axum::engine("embed-axum.db".as_ref())?;
    let app = quicktalk_example_embed_axum::router(engine.clone());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
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
