//! The crate's error type.

/// What can go wrong talking to Kafka.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is wrong; `flag` names it as the server spells it.
    #[error("invalid setting --{flag}: {reason}")]
    Config {
        /// The flag, without dashes.
        flag: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An existing topic does not have the layout QuickTalk needs.
    #[error(
        "topic {topic} has {found} {what}, but --kafka-{} is {expected}; \
         change the setting to match, or create the topic again (deleting its events)",
        .what.replace(' ', "-")
    )]
    Layout {
        /// The topic.
        topic: String,
        /// `partitions` or `replication`.
        what: &'static str,
        /// What the settings ask for.
        expected: i64,
        /// What the broker has.
        found: i64,
    },
    /// The brokers could not be reached or refused a request.
    #[error("kafka ({action}): {source}{}", unreachable_hint(source))]
    Kafka {
        /// What was being done.
        action: &'static str,
        /// The client's error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// A message on a topic is not a QuickTalk event this version reads.
    #[error("undecodable event at {topic}/{partition}@{offset}: {reason}")]
    Decode {
        /// Where it is.
        topic: String,
        /// Its partition.
        partition: i32,
        /// Its offset.
        offset: i64,
        /// Why.
        reason: String,
    },
}

impl Error {
    pub(crate) fn config(flag: &'static str, reason: impl Into<String>) -> Self {
        Self::Config {
            flag,
            reason: reason.into(),
        }
    }

    pub(crate) fn kafka(action: &'static str) -> impl FnOnce(rdkafka::error::KafkaError) -> Self {
        move |source| Self::Kafka { action, source }
    }
}

/// For the errors that mean no broker answered (a timeout, a refused or
/// unresolvable address), what to check: the client's own words
/// (`OperationTimedOut` while creating topics) read like a topic problem.
fn unreachable_hint(source: &rdkafka::error::KafkaError) -> &'static str {
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode as Code;
    let code = match source {
        // Admin errors keep their code to themselves.
        KafkaError::AdminOp(code) => Some(*code),
        other => other.rdkafka_error_code(),
    };
    match code {
        Some(
            Code::OperationTimedOut
            | Code::RequestTimedOut
            | Code::AllBrokersDown
            | Code::BrokerTransportFailure
            | Code::Resolve
            | Code::TimedOutQueue,
        ) => {
            " (no broker answered: check the broker addresses and that a broker is up and reachable)"
        }
        _ => "",
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode;

    use super::*;

    #[test]
    fn an_unanswered_request_says_to_check_the_brokers() {
        let timed_out = Error::kafka("creating topics")(KafkaError::AdminOp(
            RDKafkaErrorCode::OperationTimedOut,
        ));
        assert!(
            timed_out.to_string().contains("no broker answered"),
            "{timed_out}"
        );
        let refused = Error::kafka("publishing")(KafkaError::MessageProduction(
            RDKafkaErrorCode::MessageSizeTooLarge,
        ));
        assert!(
            !refused.to_string().contains("no broker answered"),
            "{refused}"
        );
    }
}
