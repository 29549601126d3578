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
    let view = screen.view;
    let ui = screen.ui;
    // The status wraps (a reconnect notice with the address is longer than
    // a narrow window) up to three rows; the transcript keeps the rest.
    let status_text = ui.status(&view.connection, &view.activity, screen.url);
    let status = Paragraph::new(format!(" {status_text}"))
        .style(status_style(view))
        .wrap(Wrap { trim: true });
    let status_rows = status.line_count(frame.area().width).clamp(1, 3);
    let [header, status_area, transcript, typing, input] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::try_from(status_rows).unwrap_or(1)),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(3),
    ])
    .areas(frame.area());

    let mut title = vec![" QuickTalk ".bold().reversed()];
    // No count until the server has sent one (a `-` read as a number).
    if let Some(count) = view.online {
        title.push(format!(" {} ·", ui.online(count)).into());
    }
    title.push(format!(" {}", screen.url).into());
    frame.render_widget(Line::from(title), header);

    frame.render_widget(status, status_area);

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
    let paragraph = Paragraph::new(lines).wrap(Wrap { trim: false });
    // Keep the newest line at the bottom: scroll past what does not fit.
    // The rows are counted before the border is added: `line_count` of a
    // bordered paragraph counts the border's two rows too, which scrolled
    // the newest lines out of a small window. (`line_count` needs ratatui's
    // `unstable-rendered-line-info` feature.)
    let rows = u16::try_from(paragraph.line_count(inner.width)).unwrap_or(u16::MAX);
    let bottom = rows.saturating_sub(inner.height);
    let top = bottom.saturating_sub(screen.scroll_back);
    frame.render_widget(paragraph.block(block).scroll((top, 0)), area);
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

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::view::{ChatLine, Partner};

    fn chatting(lines: Vec<ChatLine>) -> View {
        View {
            online: Some(2),
            connection: Connection::Online,
            activity: Activity::Chatting(Partner::default()),
            lines,
            partner_typing: false,
        }
    }

    fn stranger(text: &str) -> ChatLine {
        ChatLine::Stranger {
            text: text.to_owned(),
            masked: false,
            bot: false,
        }
    }

    /// The screen as rows of text, a wide character once (its second cell
    /// is skipped).
    fn render(view: &View, ui: Ui, width: u16, height: u16) -> Vec<String> {
        render_typing(view, &InputLine::default(), ui, width, height)
    }

    fn render_typing(
        view: &View,
        input: &InputLine,
        ui: Ui,
        width: u16,
        height: u16,
    ) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal
            .draw(|frame| {
                draw(
                    frame,
                    Screen {
                        view,
                        input,
                        ui,
                        url: "ws://127.0.0.1:8080/ws",
                        scroll_back: 0,
                    },
                );
            })
            .unwrap();
        let buffer = terminal.backend().buffer();
        (0..height)
            .map(|y| {
                let mut row = String::new();
                let mut x = 0;
                while x < width {
                    let symbol = buffer[(x, y)].symbol();
                    row.push_str(symbol);
                    x += u16::try_from(Span::raw(symbol).width().max(1)).unwrap_or(1);
                }
                row
            })
            .collect()
    }

    /// The transcript's rows: between its top and bottom borders.
    fn transcript(rows: &[String]) -> Vec<String> {
        let top = rows.iter().position(|r| r.starts_with('┌')).unwrap();
        let bottom = top
            + 1
            + rows[top + 1..]
                .iter()
                .position(|r| r.starts_with('└'))
                .unwrap();
        rows[top + 1..bottom].to_vec()
    }

    #[test]
    fn the_newest_line_sits_on_the_transcripts_last_row() {
        let lines: Vec<ChatLine> = (1..=40).map(|n| stranger(&format!("line {n}"))).collect();
        for height in [9, 10, 12, 30] {
            let rows = render(&chatting(lines.clone()), Ui::En, 60, height);
            let shown = transcript(&rows);
            assert!(
                shown.last().unwrap().contains("stranger: line 40 "),
                "height {height}: {rows:#?}"
            );
        }
    }

    #[test]
    fn a_short_transcript_starts_at_the_top() {
        let rows = render(&chatting(vec![stranger("hello")]), Ui::En, 60, 14);
        assert!(
            transcript(&rows)[0].contains("stranger: hello"),
            "{rows:#?}"
        );
    }

    #[test]
    fn wrapped_korean_lines_stay_inside_the_border() {
        let long = "가나다라마바사아자차카타파하".repeat(6);
        for width in 20..44 {
            let rows = render(&chatting(vec![stranger(&long)]), Ui::Ko, width, 14);
            for row in transcript(&rows) {
                assert!(
                    row.starts_with('│') && row.ends_with('│'),
                    "width {width}: {row:?}"
                );
            }
        }
    }

    #[test]
    fn a_long_korean_input_scrolls_inside_its_box() {
        let mut input = InputLine::default();
        for c in "a안녕하세요 반갑습니다 b오늘 날씨가 좋네요 c"
            .repeat(3)
            .chars()
        {
            input.apply(crate::input::Edit::Insert(c));
            for width in [20, 21, 33] {
                let rows = render_typing(&chatting(Vec::new()), &input, Ui::Ko, width, 12);
                let row = &rows[rows.len() - 2];
                assert!(
                    row.starts_with('│') && row.ends_with('│'),
                    "width {width}: {row:?}"
                );
            }
        }
    }

    #[test]
    fn a_long_status_wraps_instead_of_being_cut() {
        let view = View {
            connection: Connection::Reconnecting {
                after: std::time::Duration::from_secs(8),
                attempt: 3,
                why: crate::view::Retry::Unreachable,
            },
            ..View::default()
        };
        let rows = render(&view, Ui::En, 40, 14);
        let screen = rows.join("");
        let screen: String = screen.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(screen.contains("(try 3)…"), "{rows:#?}");
    }

    #[test]
    fn no_online_count_before_the_server_sends_one() {
        let view = View::default();
        let header = &render(&view, Ui::Ko, 60, 12)[0];
        assert!(!header.contains('명'), "{header:?}");
        let view = View {
            online: Some(7),
            ..View::default()
        };
        let header = &render(&view, Ui::Ko, 60, 12)[0];
        assert!(header.contains("7명 접속 중"), "{header:?}");
    }
}
