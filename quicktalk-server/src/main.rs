//! `quicktalk`: the QuickTalk server binary. Parses the configuration, sets
//! up logging and calls [`quicktalk_server::run`].

use std::process::ExitCode;

use clap::Parser;
use quicktalk_server::{Cli, Command, LogFormat, ServeConfig};
use tracing::Level;
use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

// The static (musl) build of the container image: musl's allocator is slow
// under many threads.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's defaults favour speed over resident memory: freed pages are
/// purged only after 10 ms (arenas 10x later) and arenas are committed
/// eagerly. A chat server holds thousands of mostly idle sockets, so memory
/// is purged at once and committed on demand: 1,000 idle pairs cost 6.9
/// instead of 10.3 KiB of RSS per connection, and the process starts at
/// 21 instead of 46 MiB (docs/performance.md). An operator's
/// `MIMALLOC_PURGE_DELAY` / `MIMALLOC_ARENA_EAGER_COMMIT` win.
#[cfg(feature = "mimalloc")]
#[allow(unsafe_code)]
fn tune_allocator() {
    // `mi_option_e` of the mimalloc that libmimalloc-sys builds (v3; the
    // same numbers in v2), include/mimalloc.h.
    const ARENA_EAGER_COMMIT: i32 = 4;
    const PURGE_DELAY: i32 = 15;
    unsafe extern "C" {
        fn mi_option_set(option: i32, value: std::ffi::c_long);
    }
    for (option, variable) in [
        (ARENA_EAGER_COMMIT, "MIMALLOC_ARENA_EAGER_COMMIT"),
        (PURGE_DELAY, "MIMALLOC_PURGE_DELAY"),
    ] {
        if std::env::var_os(variable).is_none() {
            // SAFETY: mimalloc is the linked global allocator (above);
            // setting an option is a plain store that it reads on its next
            // arena or purge decision, valid from any thread at any time.
            unsafe { mi_option_set(option, 0) };
        }
    }
}

/// The libraries that would log chat text, report notes or tokens, held at
/// most at `debug` (`info` for the MongoDB driver) whatever `--log` asks:
/// at `trace` the WebSocket library writes every frame and the MongoDB
/// driver every command (the docs promise logs never hold message text).
/// A cap only lowers: `--log warn` still hides their debug lines.
fn quiet_libraries() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("tungstenite", Level::DEBUG)
        .with_target("tokio_tungstenite", Level::DEBUG)
        .with_target("hyper", Level::DEBUG)
        .with_target("hyper_util", Level::DEBUG)
        .with_target("h2", Level::DEBUG)
        .with_target("mongodb", Level::INFO)
}

/// Starts logging to standard output with the filter `spec` (capped by
/// [`quiet_libraries`]).
fn start_logging(
    spec: &str,
    json: bool,
    ansi: bool,
) -> Result<(), tracing_subscriber::filter::ParseError> {
    let filter = EnvFilter::try_new(spec)?.and(quiet_libraries());
    let layer = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(ansi);
    if json {
        tracing_subscriber::registry()
            .with(layer.json().with_filter(filter))
            .init();
    } else {
        tracing_subscriber::registry()
            .with(layer.with_filter(filter))
            .init();
    }
    Ok(())
}

fn init_logging(config: &ServeConfig) -> Result<(), String> {
    // Colours only on a terminal: log files and journald get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    start_logging(&config.log, config.log_format == LogFormat::Json, ansi)
        .map_err(|error| format!("invalid setting --log (QUICKTALK_LOG): {error}"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

fn main() -> ExitCode {
    #[cfg(feature = "mimalloc")]
    tune_allocator();
    // SQLite calls run on the blocking pool but take one connection lock,
    // so more than a few blocking threads only adds threads: cap the pool.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(16)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("quicktalk: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let cli = Cli::parse();
        match cli.command {
            Some(Command::Serve(config)) => serve_main(*config).await,
            None => serve_main(cli.serve).await,
            Some(Command::Export(args)) => export_main(&args).await,
            Some(Command::Forget(args)) => forget_main(&args).await,
            Some(Command::Archive(args)) => archive_main(&args).await,
            Some(Command::Moderate(args)) => moderate_main(&args).await,
            Some(Command::Healthcheck(args)) => healthcheck_main(&args),
        }
    })
}

/// Exit status for a failure: 2 for a bad setting (named in the message),
/// 1 for anything else.
fn failed(error: &quicktalk_server::Error) -> ExitCode {
    eprintln!("quicktalk: {error}");
    match error {
        quicktalk_server::Error::Config(_) => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

async fn export_main(args: &quicktalk_server::tools::ExportArgs) -> ExitCode {
    match quicktalk_server::tools::export(args).await {
        Ok(lines) => {
            eprintln!("quicktalk: exported {lines} lines");
            ExitCode::SUCCESS
        }
        Err(error) => failed(&error),
    }
}

async fn forget_main(args: &quicktalk_server::tools::ForgetArgs) -> ExitCode {
    match quicktalk_server::tools::forget(args).await {
        Ok((key, removed)) => {
            if removed.messages == 0 && removed.flags == 0 {
                eprintln!(
                    "quicktalk forget: nothing stored under client key {key}{}",
                    if args.ip.is_some() {
                        " (with --ip: is --ip-hash-key the one the server used?)"
                    } else {
                        ""
                    }
                );
            }
            println!(
                "{}",
                serde_json::json!({
                    "client_key": key,
                    "messages": removed.messages,
                    "flags": removed.flags,
                })
            );
            ExitCode::SUCCESS
        }
        Err(error) => failed(&error),
    }
}

/// Workers log like the server, with the defaults (`QUICKTALK_LOG` applies).
fn init_worker_logging() -> Result<(), ExitCode> {
    let filter = std::env::var("QUICKTALK_LOG").unwrap_or_else(|_| "info".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    start_logging(&filter, false, ansi).map_err(|error| {
        eprintln!("quicktalk: invalid setting QUICKTALK_LOG: {error}");
        ExitCode::from(2)
    })
}

async fn moderate_main(args: &quicktalk_server::moderate::ModerateArgs) -> ExitCode {
    if let Err(code) = init_worker_logging() {
        return code;
    }
    match quicktalk_server::moderate::moderate(args, shutdown_signal()).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => failed(&error),
    }
}

async fn archive_main(args: &quicktalk_server::archive::ArchiveArgs) -> ExitCode {
    if let Err(code) = init_worker_logging() {
        return code;
    }
    match quicktalk_server::archive::archive(args, shutdown_signal()).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => failed(&error),
    }
}

fn healthcheck_main(args: &quicktalk_server::healthcheck::HealthcheckArgs) -> ExitCode {
    match quicktalk_server::healthcheck::check(args) {
        Ok(status) => {
            println!("{status}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("quicktalk: unhealthy: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve_main(config: ServeConfig) -> ExitCode {
    if let Err(message) = init_logging(&config) {
        eprintln!("quicktalk: {message}");
        return ExitCode::from(2);
    }
    if let Err(error) = config.validate() {
        eprintln!("quicktalk: {error}");
        return ExitCode::from(2);
    }
    let listener = match tokio::net::TcpListener::bind(config.bind).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "quicktalk: cannot listen on --bind (QUICKTALK_BIND) {}: {error}",
                config.bind
            );
            return ExitCode::from(2);
        }
    };
    match quicktalk_server::run(config, listener, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => failed(&error),
    }
}
