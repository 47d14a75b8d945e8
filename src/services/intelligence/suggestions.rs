//! The next best gestures: contacts ranked, each with an idea to bring.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{contact, value_offer};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::db::Db;
use crate::domain::records::OfferStatus;
use crate::domain::relationship::{Relationship, Today};
use crate::domain::suggestions::{self, Idea, Score};
use crate::error::ApiError;
use crate::services::ledger;

use super::{Member, Network};

/// A suggested gesture.
pub struct Suggestion {
    pub contact_id: Uuid,
    pub contact_name: String,
    pub relationship: Relationship,
    pub score: Score,
    pub offer: Option<value_offer::Model>,
}

/// The best `limit` gestures and whether more were found. The network's statements and the
/// `idea` offers' few columns run together, then the picked contacts' interests and the
/// offers chosen for them, whole.
pub async fn suggestions(
    db: &Db,
    owner_id: Uuid,
    today: &Today,
    limit: usize,
) -> Result<(Vec<Suggestion>, bool), ApiError> {
    let _permit = db.whole_network().await?;
    ledger::catch_up(db, owner_id, today.now).await?;
    let conn = db.reader();
    let date = today.date();
    // What choosing an offer needs of every idea; the chosen ones are read whole below.
    let ideas = value_offer::Entity::find()
        .select_only()
        .columns([
            value_offer::Column::Id,
            value_offer::Column::ContactId,
            value_offer::Column::Topics,
            value_offer::Column::CreatedAt,
        ])
        .filter(value_offer::Column::OwnerId.eq(owner_id))
        .filter(value_offer::Column::Status.eq(OfferStatus::Idea.as_str()))
        .into_tuple::<(Uuid, Uuid, serde_json::Value, DateTime<Utc>)>()
        .all(conn);
    let ideas = async { Ok::<_, ApiError>(ideas.await?) };
    let (network, ideas) = tokio::try_join!(Network::load(conn, owner_id, today), ideas)?;
    let mut scored: Vec<(Member, Relationship, Score)> = network
        .contacts
        .into_iter()
        .filter_map(|(m, r)| {
            let score = suggestions::score(&r, m.cadence_days, date)?;
            Some((m, r, score))
        })
        .collect();
    scored.sort_by_cached_key(|(m, r, score)| {
        suggestions::rank_key(score, r.overdue_days(date), &m.full_name, m.id)
    });
    let has_more = scored.len() > limit;
    scored.truncate(limit);

    let interests: HashMap<Uuid, serde_json::Value> = contact::Entity::find()
        .select_only()
        .columns([contact::Column::Id, contact::Column::Interests])
        .filter(contact::Column::Id.is_in(scored.iter().map(|(m, ..)| m.id)))
        .filter(crate::services::unindexed(contact::Column::OwnerId).eq(owner_id))
        .into_tuple::<(Uuid, serde_json::Value)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let summaries: Vec<Idea> = ideas
        .into_iter()
        .map(|(id, contact_id, topics, created_at)| {
            Ok(Idea {
                id,
                contact_id,
                topics: crate::services::decode_json("value_offer.topics", &topics)?,
                created_at,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    let chosen: Vec<Option<Uuid>> = scored
        .iter()
        .map(|(contact, ..)| {
            let interests: Vec<String> = match interests.get(&contact.id) {
                Some(stored) => crate::services::decode_json("contact.interests", stored)?,
                None => Vec::new(),
            };
            Ok(
                suggestions::suggested_offer(contact.id, &interests, &summaries)
                    .map(|idea| idea.id),
            )
        })
        .collect::<Result<_, ApiError>>()?;
    let chosen_ids: Vec<Uuid> = chosen.iter().flatten().copied().collect();
    let offers: HashMap<Uuid, value_offer::Model> = if chosen_ids.is_empty() {
        HashMap::new()
    } else {
        // By primary key, the owner checked below; one that stopped being an idea since the
        // read above is not suggested.
        value_offer::Entity::find()
            .filter(value_offer::Column::Id.is_in(chosen_ids))
            .filter(value_offer::Column::Status.eq(OfferStatus::Idea.as_str()))
            .all(conn)
            .await?
            .into_iter()
            .filter(|o| o.owner_id == owner_id)
            .map(|o| (o.id, o))
            .collect()
    };
    let picked = scored
        .into_iter()
        .zip(chosen)
        .map(|((contact, relationship, score), offer)| Suggestion {
            contact_id: contact.id,
            contact_name: contact.full_name,
            relationship,
            score,
            // Two contacts may be offered the same idea.
            offer: offer.and_then(|id| offers.get(&id).cloned()),
        })
        .collect();
    Ok((picked, has_more))
}
