//! Follow-ups, suggestions, statistics and goals: the rows each needs, gathered in a fixed
//! number of statements (never one per contact), the independent ones run together, then
//! handed to the rules in `domain`. Each holds a `Db::whole_network` permit while it works.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::{ask, contact, conversation, conversation_participant, user, value_offer};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use uuid::Uuid;

use super::relationships::{all_histories, first_conversations};
use crate::db::Db;
use crate::domain::follow_ups::{self, FollowUp, FollowUpKey, FollowUpKind};
use crate::domain::records::{AskStatus, OfferStatus, ThankYouStatus};
use crate::domain::relationship::{self, History, Relationship, Today};
use crate::domain::stats::{self, Granularity, Held, Tally};
use crate::domain::suggestions::{self, Idea, Score};
use crate::error::ApiError;

/// An ask still `asked`: id, contact, `asked_at`, `created_at`, title.
type OpenAsk = (Uuid, Uuid, Option<DateTime<Utc>>, DateTime<Utc>, String);

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

/// The part of the follow-up list a caller will show: the items after `after` in list order,
/// `limit` of them.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub after: Option<FollowUpKey>,
    pub limit: usize,
}

/// Every follow-up due within `within_days` of today (overdue ones included) of the kinds in
/// `kinds` (all when empty), in list order; with a `window`, possibly without thank-yous
/// beyond it, but with every item of the window and the one after it. Archived contacts have
/// none. Up to eight statements, each reading only the owner's rows of one table; all but
/// one run together. A thank-you's `detail` (its conversation's summary) is left empty:
/// [`describe`] fills it in for the items that will be shown, so a user owing thousands of
/// notes reads only a page of texts.
pub async fn follow_ups(
    db: &Db,
    owner_id: Uuid,
    today: &Today,
    within_days: i64,
    kinds: &[FollowUpKind],
    window: Option<Window>,
) -> Result<Vec<FollowUp>, ApiError> {
    use conversation::Column as C;
    use conversation_participant::Column as P;

    let _permit = db.whole_network().await?;
    let conn = db.reader();
    let wanted = |kind| kinds.is_empty() || kinds.contains(&kind);
    let date = today.date();
    let next_steps = conversation::Entity::find()
        .select_only()
        .filter(C::OwnerId.eq(owner_id))
        .filter(C::NextStep.is_not_null())
        .filter(C::NextStepDoneAt.is_null())
        .filter(C::NextStepDueOn.lte(relationship::add_days(date, within_days)));
    let steps = when(
        wanted(FollowUpKind::NextStep),
        next_steps
            .clone()
            .columns([C::Id, C::NextStepDueOn, C::NextStep])
            .into_tuple::<(Uuid, NaiveDate, String)>()
            .all(conn),
    );
    let next_steps = next_steps.column(C::Id);
    let ideas = when(
        wanted(FollowUpKind::DeliverOffer),
        value_offer::Entity::find()
            .select_only()
            .column(value_offer::Column::Id)
            .column(value_offer::Column::ContactId)
            .column(value_offer::Column::CreatedAt)
            .column(value_offer::Column::Title)
            .filter(value_offer::Column::OwnerId.eq(owner_id))
            .filter(value_offer::Column::Status.eq(OfferStatus::Idea.as_str()))
            .into_tuple::<(Uuid, Uuid, DateTime<Utc>, String)>()
            .all(conn),
    );
    let open = when(
        wanted(FollowUpKind::AskFollowUp),
        ask::Entity::find()
            .select_only()
            .column(ask::Column::Id)
            .column(ask::Column::ContactId)
            .column(ask::Column::AskedAt)
            .column(ask::Column::CreatedAt)
            .column(ask::Column::Title)
            .filter(ask::Column::OwnerId.eq(owner_id))
            .filter(ask::Column::Status.eq(AskStatus::Asked.as_str()))
            .into_tuple::<OpenAsk>()
            .all(conn),
    );
    let owed = async {
        if wanted(FollowUpKind::ThankYou) {
            owed_thank_yous(conn, owner_id, today, window).await
        } else {
            Ok(Vec::new())
        }
    };
    let steps_by = when(
        wanted(FollowUpKind::NextStep),
        conversation_participant::Entity::find()
            .select_only()
            .columns([P::ConversationId, P::ContactId])
            .filter(P::ConversationId.in_subquery(next_steps.clone().into_query()))
            .into_tuple::<(Uuid, Uuid)>()
            .all(conn),
    );
    let (roster, owed, steps, steps_by, ideas, open) = tokio::try_join!(
        roster(conn, owner_id, today),
        owed,
        steps,
        steps_by,
        ideas,
        open
    )?;
    let names: HashMap<Uuid, &str> = roster
        .iter()
        .map(|(m, _)| (m.id, m.full_name.as_str()))
        .collect();
    let by_conversation = |rows: Vec<(Uuid, Uuid)>| {
        let mut map: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (conversation_id, contact_id) in rows {
            map.entry(conversation_id).or_default().push(contact_id);
        }
        map
    };
    let steps_by = by_conversation(steps_by);
    let mut items = Vec::new();
    let mut push = |kind, due_on, contact_id: Uuid, source_id, detail: Option<String>| {
        if let Some(name) = names.get(&contact_id)
            && follow_ups::in_window(due_on, date, within_days)
        {
            items.push(FollowUp {
                kind,
                due_on,
                contact_id,
                contact_name: (*name).to_owned(),
                source_id,
                detail,
            });
        }
    };

    if wanted(FollowUpKind::CheckIn) {
        for (m, next) in &roster {
            if let Some(next) = *next {
                push(FollowUpKind::CheckIn, next, m.id, m.id, None);
            }
        }
    }
    if wanted(FollowUpKind::ThankYou) {
        // One per participant: each person gets their own note.
        for (conversation_id, contact_id, at) in owed {
            let due = follow_ups::thank_you_due(today.date_of(at));
            push(
                FollowUpKind::ThankYou,
                due,
                contact_id,
                conversation_id,
                None,
            );
        }
    }
    if wanted(FollowUpKind::NextStep) {
        // One per conversation, under its participant who comes first by name.
        for (conversation_id, due, step) in steps {
            let first = steps_by
                .get(&conversation_id)
                .into_iter()
                .flatten()
                .filter_map(|id| Some((names.get(id)?.to_lowercase(), *id)))
                .min();
            if let Some((_, contact_id)) = first {
                push(
                    FollowUpKind::NextStep,
                    due,
                    contact_id,
                    conversation_id,
                    Some(step),
                );
            }
        }
    }
    if wanted(FollowUpKind::DeliverOffer) {
        for (id, contact_id, created_at, title) in ideas {
            let due = follow_ups::deliver_offer_due(today.date_of(created_at));
            push(FollowUpKind::DeliverOffer, due, contact_id, id, Some(title));
        }
    }
    if wanted(FollowUpKind::AskFollowUp) {
        for (id, contact_id, asked_at, created_at, title) in open {
            let asked_on = today.date_of(asked_at.unwrap_or(created_at));
            let due = follow_ups::ask_follow_up_due(asked_on);
            push(FollowUpKind::AskFollowUp, due, contact_id, id, Some(title));
        }
    }
    follow_ups::sort(&mut items);
    Ok(items)
}

