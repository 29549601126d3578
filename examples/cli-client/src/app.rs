//! The event loop: wires the terminal, the socket and the state machine.
//!
//! Three sources feed one `select!`: key presses (read on a plain thread,
//! because crossterm's `read` blocks), socket events from [`crate::net`], and
//! the reconnect timer. Each event goes through [`Client::handle`]; its
//! actions are carried out here, then the screen is redrawn.

use std::io;

use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{
    self, Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers,
};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};

use crate::input::{Edit, InputLine};
use crate::net::{Link, NetEvent};
use crate::protocol::{Search, ServerFrame};
use crate::state::{Action, Client, Event};
use crate::text::Ui;
use crate::ui::{self, Screen};

/// What the loop needs from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The server's WebSocket URL.
    pub url: String,
    /// Extra headers for the upgrade request (`--header`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// What `join`/`next` send.
    pub search: Search,
    /// The interface language.
    pub ui: Ui,
}

/// The loop's state around the pure [`Client`].
struct App {
    settings: Settings,
    client: Client,
    input: InputLine,
    /// The open connection, if any.
    link: Option<Link>,
    /// When to dial again after a drop.
    redial_at: Option<Instant>,
    /// Transcript rows scrolled up from the bottom.
    scroll_back: u16,
    net_events: mpsc::UnboundedSender<NetEvent>,
}

/// Runs the client until `/quit` or Ctrl-C.
///
/// # Errors
/// When drawing to the terminal fails.
pub async fn run(terminal: &mut DefaultTerminal, settings: Settings) -> io::Result<()> {
    let (net_events, mut net_rx) = mpsc::unbounded_channel();
    let mut keys = spawn_key_reader();
    let mut app = App {
        client: Client::new(settings.search.clone()),
        settings,
        input: InputLine::default(),
        link: None,
        redial_at: None,
        scroll_back: 0,
        net_events,
    };
    app.dial();

    loop {
        terminal.draw(|frame| {
            ui::draw(
                frame,
                Screen {
                    view: app.client.view(),
                    input: &app.input,
                    ui: app.settings.ui,
                    url: &app.settings.url,
                    scroll_back: app.scroll_back,
                },
            );
        })?;

        let redial_at = app.redial_at;
        let actions = tokio::select! {
            Some(net) = net_rx.recv() => app.on_net(net),
            key = keys.recv() => match key {
                Some(key) => app.on_terminal(key),
                // The terminal is gone: nothing left to drive the client.
                None => app.client.handle(Event::Quit),
            },
            () = sleep_until(redial_at), if redial_at.is_some() => {
                app.redial_at = None;
                app.dial();
                Vec::new()
            }
        };
        if app.carry_out(actions).await {
            return Ok(());
        }
    }
}

impl App {
    fn dial(&mut self) {
        self.client.handle(Event::Dialing);
        self.link = Some(Link::open(
            self.settings.url.clone(),
            self.settings.headers.clone(),
            self.net_events.clone(),
        ));
    }

    fn on_net(&mut self, net: NetEvent) -> Vec<Action> {
        match net {
            NetEvent::Connected => self.client.handle(Event::Connected),
            NetEvent::Refused(status) => self.client.handle(Event::Refused { status }),
            NetEvent::Text(text) => match ServerFrame::parse(&text) {
                Ok(frame) => self.client.handle(Event::Frame(frame)),
                // Not a frame we can read: the protocol says to ignore it.
                Err(_) => Vec::new(),
            },
            NetEvent::Closed(code) => {
                self.link = None;
                self.client.handle(Event::Closed { code })
            }
        }
    }

    fn on_terminal(&mut self, event: TermEvent) -> Vec<Action> {
        let TermEvent::Key(KeyEvent {
            code,
            modifiers,
            kind: KeyEventKind::Press | KeyEventKind::Repeat,
            ..
        }) = event
        else {
            // Resizes need only the redraw that follows every event.
            return Vec::new();
        };
        let ctrl = modifiers.contains(KeyModifiers::CONTROL);
        let edit = match code {
            KeyCode::Char('c' | 'd') if ctrl => return self.client.handle(Event::Quit),
            KeyCode::Char('u') if ctrl => Edit::Clear,
            KeyCode::Enter => {
                self.scroll_back = 0;
                let line = self.input.take();
                return self.client.handle(Event::Submit(line));
            }
            KeyCode::PageUp => {
                self.scroll_back = self.scroll_back.saturating_add(5);
                return Vec::new();
            }
            KeyCode::PageDown => {
                self.scroll_back = self.scroll_back.saturating_sub(5);
                return Vec::new();
            }
            KeyCode::Char(c) if !ctrl => Edit::Insert(c),
            KeyCode::Backspace => Edit::Backspace,
            KeyCode::Delete => Edit::Delete,
            KeyCode::Left => Edit::Left,
            KeyCode::Right => Edit::Right,
            KeyCode::Home => Edit::Home,
            KeyCode::End => Edit::End,
            KeyCode::Esc => Edit::Clear,
            _ => return Vec::new(),
        };
        self.input.apply(edit);
        // The state machine sends `typing` only when this flips.
        self.client.handle(Event::InputChanged {
            empty: self.input.is_empty(),
        })
    }

    /// Carries out actions; returns true when the client should exit.
    async fn carry_out(&mut self, actions: Vec<Action>) -> bool {
        for action in actions {
            match action {
                Action::Send(frame) => {
                    if let Some(link) = &self.link {
                        link.send(frame.to_json());
                    }
                }
                Action::Reconnect { after } => self.redial_at = Some(Instant::now() + after),
                Action::Exit => {
                    if let Some(link) = self.link.take() {
                        link.close().await;
                    }
                    return true;
                }
            }
        }
        false
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Reads terminal events on a plain thread (crossterm's `read` blocks). The
/// thread ends with the process.
fn spawn_key_reader() -> mpsc::UnboundedReceiver<TermEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        while let Ok(event) = event::read() {
            if tx.send(event).is_err() {
                break;
            }
        }
    });
    rx
}
