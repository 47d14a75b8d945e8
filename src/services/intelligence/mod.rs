//! Follow-ups, suggestions, statistics and goals: the rows each needs, gathered in a fixed
//! number of statements (never one per contact), the independent ones run together, then
//! handed to the rules in `domain`. Statistics and goals, and the calendar feed's
//! follow-ups (every overdue item of the network), hold a `Db::whole_network` permit while
//! they work; a follow-ups page and suggestions, whose reads are bounded by the page, do not.

mod follow_ups;
pub mod stats;
pub mod suggestions;

pub use self::follow_ups::{Window, follow_ups, stream_statements};
pub use self::stats::{Goals, Stats, goals, stats};
pub use self::suggestions::{Suggestion, suggestions};
