//! Validated types and pure rules. Nothing here touches the database or HTTP.

/// Account fields: email, password, display name, time zone.
pub mod account;
/// Tags, interests, topics, links and free text.
pub mod labels;
/// Channels, kinds and statuses of conversations, offers and asks, and their rules.
pub mod records;
/// Entity tags and `If-Match` preconditions.
pub mod version;
