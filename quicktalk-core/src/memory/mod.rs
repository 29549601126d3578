//! In-memory implementations of the ports: the defaults for tests and for
//! embedders who need no persistence. Every crate tests against these same
//! fakes.

mod bus;
mod store;

pub use bus::MemoryEventBus;
pub use store::MemoryChatStore;
