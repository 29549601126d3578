//! Drawing the view model with ratatui. Reads state, never changes it.
//!
//! ```text
//!  QuickTalk · 3 online · ws://127.0.0.1:8080/ws        <- header
//!  Matched with a stranger. Common interests: music     <- status line
//! ┌────────────────────────────────────────────────┐
//! │ stranger: hi                                   │   <- transcript
//! │ you: hello ✓                                   │
//! └────────────────────────────────────────────────┘
//!  stranger is typing…                                  <- typing line
//! ┌ Message · Enter sends · /help · Ctrl-C quits ──┐
//! │ how are y_                                     │   <- input box
//! └────────────────────────────────────────────────┘
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::input::InputLine;
use crate::text::Ui;
use crate::view::{Activity, ChatLine, Connection, Delivery, View};

/// Everything [`draw`] needs.
#[derive(Debug, Clone, Copy)]
pub struct Screen<'a> {
    /// The state machine's view model.
    pub view: &'a View,
    /// The input box.
    pub input: &'a InputLine,
    /// The interface language.
    pub ui: Ui,
    /// The server address (shown in the header).
    pub url: &'a str,
    /// Rows scrolled up from the bottom of the transcript (PageUp/PageDown).
    pub scroll_back: u16,
}

/// Draws one frame.
pub fn draw(frame: &mut Frame<'_>, screen: Screen<'_>) {
    let [header, status, transcript, typing, input] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(3),
    ])
    .areas(frame.area());
    let view = screen.view;
    let ui = screen.ui;

    let title = Line::from(vec![
        " QuickTalk ".bold().reversed(),
        format!(" {} · {}", ui.online(view.online), screen.url).into(),
    ]);
    frame.render_widget(title, header);

    let status_text = ui.status(&view.connection, &view.activity, screen.url);
    frame.render_widget(
        Line::from(format!(" {status_text}")).style(status_style(view)),
        status,
    );

    draw_transcript(frame, transcript, screen);

    if view.partner_typing {
        frame.render_widget(
            Line::from(format!(" {}", ui.typing())).italic().dim(),
            typing,
        );
    }

    draw_input(frame, input, screen);
}

fn status_style(view: &View) -> Style {
    let color = match (&view.connection, &view.activity) {
        (Connection::Closed { .. }, _) => Color::Red,
        (Connection::Online, Activity::Chatting(_)) => Color::Green,
        (Connection::Online, Activity::PartnerLeft(_)) => Color::Magenta,
        (Connection::Online, Activity::Idle) => Color::Gray,
        _ => Color::Yellow,
    };
    Style::new().fg(color).add_modifier(Modifier::BOLD)
}

fn draw_transcript(frame: &mut Frame<'_>, area: ratatui::layout::Rect, screen: Screen<'_>) {
    let ui = screen.ui;
    let lines: Vec<Line<'_>> = screen
        .view
        .lines
        .iter()
        .map(|line| transcript_line(line, ui))
        .collect();
    let block = Block::bordered();
    let inner = block.inner(area);
    let paragraph = Paragraph::new(lines)
        .block(block)
        .wrap(Wrap { trim: false });
    // Keep the newest line at the bottom: scroll past what does not fit.
    // (`line_count` needs ratatui's `unstable-rendered-line-info` feature.)
    let rows = u16::try_from(paragraph.line_count(inner.width)).unwrap_or(u16::MAX);
    let bottom = rows.saturating_sub(inner.height);
    let top = bottom.saturating_sub(screen.scroll_back);
    frame.render_widget(paragraph.scroll((top, 0)), area);
}

fn transcript_line(line: &ChatLine, ui: Ui) -> Line<'_> {
    match line {
        ChatLine::Mine { text, delivery, .. } => {
            let mut spans = vec![
                Span::styled(format!("{}: ", ui.you()), Style::new().cyan().bold()),
                Span::raw(text.as_str()),
                Span::raw(" "),
            ];
            spans.push(match delivery {
                Delivery::Pending => Span::styled(ui.pending(), Style::new().dim()),
                Delivery::Delivered { masked: false } => Span::styled("✓", Style::new().green()),
                Delivery::Delivered { masked: true } => {
                    Span::styled(format!("✓ {}", ui.masked()), Style::new().yellow())
                }
                Delivery::Rejected(rejection) => {
                    Span::styled(ui.not_delivered(rejection), Style::new().red())
                }
            });
            Line::from(spans)
        }
        ChatLine::Stranger { text, masked, bot } => {
            let mut spans = vec![
                Span::styled(
                    format!("{}: ", ui.stranger(*bot)),
                    Style::new().magenta().bold(),
                ),
                Span::raw(text.as_str()),
            ];
            if *masked {
                spans.push(Span::styled(
                    format!(" {}", ui.masked()),
                    Style::new().yellow(),
                ));
            }
            Line::from(spans)
        }
        ChatLine::Notice(notice) => {
            Line::from(format!("* {}", ui.notice(notice))).style(Style::new().dim().italic())
        }
    }
}

fn draw_input(frame: &mut Frame<'_>, area: ratatui::layout::Rect, screen: Screen<'_>) {
    let block = Block::bordered().title(screen.ui.input_title());
    let inner = block.inner(area);
    // Scroll sideways so the cursor stays visible in a long line.
    let cursor =
        u16::try_from(Line::from(screen.input.before_cursor()).width()).unwrap_or(u16::MAX);
    let offset = cursor.saturating_add(1).saturating_sub(inner.width);
    frame.render_widget(
        Paragraph::new(screen.input.text())
            .block(block)
            .scroll((0, offset)),
        area,
    );
    frame.set_cursor_position(Position::new(inner.x + cursor - offset, inner.y));
}
