//! Rule-by-rule tests of the matcher.

use super::*;

fn config() -> MatcherConfig {
    MatcherConfig {
        interest_wait: Duration::from_secs(5),
        rematch_cooldown: Duration::from_secs(300),
        report_block: Duration::from_secs(3600),
    }
}

fn sid(n: u64) -> SessionId {
    SessionId::from_raw(n)
}

fn candidate(n: u64, lang: Option<&str>, interests: &[&str]) -> Candidate {
    Candidate {
        session: sid(n),
        client_key: ClientKey::new(format!("key-{n}")),
        lang: lang.map(Arc::from),
        interests: interests.iter().map(|i| Arc::from(*i)).collect(),
        bot: false,
    }
}

fn bot(n: u64, interests: &[&str]) -> Candidate {
    Candidate {
        bot: true,
        ..candidate(n, None, interests)
    }
}

#[test]
fn two_bots_are_never_paired_but_each_meets_a_person() {
    let mut matcher = Matcher::new(config());
    let now = Instant::now();
    assert!(matcher.enqueue(bot(1, &[]), now).is_none());
    assert!(matcher.enqueue(bot(2, &[]), now).is_none());
    assert!(matcher.enqueue(bot(3, &["music"]), now).is_none());
    assert_eq!(matcher.waiting(), 3);
    // Much later the bot with an interest falls back to anyone: still no bot.
    assert!(matcher.tick(now + Duration::from_secs(60)).is_empty());
    // A person takes the longest-waiting bot...
    let pairing = matcher.enqueue(candidate(4, None, &[]), now).unwrap();
    assert_eq!(pair_of(&pairing), (1, 4));
    // ...and a person with an interest the bot shares takes that bot first.
    let pairing = matcher
        .enqueue(candidate(5, None, &["music"]), now)
        .unwrap();
    assert_eq!(pair_of(&pairing), (3, 5));
    assert_eq!(matcher.waiting(), 1);
}

fn pair_of(pairing: &Pairing) -> (u64, u64) {
    (pairing.first.raw(), pairing.second.raw())
}

#[test]
fn two_sessions_without_preferences_are_paired_at_once() {
    let mut matcher = Matcher::new(config());
    let now = Instant::now();
    assert!(matcher.enqueue(candidate(1, None, &[]), now).is_none());
    assert_eq!(matcher.waiting(), 1);
    let pairing = matcher.enqueue(candidate(2, None, &[]), now).unwrap();
    assert_eq!(pair_of(&pairing), (1, 2));
    assert!(pairing.common_interests.is_empty());
    assert_eq!(matcher.waiting(), 0);
}

#[test]
fn a_session_is_never_paired_with_itself() {
    let mut matcher = Matcher::new(config());
    let now = Instant::now();
    assert!(matcher.enqueue(candidate(1, None, &[]), now).is_none());
    assert!(
        matcher.enqueue(candidate(1, None, &[]), now).is_none(),
        "re-queueing replaces"
    );
    assert_eq!(matcher.waiting(), 1);
}

#[test]
fn lang_is_a_filter_that_sessions_without_lang_pass() {
    let mut matcher = Matcher::new(config());
    let now = Instant::now();
    assert!(
        matcher
            .enqueue(candidate(1, Some("ko"), &[]), now)
            .is_none()
    );
    assert!(
        matcher
            .enqueue(candidate(2, Some("en"), &[]), now)
            .is_none()
    );
    let pairing = matcher.enqueue(candidate(3, Some("en"), &[]), now).unwrap();
    assert_eq!(pair_of(&pairing), (2, 3));
    let pairing = matcher.enqueue(candidate(4, None, &[]), now).unwrap();
    assert_eq!(pair_of(&pairing), (1, 4), "no lang pairs with any lang");
}

#[test]
fn a_session_with_lang_takes_the_oldest_of_its_pool_and_the_no_lang_pool() {
    let mut matcher = Matcher::new(config());
    let now = Instant::now();
    // 1 has no lang, 2 is ko but 1 and 2 cannot pair: keep them apart.
    matcher.add_report_block((sid(1), &"key-1".into()), (sid(2), &"key-2".into()), now);
    assert!(matcher.enqueue(candidate(1, None, &[]), now).is_none());
    assert!(
        matcher
            .enqueue(candidate(2, Some("ko"), &[]), now)
            .is_none()
    );
    let pairing = matcher.enqueue(candidate(3, Some("ko"), &[]), now).unwrap();
    assert_eq!(
        pair_of(&pairing),
        (1, 3),
        "1 waited longest and is compatible"
    );
}

#[test]
fn a_common_interest_is_preferred_over_a_longer_waiting_stranger() {
    let mut matcher = Matcher::new(config());
    let now = Instant::now();
    assert!(matcher.enqueue(candidate(1, None, &[]), now).is_none());
    // 2 has interests and has not waited interest_wait: not eligible with 1.
    assert!(
        matcher
            .enqueue(candidate(2, None, &["music"]), now)
            .is_none()
    );
    let pairing = matcher
        .enqueue(
            candidate(3, None, &["books", "Music".to_lowercase().as_str()]),
            now,
        )
        .unwrap();
    assert_eq!(pair_of(&pairing), (2, 3));
    assert_eq!(pairing.common_interests, ["music"]);
}

