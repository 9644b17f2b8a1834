//! What each phase of the PostgreSQL bench measures.

use crate::child::GroupCpu;
use crate::stats::Latencies;

/// The figures of one phase.
pub(super) struct Figures {
    /// Transactions (pgbench) or stores (Laurel) per second.
    pub(super) rate: f64,
    pub(super) latencies: Latencies,
    pub(super) errors: u64,
    pub(super) error_samples: Vec<String>,
    pub(super) cpu: GroupCpu,
    /// What the database did per transaction, from its statistics views.
    pub(super) per_tx: Option<String>,
    pub(super) notes: Vec<String>,
}
