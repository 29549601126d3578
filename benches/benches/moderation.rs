//! The danger-word filter on typical chat lines.
//!
//! Lines are mixed Korean and English, about 40 characters, mostly clean
//! with some profanity and evasions, written for this benchmark. Targets
//! (issue 4): >= 50 MB/s per core and <= 2 us per typical line, and at least
//! 30x rustrict, which is measured here on the same lines.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use quicktalk_nlp::Filter;

const LINES: &[&str] = &[
    "안녕하세요! 어디 사세요? 저는 서울이에요",
    "hey whats up, where are you from?",
    "ㅋㅋㅋㅋ 진짜 웃기다 너 뭐하는 사람이야",
    "i'm just bored at home lol, you?",
    "오늘 날씨 너무 좋다 산책 가고 싶어",
    "do you like anime? i watch a lot of it",
    "아 시1발 오늘 회사에서 완전 털렸어",
    "what the fuuuck is this chat app haha",
    "취미가 뭐예요? 저는 게임이랑 음악 좋아해요",
    "my favorite band is coldplay, and yours?",
    "배고프다 치킨 시켜먹을까 피자 먹을까",
    "nice to meet you! i'm from toronto",
    "ㅅㅂ 진짜 짜증나네 왜 이렇게 느려",
    "that movie was so good, 10/10 would watch",
    "주말에 뭐 했어? 나는 친구들이랑 놀았어",
    "are you a student or do you work?",
    "내일 시험인데 공부 하나도 안 했어 ㅠㅠ",
    "s.h.i.t i forgot my homework again",
    "고양이 키워요? 저 고양이 두 마리 있어요",
    "can we talk in english? my korean is bad",
    "한국어 잘하시네요! 어디서 배웠어요?",
    "lol you are funny, tell me a joke",
    "이 노래 알아? 요즘 계속 듣고 있어",
    "sorry i have to go, bye! nice talking",
    "병신같은 소리 하지 마라 진짜",
    "i love korean food, especially bibimbap",
    "몇 살이에요? 저는 스물다섯이에요",
    "where do you live? i'm in seoul now",
    "ㅎㅎ 그렇구나 나도 그거 좋아해",
    "my number is 010-1234-5678 call me",
];

fn corpus_bytes() -> u64 {
    LINES.iter().map(|l| l.len() as u64).sum()
}

fn filter_lines(c: &mut Criterion) {
    let filter = Filter::new();
    let mut group = c.benchmark_group("moderation");
    group.throughput(Throughput::Bytes(corpus_bytes()));
    group.bench_function("quicktalk_nlp/30_lines", |b| {
        b.iter(|| {
            for line in LINES {
                black_box(filter.check(black_box(line)));
            }
        })
    });
    let lexicon_only = Filter::builder().learned(false).build().unwrap();
    group.bench_function("quicktalk_nlp_without_learned_pass/30_lines", |b| {
        b.iter(|| {
            for line in LINES {
                black_box(lexicon_only.check(black_box(line)));
            }
        })
    });
    group.bench_function("normalise_only/30_lines", |b| {
        let mut view = quicktalk_nlp::View::new();
        b.iter(|| {
            for line in LINES {
                view.build(black_box(line));
                black_box(view.as_str());
            }
        })
    });
    group.bench_function("rustrict/30_lines", |b| {
        use rustrict::CensorStr;
        b.iter(|| {
            for line in LINES {
                black_box(black_box(*line).is_inappropriate());
            }
        })
    });
    group.finish();

    let mut single = c.benchmark_group("moderation_line");
    let typical = "안녕하세요! 어디 사세요? 저는 서울이에요";
    single.throughput(Throughput::Bytes(typical.len() as u64));
    single.bench_function("korean_clean", |b| {
        b.iter(|| filter.check(black_box(typical)))
    });
    let english = "hey whats up, where are you from?";
    single.bench_function("english_clean", |b| {
        b.iter(|| filter.check(black_box(english)))
    });
    let evasion = "아 시1발 오늘 회사에서 완전 털렸어";
    single.bench_function("korean_evasion", |b| {
        b.iter(|| filter.check(black_box(evasion)))
    });
    single.finish();

    // Long lines of one repeated piece (the CLI and an embedder may check
    // more than the server's 500 characters): the time per byte must not
    // grow with the length. Each ran in time growing with its square once
    // (`(` 2.8 s at 60,000 characters, `*`, `ㅅㅂ`).
    let mut long = c.benchmark_group("moderation_long_line");
    long.sample_size(10);
    for (name, piece) in [
        ("parens", "("),
        ("call_parens", "a("),
        ("stars", "*"),
        ("jamo_curse", "ㅅㅂ"),
        ("words", "hello "),
    ] {
        let line = piece.repeat(60_000 / piece.chars().count());
        long.throughput(Throughput::Bytes(line.len() as u64));
        long.bench_function(name, |b| b.iter(|| filter.check(black_box(&line))));
    }
    long.finish();
}

/// The datasets' own lines (issue 12: >= 50 MB/s on each): every line of a
/// set checked once per iteration. `QUICKTALK_DATASETS` names the folder
/// (default `../shared/datasets` beside the workspace).
fn datasets(c: &mut Criterion) {
    let folder = std::env::var("QUICKTALK_DATASETS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            // The folder `cargo bench` runs from, not the one the bench was
            // compiled in (a shared build cache can keep one of another
            // clone).
            let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
                .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
            std::path::Path::new(&crate_dir).join("../../shared/datasets")
        });
    let filter = Filter::new();
    let mut group = c.benchmark_group("moderation_dataset");
    group.sample_size(10);
    for (name, load) in quicktalk_nlp::datasets::ALL {
        let Ok(rows) = load(&folder.join(name)) else {
            eprintln!(
                "moderation bench: {name} not found under {}",
                folder.display()
            );
            continue;
        };
        let lines: Vec<String> = rows.into_iter().map(|(text, _)| text).collect();
        let bytes: u64 = lines.iter().map(|l| l.len() as u64).sum();
        group.throughput(Throughput::Bytes(bytes));
        group.bench_function(name, |b| {
            b.iter(|| {
                for line in &lines {
                    black_box(filter.check(black_box(line)));
                }
            })
        });
    }
    group.finish();
}

fn build(c: &mut Criterion) {
    c.bench_function("moderation/build_filter", |b| b.iter(Filter::new));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = filter_lines, datasets, build
}
criterion_main!(benches);
