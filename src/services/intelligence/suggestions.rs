//! The next best gestures: contacts ranked, each with an idea to bring.
//!
//! **Top k from the ledger.** A contact's score is `suggestion_base` (thank-yous owed and
//! taking, stored by the ledger) plus the overdue points of its check-in, which depend on
//! today, `next_check_in_on` and the cadence. Among the due contacts of one base and one
//! cadence, an earlier `next_check_in_on` never scores less and always ranks first on equal
//! scores, so the partial index `(owner_id, suggestion_base, cadence_days, next_check_in_on,
//! name_key, id)` lists each such group in rank order. One statement walks that index from
//! group to group (a loose index scan: two index searches per group, plus one per base
//! level) and returns each group's earliest `next_check_in_on`, hence the group's best score;
//! groups are then read best first, `limit + 1` rows each, until the next group's best is
//! below the `limit + 1`-th score found. Contacts with nothing due score
//! their base alone and rank by name: one more statement reads, for each base that can still
//! enter, its first `limit + 1` by `(suggestion_base, name_key, id)`. That read skips only due
//! contacts of the same base, fewer than `limit + 1` of them (with more, they would all
//! outrank the base and it would not be read). The cost follows the number of distinct
//! (base, cadence) groups and the page, not the network.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use entity::{contact, value_offer};
use sea_orm::sea_query::{ExprTrait, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Statement,
};
use uuid::Uuid;

use crate::db::Db;
use crate::domain::records::OfferStatus;
use crate::domain::relationship::{self, History, Relationship, Today};
use crate::domain::suggestions::{self, Score};
use crate::error::ApiError;
use crate::services::{ledger, unindexed, union_all};

/// A suggested gesture.
pub struct Suggestion {
    pub contact_id: Uuid,
    pub contact_name: String,
    pub relationship: Relationship,
    pub score: Score,
    pub offer: Option<value_offer::Model>,
}

/// The best `limit` gestures and whether more were found: the ranked contacts from the
/// ledger (see the module comment), then their rows by primary key, the ideas chosen for
/// them ([`ideas_for`]), and those offers, whole.
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
    let mut ranked = best(conn, owner_id, date, limit + 1).await?;
    let has_more = ranked.len() > limit;
    ranked.truncate(limit);

    let ids: Vec<Uuid> = ranked.iter().map(|c| c.id).collect();
    let rows = picked_rows(conn, owner_id, &ids).await?;
    let mut rows: HashMap<Uuid, PickedRow> = rows.into_iter().map(|r| (r.id, r)).collect();
    let mut scored = Vec::with_capacity(ranked.len());
    for candidate in &ranked {
        let Some(row) = rows.remove(&candidate.id) else {
            continue;
        };
        let relationship =
            relationship::derive(&row.history(), row.cadence_days, row.created_at, today);
        if let Some(score) = suggestions::score(&relationship, row.cadence_days, date) {
            scored.push((row, relationship, score));
        }
    }
    scored.sort_by_cached_key(|(row, r, score)| {
        suggestions::rank_key(score, r.overdue_days(date), &row.full_name, row.id)
    });

    let wishes = scored
        .iter()
        .map(|(row, ..)| {
            let interests: Vec<String> =
                crate::services::decode_json("contact.interests", &row.interests)?;
            Ok((row.id, interests))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let chosen = ideas_for(conn, owner_id, &wishes).await?;
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
        .map(|((row, relationship, score), offer)| Suggestion {
            contact_id: row.id,
            contact_name: row.full_name,
            relationship,
            score,
            // Two contacts may be offered the same idea.
            offer: offer.and_then(|id| offers.get(&id).cloned()),
        })
        .collect();
    Ok((picked, has_more))
}

/// A contact as the ranking sees it: the ledger columns its score and order need.
#[derive(Clone, Debug, FromQueryResult)]
struct Candidate {
    id: Uuid,
    suggestion_base: i64,
    cadence_days: Option<i32>,
    next_check_in_on: Option<NaiveDate>,
    name_key: String,
}

impl Candidate {
    fn points(&self, today: NaiveDate) -> i64 {
        self.suggestion_base
            + suggestions::overdue_points(self.next_check_in_on, self.cadence_days, today)
    }

    /// The score and overdue parts of `suggestions::rank_key`, from the stored columns.
    fn rank(&self, today: NaiveDate) -> (std::cmp::Reverse<i64>, std::cmp::Reverse<i64>) {
        let overdue_days = self
            .next_check_in_on
            .map_or(0, |next| Ord::max((today - next).num_days(), 0));
        (
            std::cmp::Reverse(self.points(today)),
            std::cmp::Reverse(overdue_days),
        )
    }
}

/// A (base, cadence) group of contacts, with its earliest check-in: its best score.
#[derive(Debug, FromQueryResult)]
struct Group {
    suggestion_base: i64,
    cadence_days: i32,
    next_check_in_on: Option<NaiveDate>,
}

impl Group {
    fn points(&self, today: NaiveDate) -> i64 {
        self.suggestion_base
            + suggestions::overdue_points(self.next_check_in_on, Some(self.cadence_days), today)
    }
}

/// The best `wanted` contacts scoring above 0, best first (see the module comment).
async fn best(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    today: NaiveDate,
    wanted: usize,
) -> Result<Vec<Candidate>, ApiError> {
    let backend = conn.get_database_backend();
    let mut groups: Vec<Group> = Group::find_by_statement(groups(backend, owner_id))
        .all(conn)
        .await?
        .into_iter()
        // A group whose most overdue contact is not due yet has nobody due.
        .filter(|g| g.points(today) > g.suggestion_base)
        .collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.points(today)));

    let mut found: Vec<Candidate> = Vec::new();
    let order = |found: &mut Vec<Candidate>| {
        found.sort_by(|a, b| {
            (a.rank(today), &a.name_key, a.id).cmp(&(b.rank(today), &b.name_key, b.id))
        });
        found.truncate(wanted);
    };
    // The score a newcomer must reach to enter, once `wanted` are found.
    let bar = |found: &[Candidate]| {
        (found.len() >= wanted)
            .then(|| found.last().map(|c| c.points(today)))
            .flatten()
    };
    for group in &groups {
        if bar(&found).is_some_and(|bar| group.points(today) < bar) {
            break;
        }
        found.extend(
            Candidate::find_by_statement(backend.build(&due_in_group(
                owner_id,
                group.suggestion_base,
                group.cadence_days,
                today,
                wanted,
            )))
            .all(conn)
            .await?,
        );
        order(&mut found);
    }
    let bar = bar(&found);
    let levels: Vec<i64> = suggestions::base_levels()
        .into_iter()
        .filter(|base| *base > 0 && bar.is_none_or(|bar| *base >= bar))
        .collect();
    if let Some(statement) = nothing_due(owner_id, &levels, today, wanted) {
        found.extend(
            Candidate::find_by_statement(backend.build(&statement))
                .all(conn)
                .await?,
        );
        order(&mut found);
    }
    Ok(found)
}

