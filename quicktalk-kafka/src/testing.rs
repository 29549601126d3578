//! Helpers for tests against a real broker.
//!
//! `QUICKTALK_TEST_KAFKA=host:port` points the tests at a broker
//! (`scripts/services.sh up` starts one and prints the variable). Without it
//! the tests say SKIPPED loudly, unless `QUICKTALK_REQUIRE_SERVICES=1` (set
//! by `scripts/test.sh`) makes that a failure.

use crate::config::KafkaConfig;

/// The test broker list, or `None` (after saying so) when the test should skip.
///
/// # Panics
/// When no broker is configured and `QUICKTALK_REQUIRE_SERVICES=1`.
pub fn test_brokers() -> Option<String> {
    match std::env::var("QUICKTALK_TEST_KAFKA") {
        Ok(brokers) if !brokers.is_empty() => Some(brokers),
        _ => {
            if std::env::var_os("QUICKTALK_REQUIRE_SERVICES").is_some_and(|v| v == "1") {
                panic!("QUICKTALK_TEST_KAFKA is not set but QUICKTALK_REQUIRE_SERVICES=1");
            }
            eprintln!(
                "\n*** SKIPPED: no Kafka broker (set QUICKTALK_TEST_KAFKA=host:port; \
                 scripts/services.sh up starts one) ***\n"
            );
            None
        }
    }
}

/// A topic prefix no other test (or test process) uses, so tests never see
/// each other's events.
pub fn unique_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("qt-test-{}-{nanos:x}", std::process::id())
}

/// A configuration on the test broker with a [`unique_prefix`].
pub fn unique_config(brokers: &str, node: &str) -> KafkaConfig {
    let mut config = KafkaConfig::new(brokers, node);
    config.topic_prefix = unique_prefix();
    config.partitions = 3;
    config
}
