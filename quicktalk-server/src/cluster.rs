//! Cluster mode over Kafka: every event of the bus goes to the engine, and
//! the node that owns the matcher's partition runs the cluster's matcher.
//! The design and the failure table are in `docs/cluster.md`.

use std::sync::Arc;
use std::time::Duration;

use quicktalk_core::Engine;
use quicktalk_core::cluster::ClusterMatcher;
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

/// This node's seat in the matcher group: while it owns the partition it
/// runs the cluster's matcher and publishes its proposals.
async fn run_matcher(
    reader: MatchReader,
    bus: Arc<dyn EventBus>,
    mut nodes: mpsc::Receiver<BusEvent>,
    config: MatcherConfig,
) {
    let mut matcher: Option<ClusterMatcher> = None;
    let mut check = tokio::time::interval(Duration::from_millis(250));
    loop {
        let deadline = matcher
            .as_ref()
            .and_then(ClusterMatcher::next_deadline)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        let now = Instant::now();
        let out = tokio::select! {
            read = reader.recv() => match read {
                Ok(Some(event)) => {
                    let owner = take_over(&mut matcher, config, &bus).await;
                    owner.apply(&event, now)
                }
                Ok(None) => Vec::new(),
                Err(error) => {
                    tracing::warn!(%error, "matcher stream read failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Vec::new()
                }
            },
            Some(event) = nodes.recv() => match matcher.as_mut() {
                Some(owner) => owner.apply(&event, now),
                None => Vec::new(),
            },
            () = tokio::time::sleep_until(deadline) => match matcher.as_mut() {
                Some(owner) => owner.tick(Instant::now()),
                None => Vec::new(),
            },
            _ = check.tick() => {
                if reader.owns() {
                    take_over(&mut matcher, config, &bus).await.tick(Instant::now())
                } else {
                    if matcher.take().is_some() {
                        tracing::info!("matchmaking moved to another node");
                    }
                    Vec::new()
                }
            }
        };
        if out.is_empty() {
            continue;
        }
        // Proposals are soft: one that cannot be published leaves both
        // sessions out of the pools until their nodes announce them again
        // (after the next matcher change); say so loudly.
        if let Err(error) = bus.publish(&out).await {
            tracing::error!(%error, proposals = out.len(), "could not publish proposals");
        }
    }
}

/// The matcher, made (and the nodes asked to announce their waits) when this
/// node has just become its owner.
async fn take_over<'m>(
    matcher: &'m mut Option<ClusterMatcher>,
    config: MatcherConfig,
    bus: &Arc<dyn EventBus>,
) -> &'m mut ClusterMatcher {
    if matcher.is_none() {
        tracing::info!("this node runs the cluster's matchmaking");
        let ask = BusEvent::Reannounce {
            node: Arc::from("matcher"),
        };
        if let Err(error) = bus.publish(&[ask]).await {
            tracing::error!(%error, "could not ask the nodes to announce their waits");
        }
    }
    matcher.get_or_insert_with(|| ClusterMatcher::new(config))
}