/// The owed thank-yous, one row per participant who is a current contact: conversation,
/// contact, when it happened. Read from the participant rows' copies of the conversation's
/// date and status (their covering index; no conversation row is read).
///
/// A user may owe thousands, and a window shows a few, so with a window only the rows that
/// can reach it are returned. A thank-you is due the day after its conversation, so list
/// order follows `occurred_at` from one local date to the next: the window needs every row
/// from the cursor's date to the date of the `limit + 1`-th row past the cursor. One
/// statement reads twice that many rows in time order from the cursor's date; when they
/// reach past that date, they are enough. Otherwise (a date with more rows than that), a
/// first statement finds the `limit + 1`-th row's time and a second reads up to the end of
/// its date. Dates are local to the user, so UTC bounds are widened by a day, which only adds
/// rows that the caller's own cursor check and truncation then drop.
async fn owed_thank_yous(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    today: &Today,
    window: Option<Window>,
) -> Result<Vec<(Uuid, Uuid, DateTime<Utc>)>, ApiError> {
    use conversation_participant::Column as P;

    let current = contact::Entity::find()
        .select_only()
        .column(contact::Column::Id)
        .filter(contact::Column::OwnerId.eq(owner_id))
        .filter(contact::Column::ArchivedAt.is_null())
        .into_query();
    let owed = || {
        conversation_participant::Entity::find()
            .select_only()
            .filter(P::OwnerId.eq(owner_id))
            .filter(P::ThankYouStatus.eq(ThankYouStatus::Owed.as_str()))
            .filter(P::OccurredAt.lte(today.now))
            .filter(P::ContactId.in_subquery(current.clone()))
    };
    let mut rows = owed().columns([P::ConversationId, P::ContactId, P::OccurredAt]);
    if let Some(window) = window {
        let day = Duration::days(1);
        // The cursor's item is due on its date; its conversation happened the day before.
        let cursor_date = window
            .after
            .map(|(due, ..)| midnight(relationship::add_days(due, -1)));
        let from = cursor_date.and_then(|d| d.checked_sub_signed(day));
        let wanted = window.limit + 1;
        let mut first = rows.clone().order_by_asc(P::OccurredAt);
        if let Some(from) = from {
            first = first.filter(P::OccurredAt.gte(from));
        }
        let first = first
            .limit(2 * wanted as u64)
            .into_tuple::<(Uuid, Uuid, DateTime<Utc>)>()
            .all(conn)
            .await?;
        if first.len() < 2 * wanted {
            return Ok(first);
        }
        let past_cursor: Vec<NaiveDate> = first
            .iter()
            .filter(|(conversation, contact, at)| {
                let due = follow_ups::thank_you_due(today.date_of(*at));
                let key = (due, FollowUpKind::ThankYou, *conversation, *contact);
                window.after.is_none_or(|after| key > after)
            })
            .map(|(.., at)| today.date_of(*at))
            .collect();
        let reached = past_cursor.get(wanted - 1).zip(first.last());
        if reached.is_some_and(|(needed, (.., last))| today.date_of(*last) > *needed) {
            return Ok(first);
        }
        let past_cursor_date = cursor_date.and_then(|d| d.checked_add_signed(day * 2));
        let mut later = owed()
            .column(P::OccurredAt)
            .order_by_asc(P::OccurredAt)
            .offset(window.limit as u64)
            .limit(1);
        if let Some(past) = past_cursor_date {
            later = later.filter(P::OccurredAt.gte(past));
        }
        let last = later.into_tuple::<DateTime<Utc>>().one(conn).await?;
        let until = last.and_then(|at| midnight(today.date_of(at)).checked_add_signed(day * 2));
        if let Some(from) = from {
            rows = rows.filter(P::OccurredAt.gte(from));
        }
        if let Some(until) = until {
            rows = rows.filter(P::OccurredAt.lt(until));
        }
    }
    Ok(rows
        .into_tuple::<(Uuid, Uuid, DateTime<Utc>)>()
        .all(conn)
        .await?)
}