#[test]
fn among_common_interest_partners_the_longest_waiting_wins() {
    let mut matcher = Matcher::new(config());
    let now = Instant::now();
    assert!(
        matcher
            .enqueue(candidate(1, None, &["books"]), now)
            .is_none()
    );
    assert!(
        matcher
            .enqueue(candidate(2, None, &["music"]), now)
            .is_none()
    );
    let pairing = matcher
        .enqueue(candidate(3, None, &["music", "books"]), now)
        .unwrap();
    assert_eq!(pair_of(&pairing), (1, 3));
    assert_eq!(pairing.common_interests, ["books"]);
}

#[test]
fn without_a_common_interest_the_fallback_waits_for_interest_wait() {
    let mut matcher = Matcher::new(config());
    let start = Instant::now();
    assert!(
        matcher
            .enqueue(candidate(1, None, &["music"]), start)
            .is_none()
    );
    assert!(matcher.enqueue(candidate(2, None, &[]), start).is_none());
    assert_eq!(
        matcher.next_deadline(),
        Some(start + Duration::from_secs(5))
    );
    assert!(matcher.tick(start + Duration::from_secs(4)).is_empty());
    let pairings = matcher.tick(start + Duration::from_secs(5));
    assert_eq!(pairings.len(), 1);
    assert_eq!(pair_of(&pairings[0]), (1, 2));
    assert!(pairings[0].common_interests.is_empty());
    assert_eq!(pairings[0].first_waited, Duration::from_secs(5));
}

#[test]
fn two_sessions_with_different_interests_pair_once_both_waited() {
    let mut matcher = Matcher::new(config());
    let start = Instant::now();
    assert!(
        matcher
            .enqueue(candidate(1, None, &["music"]), start)
            .is_none()
    );
    let later = start + Duration::from_secs(3);
    assert!(
        matcher
            .enqueue(candidate(2, None, &["books"]), later)
            .is_none()
    );
    assert!(
        matcher.tick(start + Duration::from_secs(5)).is_empty(),
        "2 has waited 2 s only"
    );
    let pairings = matcher.tick(later + Duration::from_secs(5));
    assert_eq!(pairings.len(), 1);
    assert_eq!(pair_of(&pairings[0]), (1, 2));
}

#[test]
fn a_cooldown_keeps_two_sessions_apart_until_it_expires() {
    let mut matcher = Matcher::new(config());
    let start = Instant::now();
    matcher.add_cooldown(sid(1), sid(2), start);
    assert!(matcher.enqueue(candidate(1, None, &[]), start).is_none());
    assert!(matcher.enqueue(candidate(2, None, &[]), start).is_none());
    assert_eq!(matcher.waiting(), 2);
    let pairings = matcher.tick(start + Duration::from_secs(300));
    assert_eq!(pairings.len(), 1, "the expiry re-runs matching");
    assert_eq!(pair_of(&pairings[0]), (1, 2));
}

#[test]
fn a_cooldown_is_per_session_not_per_key() {
    let mut matcher = Matcher::new(config());
    let now = Instant::now();
    matcher.add_cooldown(sid(1), sid(2), now);
    assert!(matcher.enqueue(candidate(1, None, &[]), now).is_none());
    // Session 3 has session 2's key: the cooldown does not apply to it.
    let mut third = candidate(3, None, &[]);
    third.client_key = "key-2".into();
    assert!(matcher.enqueue(third, now).is_some());
}

#[test]
fn a_report_blocks_the_sessions_and_their_keys() {
    let mut matcher = Matcher::new(config());
    let now = Instant::now();
    matcher.add_report_block((sid(1), &"key-1".into()), (sid(2), &"key-2".into()), now);
    assert!(matcher.enqueue(candidate(1, None, &[]), now).is_none());
    assert!(matcher.enqueue(candidate(2, None, &[]), now).is_none());
    matcher.cancel(sid(2));
    // A new session from the reported key is still kept away from 1.
    let mut again = candidate(3, None, &[]);
    again.client_key = "key-2".into();
    assert!(matcher.enqueue(again, now).is_none());
    assert_eq!(matcher.waiting(), 2);
    // Anyone else pairs with the oldest of them.
    assert_eq!(
        pair_of(&matcher.enqueue(candidate(4, None, &[]), now).unwrap()),
        (1, 4)
    );
}

#[test]
fn key_blocks_do_not_apply_between_sessions_sharing_a_key() {
    let mut matcher = Matcher::new(config());
    let now = Instant::now();
    let shared: ClientKey = "nat".into();
    matcher.add_report_block((sid(1), &shared), (sid(2), &"key-2".into()), now);
    let mut first = candidate(3, None, &[]);
    first.client_key = shared.clone();
    let mut second = candidate(4, None, &[]);
    second.client_key = shared;
    assert!(matcher.enqueue(first, now).is_none());
    assert!(matcher.enqueue(second, now).is_some());
}

