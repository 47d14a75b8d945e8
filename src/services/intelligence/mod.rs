//! Follow-ups, suggestions, statistics and goals: the rows each needs, gathered in a fixed
//! number of statements (never one per contact), the independent ones run together, then
//! handed to the rules in `domain`. Each holds a `Db::whole_network` permit while it works.
//! This module holds the roster every one of them reads; `follow_ups`, `suggestions` and
//! `stats` (statistics and goals) one each.

mod follow_ups;
mod stats;
mod suggestions;

pub use self::follow_ups::{Window, describe, follow_ups};
pub use self::stats::{Goals, Stats, goals, stats};
pub use self::suggestions::{Suggestion, suggestions};

use chrono::{DateTime, NaiveDate, Utc};
use entity::{contact, conversation_participant};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::relationships::all_histories;
use crate::domain::relationship::{self, History, Relationship, Today};
use crate::error::ApiError;

/// A contact of the roster: id, name, cadence, `created_at`, last past conversation.
type RosterRow = (
    Uuid,
    String,
    Option<i32>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

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
    /// Two statements, run together: the contacts, and the union of their histories.
    pub async fn load(
        conn: &impl ConnectionTrait,
        owner_id: Uuid,
        today: &Today,
    ) -> Result<Self, ApiError> {
        use contact::Column as C;

        let members = contact::Entity::find()
            .select_only()
            .columns([C::Id, C::FullName, C::CadenceDays, C::CreatedAt])
            .filter(C::OwnerId.eq(owner_id))
            .filter(C::ArchivedAt.is_null())
            .into_tuple::<(Uuid, String, Option<i32>, DateTime<Utc>)>()
            .all(conn);
        let members = async { Ok::<_, ApiError>(members.await?) };
        let (members, mut histories) =
            tokio::try_join!(members, all_histories(conn, owner_id, today.now))?;
        let contacts = members
            .into_iter()
            .map(|(id, full_name, cadence_days, created_at)| {
                let history = histories.remove(&id).unwrap_or_default();
                let r = relationship::derive(&history, cadence_days, created_at, today);
                let member = Member {
                    id,
                    full_name,
                    cadence_days,
                    created_at,
                };
                (member, r)
            })
            .collect();
        Ok(Self { contacts })
    }
}

/// The owner's current contacts, each with the date it is next due a check-in: all that the
/// follow-up list needs of the network. One statement, one row per contact; each contact's
/// last past conversation is a seek to the end of its range of the participant index, where
/// the whole history (`Network::load`) scans and groups every participant row.
async fn roster(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    today: &Today,
) -> Result<Vec<(Member, Option<NaiveDate>)>, ApiError> {
    use contact::Column as C;
    use conversation_participant::Column as P;
    use sea_orm::sea_query::{Expr, ExprTrait, Query};

    let participant = |column| (conversation_participant::Entity, column);
    let last_conversation = Query::select()
        .expr(Expr::col(participant(P::OccurredAt)).max())
        .from(conversation_participant::Entity)
        .and_where(Expr::col(participant(P::OwnerId)).equals((contact::Entity, C::OwnerId)))
        .and_where(Expr::col(participant(P::ContactId)).equals((contact::Entity, C::Id)))
        .and_where(Expr::col(participant(P::OccurredAt)).lte(today.now))
        .to_owned();
    let rows = contact::Entity::find()
        .select_only()
        .columns([C::Id, C::FullName, C::CadenceDays, C::CreatedAt])
        .expr(Expr::from(last_conversation))
        .filter(C::OwnerId.eq(owner_id))
        .filter(C::ArchivedAt.is_null())
        .into_tuple::<RosterRow>()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, full_name, cadence_days, created_at, last_conversation_at)| {
                // The same rule as the relationship's, from the one part of history it reads.
                let history = History {
                    last_conversation_at,
                    ..History::default()
                };
                let next = relationship::derive(&history, cadence_days, created_at, today)
                    .next_check_in_on;
                let member = Member {
                    id,
                    full_name,
                    cadence_days,
                    created_at,
                };
                (member, next)
            },
        )
        .collect())
}