/// The first instant of `date` in UTC.
fn midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Fills in the summary of each thank-you item's conversation: one statement per thousand
/// conversations (a page needs one), none when `items` has no thank-you.
pub async fn describe(db: &Db, owner_id: Uuid, items: &mut [FollowUp]) -> Result<(), ApiError> {
    use conversation::Column as C;

    let mut ids: Vec<Uuid> = items
        .iter()
        .filter(|i| i.kind == FollowUpKind::ThankYou)
        .map(|i| i.source_id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort_unstable();
    ids.dedup();
    let mut summaries: HashMap<Uuid, String> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        // Looked up by primary key, the owner checked on each row: with `owner_id = ?` in the
        // statement, SQLite's planner walked all of the owner's conversations instead.
        let rows = conversation::Entity::find()
            .select_only()
            .columns([C::Id, C::OwnerId, C::Summary])
            .filter(C::Id.is_in(chunk.iter().copied()))
            .into_tuple::<(Uuid, Uuid, String)>()
            .all(db.reader())
            .await?;
        summaries.extend(
            rows.into_iter()
                .filter(|(_, owner, _)| *owner == owner_id)
                .map(|(id, _, summary)| (id, summary)),
        );
    }
    for item in items.iter_mut() {
        if item.kind == FollowUpKind::ThankYou {
            item.detail = summaries.get(&item.source_id).cloned();
        }
    }
    Ok(())
}