#[test]
fn a_key_block_expires_and_the_waiting_sessions_are_paired() {
    let mut matcher = Matcher::new(config());
    let now = Instant::now();
    matcher.add_report_block((sid(1), &"key-1".into()), (sid(2), &"key-2".into()), now);
    let mut a = candidate(3, None, &[]);
    a.client_key = "key-1".into();
    let mut b = candidate(4, None, &[]);
    b.client_key = "key-2".into();
    assert!(matcher.enqueue(a, now).is_none());
    assert!(matcher.enqueue(b, now).is_none());
    let pairings = matcher.tick(now + Duration::from_secs(3600));
    assert_eq!(pairings.len(), 1);
    assert_eq!(pair_of(&pairings[0]), (3, 4));
}

#[test]
fn forgetting_a_session_drops_its_session_blocks() {
    let mut matcher = Matcher::new(config());
    let now = Instant::now();
    matcher.add_report_block((sid(1), &"k".into()), (sid(2), &"k".into()), now);
    assert_eq!(matcher.exclusions.len(), 1);
    matcher.forget(sid(2));
    assert_eq!(matcher.exclusions.len(), 0);
}

#[test]
fn cancel_removes_a_waiting_session_from_every_list() {
    let mut matcher = Matcher::new(config());
    let now = Instant::now();
    assert!(
        matcher
            .enqueue(candidate(1, Some("ko"), &["music", "art"]), now)
            .is_none()
    );
    assert!(matcher.cancel(sid(1)));
    assert!(!matcher.cancel(sid(1)));
    assert_eq!(matcher.labels.len(), 0, "labels and their lists are freed");
    assert!(
        matcher
            .enqueue(candidate(2, Some("ko"), &["music"]), now)
            .is_none()
    );
    // The stale promotion of session 1 does nothing.
    assert!(matcher.tick(now + Duration::from_secs(5)).is_empty());
}

#[test]
fn skipping_excluded_heads_finds_the_next_eligible_partner() {
    let mut matcher = Matcher::new(config());
    let now = Instant::now();
    for n in 1..=5 {
        // Distinct langs would not pair; give everyone the same lang but
        // keep them apart from each other with cooldowns.
        for m in 1..n {
            matcher.add_cooldown(sid(m), sid(n), now);
        }
        assert!(
            matcher
                .enqueue(candidate(n, Some("ko"), &[]), now)
                .is_none()
        );
    }
    for m in 1..=3 {
        matcher.add_cooldown(sid(m), sid(9), now);
    }
    let pairing = matcher.enqueue(candidate(9, Some("ko"), &[]), now).unwrap();
    assert_eq!(pair_of(&pairing), (4, 9));
}

#[test]
fn a_zero_interest_wait_makes_everyone_eligible_at_once() {
    let mut matcher = Matcher::new(MatcherConfig {
        interest_wait: Duration::ZERO,
        ..config()
    });
    let now = Instant::now();
    assert!(
        matcher
            .enqueue(candidate(1, None, &["music"]), now)
            .is_none()
    );
    let pairing = matcher
        .enqueue(candidate(2, None, &["books"]), now)
        .unwrap();
    assert!(pairing.common_interests.is_empty());
}

#[test]
fn a_promoted_session_that_waited_longer_comes_before_a_newer_one_without_interests() {
    let mut matcher = Matcher::new(config());
    let start = Instant::now();
    // 1 waits with an interest; 2 arrives later without any; they are kept
    // apart by a cooldown so both stay waiting.
    matcher.add_cooldown(sid(1), sid(2), start);
    assert!(
        matcher
            .enqueue(candidate(1, None, &["music"]), start)
            .is_none()
    );
    let later = start + Duration::from_secs(1);
    assert!(matcher.enqueue(candidate(2, None, &[]), later).is_none());
    // 1 becomes eligible with anyone, after 2 joined the fallback list.
    assert!(matcher.tick(start + Duration::from_secs(5)).is_empty());
    let pairing = matcher
        .enqueue(candidate(3, None, &[]), start + Duration::from_secs(6))
        .unwrap();
    assert_eq!(pair_of(&pairing), (1, 3), "1 has waited longest");
}

#[test]
fn stale_promotions_do_not_pile_up_with_a_long_interest_wait() {
    let mut matcher = Matcher::new(MatcherConfig {
        interest_wait: Duration::from_secs(3600),
        ..config()
    });
    let now = Instant::now();
    for n in 0..10_000 {
        assert!(
            matcher
                .enqueue(candidate(n, None, &["music"]), now)
                .is_none()
        );
        assert!(matcher.cancel(sid(n)));
    }
    assert!(
        matcher.promotions.len() <= 1024 + 1,
        "{}",
        matcher.promotions.len()
    );
}
