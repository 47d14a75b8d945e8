//! Follow-ups, suggestions, statistics and goals: the rows each needs, gathered in a fixed
//! number of statements (never one per contact), the independent ones run together, then
//! handed to the rules in `domain`. Each holds a `Db::whole_network` permit while it works.
//! This module holds the network suggestions read; `follow_ups`, `suggestions` and `stats`
//! (statistics and goals) one each.

mod follow_ups;
mod stats;
mod suggestions;

pub use self::follow_ups::{Window, describe, follow_ups};
pub use self::stats::{Goals, Stats, goals, stats};
pub use self::suggestions::{Suggestion, suggestions};

use chrono::{DateTime, Utc};
use entity::contact;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use crate::domain::relationship::{self, History, Relationship, Today};
use crate::error::ApiError;

/// What the rules need of a contact.
pub struct Member {
    pub id: Uuid,
    pub full_name: String,
    pub cadence_days: Option<i32>,
    pub created_at: DateTime<Utc>,
}

/// The owner's contacts that are not archived, with the relationship each has today.
pub struct Network {
    pub contacts: Vec<(Member, Relationship)>,
}

impl Network {
    /// One statement: the contacts with the history their ledger stores. The caller brings
    /// the ledger up to date first (`ledger::catch_up`).
    pub async fn load(
        conn: &impl ConnectionTrait,
        owner_id: Uuid,
        today: &Today,
    ) -> Result<Self, ApiError> {
        let contacts = current_contacts(conn, owner_id)
            .await?
            .into_iter()
            .map(|row| {
                let history = History {
                    conversation_count: row.conversation_count,
                    first_conversation_at: row.first_conversation_at,
                    last_conversation_at: row.last_conversation_at,
                    thank_yous_owed: row.thank_yous_owed,
                    gives: row.gives,
                    asks: row.asks,
                    next_planned_at: row.refresh_at,
                };
                let r = relationship::derive(&history, row.cadence_days, row.created_at, today);
                (row.member(), r)
            })
            .collect();
        Ok(Self { contacts })
    }
}

/// What the rules read of a contact row: the member and its stored ledger.
#[derive(FromQueryResult)]
struct RosterRow {
    id: Uuid,
    full_name: String,
    cadence_days: Option<i32>,
    created_at: DateTime<Utc>,
    conversation_count: i64,
    first_conversation_at: Option<DateTime<Utc>>,
    last_conversation_at: Option<DateTime<Utc>>,
    thank_yous_owed: i64,
    gives: i64,
    asks: i64,
    refresh_at: Option<DateTime<Utc>>,
}

impl RosterRow {
    fn member(self) -> Member {
        Member {
            id: self.id,
            full_name: self.full_name,
            cadence_days: self.cadence_days,
            created_at: self.created_at,
        }
    }
}

/// The owner's contacts that are not archived, the columns of [`RosterRow`] only.
async fn current_contacts(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
) -> Result<Vec<RosterRow>, ApiError> {
    use contact::Column as C;

    Ok(contact::Entity::find()
        .select_only()
        .columns([
            C::Id,
            C::FullName,
            C::CadenceDays,
            C::CreatedAt,
            C::ConversationCount,
            C::FirstConversationAt,
            C::LastConversationAt,
            C::ThankYousOwed,
            C::Gives,
            C::Asks,
            C::RefreshAt,
        ])
        .filter(C::OwnerId.eq(owner_id))
        .filter(C::ArchivedAt.is_null())
        .into_model::<RosterRow>()
        .all(conn)
        .await?)
}