/// The columns of [`Candidate`].
fn candidate_columns() -> [contact::Column; 5] {
    use contact::Column as C;
    [
        C::Id,
        C::SuggestionBase,
        C::CadenceDays,
        C::NextCheckInOn,
        C::NameKey,
    ]
}

/// One row per (base, cadence) group of the owner's contacts that are not archived and have
/// a cadence, with the group's earliest `next_check_in_on` ([`Group`]). A recursive walk of
/// the index `idx_contact_suggest_due`: from each base level (cadence 0), one index search
/// finds the next cadence of that base, then one more the group's earliest date.
pub fn groups(backend: DbBackend, owner_id: Uuid) -> Statement {
    // The levels are the domain's own integers, not input.
    let seeds = suggestions::base_levels()
        .iter()
        .map(|base| format!("({base}, 0)"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "WITH RECURSIVE g(b, c) AS ( \
           VALUES {seeds} \
           UNION ALL \
           SELECT g.b, (SELECT n.cadence_days FROM contact AS n \
             WHERE n.owner_id = $1 AND n.archived_at IS NULL AND n.suggestion_base = g.b \
               AND n.cadence_days > g.c \
             ORDER BY n.cadence_days LIMIT 1) \
           FROM g WHERE g.c IS NOT NULL \
         ) \
         SELECT CAST(g.b AS BIGINT) AS suggestion_base, g.c AS cadence_days, \
           (SELECT MIN(m.next_check_in_on) FROM contact AS m \
             WHERE m.owner_id = $1 AND m.archived_at IS NULL AND m.suggestion_base = g.b \
               AND m.cadence_days = g.c) AS next_check_in_on \
         FROM g \
         WHERE g.c > 0"
    );
    let sql = match backend {
        DbBackend::Postgres => sql,
        // SQLite numbers its parameters `?1`.
        _ => sql.replace('$', "?"),
    };
    Statement::from_sql_and_values(backend, sql, [owner_id.into()])
}

/// The first `wanted` due contacts of one (base, cadence) group, in rank order.
pub fn due_in_group(
    owner_id: Uuid,
    base: i64,
    cadence_days: i32,
    today: NaiveDate,
    wanted: usize,
) -> SelectStatement {
    use contact::Column as C;

    contact::Entity::find()
        .select_only()
        .columns(candidate_columns())
        .filter(C::OwnerId.eq(owner_id))
        .filter(C::ArchivedAt.is_null())
        .filter(C::SuggestionBase.eq(base))
        .filter(C::CadenceDays.eq(cadence_days))
        .filter(C::NextCheckInOn.lte(today))
        .order_by_asc(C::NextCheckInOn)
        .order_by_asc(C::NameKey)
        .order_by_asc(C::Id)
        .limit(wanted as u64)
        .into_query()
}

/// For each of `levels`, the first `wanted` contacts of that base with nothing due, by name:
/// one statement, none when there is no level.
pub fn nothing_due(
    owner_id: Uuid,
    levels: &[i64],
    today: NaiveDate,
    wanted: usize,
) -> Option<SelectStatement> {
    use contact::Column as C;
    use sea_orm::Condition;

    let arms = levels.iter().map(|base| {
        contact::Entity::find()
            .select_only()
            .columns(candidate_columns())
            .filter(C::OwnerId.eq(owner_id))
            .filter(C::ArchivedAt.is_null())
            .filter(C::SuggestionBase.eq(*base))
            .filter(
                Condition::any()
                    .add(unindexed(C::CadenceDays).is_null())
                    .add(unindexed(C::NextCheckInOn).gt(today)),
            )
            .order_by_asc(C::NameKey)
            .order_by_asc(C::Id)
            .limit(wanted as u64)
            .into_query()
    });
    union_all("level", arms)
}

/// What a suggestion shows of a picked contact.
#[derive(FromQueryResult)]
struct PickedRow {
    id: Uuid,
    full_name: String,
    cadence_days: Option<i32>,
    created_at: DateTime<Utc>,
    interests: serde_json::Value,
    conversation_count: i64,
    first_conversation_at: Option<DateTime<Utc>>,
    last_conversation_at: Option<DateTime<Utc>>,
    thank_yous_owed: i64,
    gives: i64,
    asks: i64,
    refresh_at: Option<DateTime<Utc>>,
}

impl PickedRow {
    fn history(&self) -> History {
        History {
            conversation_count: self.conversation_count,
            first_conversation_at: self.first_conversation_at,
            last_conversation_at: self.last_conversation_at,
            thank_yous_owed: self.thank_yous_owed,
            gives: self.gives,
            asks: self.asks,
            next_planned_at: self.refresh_at,
        }
    }
}

/// The picked contacts' rows, by primary key with the owner checked on them.
async fn picked_rows(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<PickedRow>, ApiError> {
    use contact::Column as C;

    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(contact::Entity::find()
        .select_only()
        .columns([
            C::Id,
            C::FullName,
            C::CadenceDays,
            C::CreatedAt,
            C::Interests,
            C::ConversationCount,
            C::FirstConversationAt,
            C::LastConversationAt,
            C::ThankYousOwed,
            C::Gives,
            C::Asks,
            C::RefreshAt,
        ])
        .filter(C::Id.is_in(ids.iter().copied()))
        .filter(unindexed(C::OwnerId).eq(owner_id))
        .into_model::<PickedRow>()
        .all(conn)
        .await?)
}

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

/// For each `(contact, interests)`, the idea to bring (the rule of
/// `suggestions::suggested_offer`): the contact's own oldest idea, read by the index on
/// `(owner_id, contact_id, …)`; else the idea sharing the most topics with their interests,
/// the oldest on a tie. The second walks the `idea_topic` index of each interest, oldest first,
/// all interests together: an idea's place is the same in every topic it has, so the walk
/// meets each idea once with its exact count of shared topics, and it stops as soon as no
/// idea still to come can share more (an idea on every interest ends it at once). Topics are
/// read in doubling pages, shared by every contact. Contacts whose interests no idea covers
/// fully read every idea on those topics: that part grows with the ideas on them.
async fn ideas_for(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    wishes: &[(Uuid, Vec<String>)],
) -> Result<Vec<Option<Uuid>>, ApiError> {
    use value_offer::Column as V;

    if wishes.is_empty() {
        return Ok(Vec::new());
    }
    let own: Vec<(Uuid, DateTime<Utc>, Uuid)> = value_offer::Entity::find()
        .select_only()
        .columns([V::ContactId, V::CreatedAt, V::Id])
        .filter(V::OwnerId.eq(owner_id))
        .filter(V::ContactId.is_in(wishes.iter().map(|(id, _)| *id)))
        .filter(unindexed(V::Status).eq(OfferStatus::Idea.as_str()))
        .into_tuple()
        .all(conn)
        .await?;
    let mut oldest_own: HashMap<Uuid, Place> = HashMap::new();
    for (contact_id, created_at, id) in own {
        let entry = oldest_own.entry(contact_id).or_insert((created_at, id));
        *entry = Ord::min(*entry, (created_at, id));
    }
    let mut streams: HashMap<String, TopicStream> = HashMap::new();
    let mut page = FIRST_TOPIC_PAGE;
    let mut chosen: Vec<Option<Option<Uuid>>> = wishes
        .iter()
        .map(|(contact_id, interests)| match oldest_own.get(contact_id) {
            Some((_, id)) => Some(Some(*id)),
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
