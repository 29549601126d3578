//! Cluster mode over Kafka: every event of the bus goes to the engine, and
//! each node runs the cluster's matcher for the pools (partitions of the
//! matcher's stream, sharded by language) it owns.
//! The design and the failure table are in `docs/cluster.md`.

use std::sync::Arc;
use std::time::Duration;

use quicktalk_core::Engine;
use quicktalk_core::cluster::{ClusterMatcher, TAKEOVER_HOLD};
use quicktalk_core::matcher::MatcherConfig;
use quicktalk_core::ports::event_bus::{BusEvent, EventBus, Route};
use quicktalk_kafka::{KafkaConfig, MatchReader};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::bus::kafka_error;
use crate::config::ConfigError;

/// Starts cluster mode for `engine` (built with `cluster_node`): the feed
/// from the bus into the engine, and this node's seat in the matcher group.
///
/// # Errors
/// [`ConfigError`] naming `--bus` when the bus cannot be read.
pub(crate) async fn join(
    engine: Engine,
    bus: Arc<dyn EventBus>,
    config: &KafkaConfig,
    matcher: MatcherConfig,
) -> Result<(), ConfigError> {
    let mut events = bus
        .subscribe()
        .await
        .map_err(|error| crate::bus::bus_error(&error.to_string()))?;
    let reader = MatchReader::join(config).await.map_err(kafka_error)?;
    let (nodes_tx, nodes_rx) = mpsc::channel(1024);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if event.route() == Route::Nodes {
                // The matcher follows heartbeats too (a silent node's waits
                // leave the pools); it is never worth blocking the node for.
                let _ = nodes_tx.try_send(event.clone());
            }
            engine.apply_bus_event(event);
        }
        tracing::error!("the bus subscription ended: this node no longer hears the cluster");
    });
    tokio::spawn(run_matcher(reader, bus, nodes_rx, matcher));
    Ok(())
}

/// This node's seat in the matcher group: while it owns pools (partitions)
/// it runs a matcher over them and publishes its proposals.
async fn run_matcher(
    reader: MatchReader,
    bus: Arc<dyn EventBus>,
    mut nodes: mpsc::Receiver<BusEvent>,
    config: MatcherConfig,
) {
    let mut matcher: Option<Owner> = None;
    // The pools (partitions) this node owns; a change starts a new matcher
    // that asks every node for its waits again.
    let mut owned: Vec<i32> = Vec::new();
    let mut check = tokio::time::interval(Duration::from_millis(100));
    let mut failures = quicktalk_kafka::ReadFailures::new("the match topic");
    loop {
        let deadline = matcher
            .as_ref()
            .and_then(|owner| owner.matcher.next_deadline())
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        let now = Instant::now();
        let out = tokio::select! {
            read = reader.recv() => match read {
                Ok(Some(event)) => {
                    failures.recovered();
                    tracing::debug!(?event, "matcher reads");
                    let owner = matcher.get_or_insert_with(|| Owner::new(config));
                    owner.matcher.apply(&event, now)
                }
                Ok(None) => Vec::new(),
                Err(error) => {
                    failures.failed(&error).await;
                    Vec::new()
                }
            },
            Some(event) = nodes.recv() => match matcher.as_mut() {
                Some(owner) => owner.matcher.apply(&event, now),
                None => Vec::new(),
            },
            () = tokio::time::sleep_until(deadline) => match matcher.as_mut() {
                Some(owner) => owner.matcher.tick(Instant::now()),
                None => Vec::new(),
            },
            _ = check.tick() => {
                let now_owned = reader.owned();
                if now_owned != owned {
                    tracing::info!(pools = ?now_owned, "matchmaking pools of this node");
                    owned = now_owned;
                    matcher = None;
                }
                if !owned.is_empty() {
                    let owner = matcher.get_or_insert_with(|| Owner::new(config));
                    owner.ask_if_due(&bus).await;
                    owner.matcher.tick(Instant::now())
                } else {
                    matcher = None;
                    Vec::new()
                }
            }
        };
        if out.is_empty() {
            continue;
        }
        tracing::debug!(proposals = out.len(), "matcher proposes");
        // Proposals are soft: one that cannot be published leaves both
        // sessions out of the pools until their nodes announce them again
        // (after the next matcher change); say so loudly.
        if let Err(error) = bus.publish(&out).await {
            tracing::error!(%error, proposals = out.len(), "could not publish proposals");
        }
    }
}

/// This node's matcher while it owns pools.
struct Owner {
    matcher: ClusterMatcher,
    since: Instant,
    /// How many times the nodes were asked to announce their waits again.
    asked: u8,
}

impl Owner {
    fn new(config: MatcherConfig) -> Self {
        tracing::info!("this node runs matchmaking for its pools");
        let mut matcher = ClusterMatcher::new(config);
        // Nobody is paired before the nodes' exclusions are read again.
        matcher.hold_until(Instant::now() + TAKEOVER_HOLD);
        Self {
            matcher,
            since: Instant::now(),
            asked: 0,
        }
    }

    /// Asks every node to announce its waits and exclusions again: at once,
    /// and again after 1 s and 5 s. A fresh owner's read position is set by
    /// an offset look-up that may finish after the first answers were
    /// published (seen in the tests: the first round skipped); a later
    /// round is read (the matcher ignores a wait it already has).
    async fn ask_if_due(&mut self, bus: &Arc<dyn EventBus>) {
        let after = [
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(5),
        ];
        let due = after
            .get(usize::from(self.asked))
            .is_some_and(|&after| self.since.elapsed() >= after);
        if !due {
            return;
        }
        let ask = BusEvent::Reannounce {
            node: Arc::from("matcher"),
        };
        match bus.publish(&[ask]).await {
            Ok(()) => self.asked += 1,
            Err(error) => {
                tracing::error!(%error, "could not ask the nodes to announce their waits");
            }
        }
    }
}
