//! The idea to bring each suggested contact: their own oldest idea, else the idea sharing
//! the most topics with their interests (see [`ideas_for`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{ExprTrait, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use crate::error::ApiError;
use crate::services::union_all;

/// Rows per topic of the first read of `idea_topic`; each later read of a topic doubles.
const FIRST_TOPIC_PAGE: u64 = 32;

/// An idea's place on a topic, oldest first: (created_at, offer id).
pub type Place = (DateTime<Utc>, Uuid);

/// The ideas on one topic read so far, oldest first, and whether that is all of them.
#[derive(Default)]
struct TopicStream {
    ideas: Vec<Place>,
    complete: bool,
}

/// What choosing an idea for one contact came to with the streams read so far.
enum Choice {
    Chosen(Option<Uuid>),
    /// These topics must be read further first.
    NeedMore(Vec<String>),
}

/// For each `(own idea, interests)` of a contact, the idea to bring (the rule of
/// `suggestions::suggested_offer`): the contact's own oldest idea, read with the contact;
/// else the idea sharing the most topics with their interests, the oldest on a tie. The
/// second walks the `idea_topic` index of each interest, oldest first, all interests together:
/// an idea's place is the same in every topic it has, so the walk meets each idea once with
/// its exact count of shared topics, and it stops as soon as no idea still to come can share
/// more (an idea on every interest ends it at once). Topics are read in doubling pages, shared
/// by every contact. Contacts whose interests no idea covers fully read every idea on those
/// topics: that part grows with the ideas on them.
pub(super) async fn ideas_for(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    wishes: &[(Option<Uuid>, Vec<String>)],
) -> Result<Vec<Option<Uuid>>, ApiError> {
    let mut streams: HashMap<String, TopicStream> = HashMap::new();
    let mut page = FIRST_TOPIC_PAGE;
    let mut chosen: Vec<Option<Option<Uuid>>> = wishes
        .iter()
        .map(|(own, interests)| match own {
            Some(id) => Some(Some(*id)),
            None if interests.is_empty() => Some(None),
            None => None,
        })
        .collect();
    loop {
        let mut wanted: Vec<String> = Vec::new();
        for (slot, (_, interests)) in chosen.iter_mut().zip(wishes) {
            if slot.is_some() {
                continue;
            }
            match choose(interests, &streams) {
                Choice::Chosen(idea) => *slot = Some(idea),
                Choice::NeedMore(topics) => wanted.extend(topics),
            }
        }
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.is_empty() {
            break;
        }
        read_topics(conn, owner_id, &wanted, page, &mut streams).await?;
        page = page.saturating_mul(2);
    }
    Ok(chosen.into_iter().map(Option::flatten).collect())
}

/// The walk of [`ideas_for`] over the streams read so far.
fn choose(interests: &[String], streams: &HashMap<String, TopicStream>) -> Choice {
    let empty = TopicStream::default();
    let mut topics: Vec<&String> = interests.iter().collect();
    topics.sort_unstable();
    topics.dedup();
    let lanes: Vec<&TopicStream> = topics
        .iter()
        .map(|t| streams.get(*t).unwrap_or(&empty))
        .collect();
    let mut at = vec![0_usize; lanes.len()];
    let mut best: Option<(usize, Uuid)> = None;
    loop {
        let open: Vec<usize> = (0..lanes.len())
            .filter(|&i| !(lanes[i].complete && at[i] == lanes[i].ideas.len()))
            .collect();
        // No idea still to come shares more than the lanes still open; on a tie the older wins.
        if best.is_some_and(|(shared, _)| shared >= open.len()) || open.is_empty() {
            return Choice::Chosen(best.map(|(_, id)| id));
        }
        let unread: Vec<String> = open
            .iter()
            .filter(|&&i| at[i] == lanes[i].ideas.len())
            .map(|&i| topics[i].clone())
            .collect();
        if !unread.is_empty() {
            return Choice::NeedMore(unread);
        }
        let Some(next) = open.iter().map(|&i| lanes[i].ideas[at[i]]).min() else {
            return Choice::Chosen(best.map(|(_, id)| id));
        };
        let mut shared = 0;
        for &i in &open {
            if lanes[i].ideas[at[i]] == next {
                shared += 1;
                at[i] += 1;
            }
        }
        if best.is_none_or(|(most, _)| shared > most) {
            best = Some((shared, next.1));
        }
    }
}

/// Reads up to `page` more ideas of each of `topics` after those already in `streams`, in one
/// statement, and marks a topic complete when fewer came.
async fn read_topics(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    topics: &[String],
    page: u64,
    streams: &mut HashMap<String, TopicStream>,
) -> Result<(), ApiError> {
    let after: Vec<(String, Option<Place>)> = topics
        .iter()
        .map(|t| {
            (
                t.clone(),
                streams.get(t).and_then(|s| s.ideas.last()).copied(),
            )
        })
        .collect();
    let Some(statement) = topic_pages(owner_id, &after, page) else {
        return Ok(());
    };
    let mut counts: HashMap<String, u64> = HashMap::new();
    for row in conn.query_all(&statement).await? {
        let (topic, created_at, id): (String, DateTime<Utc>, Uuid) = row.try_get_many_by_index()?;
        *counts.entry(topic.clone()).or_default() += 1;
        streams
            .entry(topic)
            .or_default()
            .ideas
            .push((created_at, id));
    }
    for topic in topics {
        let read = counts.get(topic).copied().unwrap_or(0);
        let stream = streams.entry(topic.clone()).or_default();
        if read < page {
            stream.complete = true;
        }
    }
    Ok(())
}

/// For each topic, the next `page` ideas on it after the given one (from the first without),
/// oldest first: a range of the index `(owner_id, topic, created_at, offer_id)` each.
pub fn topic_pages(
    owner_id: Uuid,
    topics: &[(String, Option<Place>)],
    page: u64,
) -> Option<SelectStatement> {
    use entity::idea_topic::{Column as T, Entity};
    use sea_orm::sea_query::Expr;

    let arms = topics.iter().map(|(topic, after)| {
        let mut arm = Entity::find()
            .select_only()
            .columns([T::Topic, T::CreatedAt, T::OfferId])
            .filter(T::OwnerId.eq(owner_id))
            .filter(T::Topic.eq(topic.as_str()));
        if let Some((created_at, id)) = after {
            arm = arm.filter(
                Expr::tuple([Expr::col(T::CreatedAt), Expr::col(T::OfferId)])
                    .gt(Expr::tuple([Expr::val(*created_at), Expr::val(*id)])),
            );
        }
        arm.order_by_asc(T::CreatedAt)
            .order_by_asc(T::OfferId)
            .limit(page)
            .into_query()
    });
    union_all("topic", arms)
}
