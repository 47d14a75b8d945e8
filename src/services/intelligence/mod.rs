//! Follow-ups, suggestions, statistics and goals: the rows each needs, gathered in a fixed
//! number of statements (never one per contact), the independent ones run together, then
//! handed to the rules in `domain`. Each holds a `Db::whole_network` permit while it works.
//! `follow_ups`, `suggestions` and `stats` (statistics and goals) hold one each.

mod follow_ups;
pub mod stats;
pub mod suggestions;

pub use self::follow_ups::{Window, follow_ups, stream_statements};
pub use self::stats::{Goals, Stats, goals, stats};
pub use self::suggestions::{Suggestion, suggestions};
