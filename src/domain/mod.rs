//! Validated types and pure rules. Nothing here touches the database or HTTP.

/// Account fields: email, password, display name, time zone.
pub mod account;
/// Activity counts by local day, week and month, and the dated facts that move them.
pub mod activity;
/// The range and form of dates and instants the API accepts.
pub mod dates;
/// The follow-up to-do list: kinds, due dates and order.
pub mod follow_ups;
/// Tags, interests, topics and links.
pub mod labels;
/// Channels, kinds and statuses of conversations, offers and asks, and their rules.
pub mod records;
/// Keep-in-touch health, give/ask balance and one-off contacts.
pub mod relationship;
/// Activity buckets, tallies and goal streaks.
pub mod stats;
/// The next best gestures: scores, reasons and what to bring.
pub mod suggestions;
/// Free text: names, lines and paragraphs, and the characters each may hold.
pub mod text;
/// Entity tags and `If-Match` preconditions.
pub mod version;
