//! Storage shapes of Rapport, one module per table. No business logic lives here: services turn
//! these models into domain types and DTOs.

/// Per-owner counts by local day, week and month, kept on every write, for statistics.
pub mod activity;
/// What a user requests of a contact.
pub mod ask;
/// Secret feed URLs for calendar apps, stored as SHA-256 hashes (one per user).
pub mod calendar_feed;
/// The people a user knows.
pub mod contact;
/// A contact's tags, one row each, for filtering and counting.
pub mod contact_tag;
/// Coffees, calls, meals, event chats, email threads.
pub mod conversation;
/// Who took part in a conversation (1–50 of the user's contacts).
pub mod conversation_participant;
/// The topics of each value offer still at the `idea` stage, one row each, so suggestions
/// find the oldest ideas on a contact's interests with an index.
pub mod idea_topic;
/// Replayable responses of `POST` requests sent with an `Idempotency-Key`.
pub mod idempotency_key;
/// Long-lived tokens (`rpt_…`) for scripts, stored as SHA-256 hashes.
pub mod personal_token;
/// Rotating refresh tokens, stored as SHA-256 hashes, grouped in families.
pub mod refresh_token;
/// How many contacts carry each tag, per owner, kept on every tag write.
pub mod tag_count;
/// Accounts: one row per person using Rapport.
pub mod user;
/// What a user gives: articles, news, analysis, introductions, help.
pub mod value_offer;