/// The rows of `query` when `wanted`; none, without a statement, otherwise.
async fn when<T>(
    wanted: bool,
    query: impl Future<Output = Result<Vec<T>, DbErr>>,
) -> Result<Vec<T>, ApiError> {
    if wanted {
        Ok(query.await?)
    } else {
        Ok(Vec::new())
    }
}

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
        .filter(contact::Column::OwnerId.eq(owner_id))
        .filter(contact::Column::Id.is_in(scored.iter().map(|(m, ..)| m.id)))
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
                topics: super::decode_json("value_offer.topics", &topics)?,
                created_at,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    let chosen: Vec<Option<Uuid>> = scored
        .iter()
        .map(|(contact, ..)| {
            let interests: Vec<String> = match interests.get(&contact.id) {
                Some(stored) => super::decode_json("contact.interests", stored)?,
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

/// Statistics of a range: one tally per bucket, then the whole range.
pub struct Stats {
    pub buckets: Vec<(NaiveDate, NaiveDate, Tally)>,
    pub total: Tally,
}

/// What happened between `from` and `to` (local dates, inclusive). Four statements.
pub async fn stats(
    db: &Db,
    owner_id: Uuid,
    today: &Today,
    from: NaiveDate,
    to: NaiveDate,
    granularity: Granularity,
) -> Result<Stats, ApiError> {
    let activity = Activity::load(db, owner_id, today, from, to).await?;
    let buckets = stats::buckets(from, to, granularity)
        .into_iter()
        .map(|(start, end)| (start, end, activity.tally(start, end)))
        .collect();
    Ok(Stats {
        buckets,
        total: activity.tally(from, to),
    })
}

/// The dated records of a range of local dates.
struct Activity {
    held: Vec<Held>,
    first_met: HashMap<Uuid, NaiveDate>,
    offered: Vec<NaiveDate>,
    asked: Vec<NaiveDate>,
}

impl Activity {
    /// Reads the conversations, offers and asks of the range with a day more on each side in
    /// UTC, and each contact's first conversation, then keeps what falls on the local dates:
    /// no time-zone arithmetic in SQL. Four statements, run together.
    async fn load(
        db: &Db,
        owner_id: Uuid,
        today: &Today,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Self, ApiError> {
        let _permit = db.whole_network().await?;
        let conn = db.reader();
        let start = from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let start = start.checked_sub_signed(Duration::days(1)).unwrap_or(start);
        let end = to.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let end = end
            .checked_add_signed(Duration::days(2))
            .unwrap_or(end)
            .min(today.now);
        let inside = |d: &NaiveDate| (from..=to).contains(d);

        let offered = value_offer::Entity::find()
            .select_only()
            .column(value_offer::Column::OfferedAt)
            .filter(value_offer::Column::OwnerId.eq(owner_id))
            .filter(value_offer::Column::OfferedAt.gte(start))
            .filter(value_offer::Column::OfferedAt.lte(end))
            .into_tuple::<DateTime<Utc>>()
            .all(conn);
        let asked = ask::Entity::find()
            .select_only()
            .column(ask::Column::AskedAt)
            .filter(ask::Column::OwnerId.eq(owner_id))
            .filter(ask::Column::AskedAt.gte(start))
            .filter(ask::Column::AskedAt.lte(end))
            .into_tuple::<DateTime<Utc>>()
            .all(conn);
        // Conversations from the participant rows' copies of their date and thank-you status.
        use conversation_participant::Column as P;
        let rows = conversation_participant::Entity::find()
            .select_only()
            .columns([
                P::ConversationId,
                P::ContactId,
                P::OccurredAt,
                P::ThankYouStatus,
            ])
            .filter(P::OwnerId.eq(owner_id))
            .filter(P::OccurredAt.gte(start))
            .filter(P::OccurredAt.lte(end))
            .into_tuple::<(Uuid, Uuid, DateTime<Utc>, String)>()
            .all(conn);
        let (rows, first, offered, asked) = tokio::try_join!(
            async { Ok::<_, ApiError>(rows.await?) },
            first_conversations(conn, owner_id, today.now),
            async { Ok::<_, ApiError>(offered.await?) },
            async { Ok::<_, ApiError>(asked.await?) },
        )?;
        let mut by_conversation: BTreeMap<Uuid, Held> = BTreeMap::new();
        for (conversation_id, contact_id, at, status) in rows {
            let on = today.date_of(at);
            if !inside(&on) {
                continue;
            }
            let thank_you = super::decode(
                "conversation.thank_you_status",
                &status,
                ThankYouStatus::from_stored,
            )?;
            by_conversation
                .entry(conversation_id)
                .or_insert_with(|| Held {
                    on,
                    thank_you,
                    participants: Vec::new(),
                })
                .participants
                .push(contact_id);
        }
        let held = by_conversation.into_values().collect();
        let first_met = first
            .into_iter()
            .map(|(id, first)| (id, today.date_of(first)))
            .filter(|(_, on)| inside(on))
            .collect();

        let dates = |instants: Vec<DateTime<Utc>>| -> Vec<NaiveDate> {
            instants
                .into_iter()
                .map(|at| today.date_of(at))
                .filter(inside)
                .collect()
        };
        Ok(Self {
            held,
            first_met,
            offered: dates(offered),
            asked: dates(asked),
        })
    }

    fn tally(&self, from: NaiveDate, to: NaiveDate) -> Tally {
        stats::tally(
            from,
            to,
            &self.held,
            &self.first_met,
            &self.offered,
            &self.asked,
        )
    }
}

/// This week's progress against the owner's goals.
pub struct Goals {
    pub week_starts_on: NaiveDate,
    pub conversation_goal: u32,
    pub new_people_goal: u32,
    pub this_week: Tally,
    pub streak_weeks: u32,
}

/// Up to two years of weekly conversation counts back from this week, for the streak.
pub async fn goals(db: &Db, owner_id: Uuid, today: &Today) -> Result<Goals, ApiError> {
    let conn = db.reader();
    let account = user::Entity::find_by_id(owner_id)
        .one(conn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let date = today.date();
    let this_week = stats::week_start(date);
    let earliest = relationship::add_days(this_week, -7 * 104);
    let first_week = stats::week_start(today.date_of(account.created_at)).max(earliest);
    let activity = Activity::load(db, owner_id, today, earliest, date).await?;
    let mut by_week: BTreeMap<NaiveDate, u32> = BTreeMap::new();
    for held in &activity.held {
        *by_week.entry(stats::week_start(held.on)).or_default() += 1;
    }
    let conversation_goal = u32::try_from(account.weekly_conversation_goal).unwrap_or(0);
    Ok(Goals {
        week_starts_on: this_week,
        conversation_goal,
        new_people_goal: u32::try_from(account.weekly_new_people_goal).unwrap_or(0),
        this_week: activity.tally(this_week, date),
        streak_weeks: stats::streak(&by_week, this_week, first_week, conversation_goal),
    })
}
