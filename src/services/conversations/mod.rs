//! Conversations and who took part in them.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use entity::{conversation, conversation_participant};
use futures_util::future::BoxFuture;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Set,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::contacts::check_references;
use super::owner::{Owner, ZoneMoved};
use super::records::{Record, Rewrite};
use super::{Versioned, keyset_page};
use super::{activity, ledger};
use crate::db::{Db, Txn};
use crate::domain::labels::search_text;
use crate::domain::records::{Channel, InitiatedBy, ThankYouStatus};
use crate::error::ApiError;
use crate::services::idempotency::{self, Completion};

mod participants;

pub use self::participants::with_participants;
use self::participants::{add_own_participants, copy_to_participants, replace_participants};

/// The columns that version a conversation row.
const VERSION: Versioned<conversation::Column> = Versioned {
    id: conversation::Column::Id,
    owner_id: conversation::Column::OwnerId,
    updated_at: conversation::Column::UpdatedAt,
};

/// Everything a client can write about a conversation, validated; the part of its
/// representation between its id and its timestamps.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct ConversationFields {
    /// When it happened; may be in the future for a planned meeting.
    pub occurred_at: DateTime<Utc>,
    pub channel: Channel,
    /// The contacts who took part (1–50).
    // As written by a client: in the order sent, repeats included, so that an error can name
    // an id's place in the request; as stored: the set. `participants()` gives the set.
    pub participant_ids: Vec<Uuid>,
    pub initiated_by: Option<InitiatedBy>,
    pub duration_minutes: Option<i32>,
    pub summary: String,
    pub notes: Option<String>,
    /// What you learned about them, their work or their company.
    pub learned: Option<String>,
    pub thank_you_status: ThankYouStatus,
    /// Set automatically when the status becomes `sent`, unless given.
    pub thank_you_sent_at: Option<DateTime<Utc>>,
    pub next_step: Option<String>,
    pub next_step_due_on: Option<NaiveDate>,
    pub next_step_done_at: Option<DateTime<Utc>>,
}

impl ConversationFields {
    /// The participants: sorted, each once.
    pub fn participants(&self) -> Vec<Uuid> {
        let mut ids = self.participant_ids.clone();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// A conversation with its participants.
#[derive(Clone, Debug)]
pub struct Conversation {
    pub model: conversation::Model,
    pub participant_ids: Vec<Uuid>,
}

impl Conversation {
    /// The conversation's fields; an internal error when a column holds a value the API
    /// never writes.
    pub fn fields(&self) -> Result<ConversationFields, ApiError> {
        let m = &self.model;
        Ok(ConversationFields {
            occurred_at: m.occurred_at,
            channel: super::decode("conversation.channel", &m.channel, Channel::from_stored)?,
            participant_ids: self.participant_ids.clone(),
            initiated_by: m
                .initiated_by
                .as_deref()
                .map(|stored| {
                    super::decode(
                        "conversation.initiated_by",
                        stored,
                        InitiatedBy::from_stored,
                    )
                })
                .transpose()?,
            duration_minutes: m.duration_minutes,
            summary: m.summary.clone(),
            notes: m.notes.clone(),
            learned: m.learned.clone(),
            thank_you_status: super::decode(
                "conversation.thank_you_status",
                &m.thank_you_status,
                ThankYouStatus::from_stored,
            )?,
            thank_you_sent_at: m.thank_you_sent_at,
            next_step: m.next_step.clone(),
            next_step_due_on: m.next_step_due_on,
            next_step_done_at: m.next_step_done_at,
        })
    }
}

/// A conversation with `fields` and `participants` as the ledger counts it.
fn held<'a>(fields: &ConversationFields, participants: &'a [Uuid]) -> ledger::Held<'a> {
    ledger::Held {
        at: fields.occurred_at,
        owed: fields.thank_you_status == ThankYouStatus::Owed,
        participants,
    }
}

fn active_model(f: &ConversationFields) -> conversation::ActiveModel {
    conversation::ActiveModel {
        occurred_at: Set(f.occurred_at),
        channel: Set(f.channel.as_str().to_owned()),
        initiated_by: Set(f.initiated_by.map(|i| i.as_str().to_owned())),
        duration_minutes: Set(f.duration_minutes),
        summary: Set(f.summary.clone()),
        notes: Set(f.notes.clone()),
        learned: Set(f.learned.clone()),
        thank_you_status: Set(f.thank_you_status.as_str().to_owned()),
        thank_you_sent_at: Set(f.thank_you_sent_at),
        next_step: Set(f.next_step.clone()),
        next_step_due_on: Set(f.next_step_due_on),
        next_step_done_at: Set(f.next_step_done_at),
        search_text: Set(search_text([
            Some(f.summary.as_str()),
            f.notes.as_deref(),
            f.learned.as_deref(),
        ])),
        ..Default::default()
    }
}

/// Creates a conversation with its participants and moves their ledgers and the owner's
/// activity, in one write. `zone_hint`: the owner's zone as the request's authentication read
/// it. On SQLite the write assumes it (see [`Owner::hinted`]), so that the conversation, its
/// participant rows and the read of their ledgers, which confirms the zone, reach the driver
/// in one call; in the rare case that the zone changed in between, the write runs again with
/// the zone read first.
pub async fn create(
    db: &Db,
    owner_id: Uuid,
    fields: ConversationFields,
    (now, zone_hint): (DateTime<Utc>, Tz),
    completion: Option<Completion<Conversation>>,
) -> Result<Conversation, ApiError> {
    let fields = Arc::new(fields);
    let hint = (db.backend() == DbBackend::Sqlite).then_some(zone_hint);
    match create_with(db, owner_id, fields.clone(), now, completion.clone(), hint).await {
        Err(err) if ZoneMoved::failed(&err) => {
            create_with(db, owner_id, fields, now, completion, None).await
        }
        created => created,
    }
}

/// [`create`], with the owner's zone assumed to be `hint` when given.
async fn create_with(
    db: &Db,
    owner_id: Uuid,
    fields: Arc<ConversationFields>,
    now: DateTime<Utc>,
    completion: Option<Completion<Conversation>>,
    hint: Option<Tz>,
) -> Result<Conversation, ApiError> {
    let participant_ids = Arc::new(fields.participants());
    db.write(move |txn| {
        let (fields, participant_ids) = (fields.clone(), participant_ids.clone());
        let completion = completion.clone();
        Box::pin(async move {
            let mut model = active_model(&fields);
            model.id = Set(Uuid::now_v7());
            model.owner_id = Set(owner_id);
            model.created_at = Set(now);
            model.updated_at = Set(now);
            let mut owner = match hint {
                Some(hint) => Owner::hinted(owner_id, hint),
                None => Owner::new(owner_id),
            };
            // On SQLite the conversation and its participants are deferred: both go with the
            // read of the participants' ledgers, which also proves that each of them is one
            // of the owner's contacts and confirms the zone assumed (without a hint, the
            // conversation goes with a read of the zone first).
            let model = owner.insert_whole(txn, model).await?;
            let zone = owner.zone_or_hint(txn).await?;
            add_own_participants(txn, owner_id, model.id, &fields, zone).await?;
            let mut change = activity::Change::default();
            change.conversation(
                1,
                fields.occurred_at,
                fields.thank_you_status,
                participant_ids.as_slice(),
            );
            // The activity's presence counts are read with the participants' ledgers.
            let mut presence = activity::PresenceColumns::of(&change, zone);
            let held = held(&fields, &participant_ids);
            let found =
                ledger::add_conversation(txn, &mut owner, held, now, &mut change, &mut presence)
                    .await?;
            if found != participant_ids.len() {
                check_references(txn, owner_id, "participant_ids", &fields.participant_ids).await?;
                return Err(anyhow::anyhow!(
                    "found {found} of {} participants, all of them the owner's contacts",
                    participant_ids.len()
                )
                .into());
            }
            activity::apply_with(txn, &mut owner, &change, Some(presence)).await?;
            let conversation = Conversation {
                model,
                participant_ids: participant_ids.as_ref().clone(),
            };
            idempotency::store(completion.as_ref(), txn, &conversation).await?;
            Ok(conversation)
        })
    })
    .await
}

async fn find_in(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    id: Uuid,
) -> Result<Conversation, ApiError> {
    let model = conversation::Entity::find_by_id((owner_id, id))
        .one(conn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    one_with_participants(conn, model).await
}

/// `model` with its participants.
async fn one_with_participants(
    conn: &impl ConnectionTrait,
    model: conversation::Model,
) -> Result<Conversation, ApiError> {
    let mut found = with_participants(conn, model.owner_id, vec![model]).await?;
    found.pop().ok_or_else(ApiError::not_found)
}

impl Record for Conversation {
    type Fields = ConversationFields;
    type Entity = conversation::Entity;

    const VERSION: Versioned<conversation::Column> = VERSION;

    fn id(&self) -> Uuid {
        self.model.id
    }

    fn version(&self) -> DateTime<Utc> {
        self.model.updated_at
    }

    fn fields(&self) -> Result<ConversationFields, ApiError> {
        Conversation::fields(self)
    }

    fn find_in<C: ConnectionTrait + Sync>(
        conn: &C,
        owner_id: Uuid,
        id: Uuid,
    ) -> BoxFuture<'_, Result<Self, ApiError>> {
        Box::pin(find_in(conn, owner_id, id))
    }

    fn find_for_write<'a>(
        txn: &'a Txn<'a>,
        owner: &'a mut Owner,
        id: Uuid,
    ) -> BoxFuture<'a, Result<Self, ApiError>> {
        Box::pin(async move {
            let model = owner.find_own::<conversation::Entity>(txn, id).await?;
            one_with_participants(txn, model).await
        })
    }

    fn check<'a>(
        txn: &'a Txn<'a>,
        owner_id: Uuid,
        current: &'a Self,
        fields: &'a ConversationFields,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            if fields.participants() != current.participant_ids {
                check_references(txn, owner_id, "participant_ids", &fields.participant_ids).await?;
            }
            Ok(())
        })
    }

    fn rewrite<'a>(
        txn: &'a Txn<'a>,
        owner: &'a mut Owner,
        change: Rewrite<'a, Self>,
    ) -> BoxFuture<'a, Result<Self, ApiError>> {
        Box::pin(async move {
            let (current, before, fields) = (change.current, change.before, change.fields);
            let new_participants = fields.participants() != current.participant_ids;
            let copied = fields.occurred_at != before.occurred_at
                || fields.thank_you_status != before.thank_you_status;
            let counts = new_participants || copied;
            let model = change
                .update(txn, owner, active_model(fields), counts)
                .await?;
            let written = Conversation {
                model,
                participant_ids: fields.participants(),
            };
            let id = current.model.id;
            if new_participants {
                let zone = owner.zone(txn).await?;
                replace_participants(txn, owner.id, id, fields, zone).await?;
            } else if copied {
                let zone = owner.zone(txn).await?;
                copy_to_participants(txn, owner.id, id, fields, zone).await?;
            } else {
                return Ok(written);
            }
            let participants = fields.participants();
            let mut counts = activity::Change::default();
            counts.conversation(
                -1,
                before.occurred_at,
                before.thank_you_status,
                &current.participant_ids,
            );
            counts.conversation(
                1,
                fields.occurred_at,
                fields.thank_you_status,
                &participants,
            );
            // The activity's presence counts are read with the participants' ledgers.
            let mut presence = activity::PresenceColumns::of(&counts, owner.zone(txn).await?);
            let sides = (
                held(before, &current.participant_ids),
                Some(held(fields, &participants)),
            );
            ledger::move_conversation(txn, owner, sides, change.now, &mut counts, &mut presence)
                .await?;
            activity::apply_with(txn, owner, &counts, Some(presence)).await?;
            Ok(written)
        })
    }

    /// Offers and asks that referred to it keep existing with `conversation_id` set to null
    /// (foreign keys set null); its participants' ledgers and the activity counts lose it.
    fn forget<'a>(
        txn: &'a Txn<'a>,
        owner: &'a mut Owner,
        current: &'a Self,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            let mut counts = activity::Change::default();
            let fields = current.fields()?;
            let participants = &current.participant_ids;
            counts.conversation(
                -1,
                fields.occurred_at,
                fields.thank_you_status,
                participants,
            );
            let mut presence = activity::PresenceColumns::of(&counts, owner.zone(txn).await?);
            let sides = (held(&fields, participants), None);
            ledger::move_conversation(txn, owner, sides, now, &mut counts, &mut presence).await?;
            activity::apply_with(txn, owner, &counts, Some(presence)).await
        })
    }
}

#[derive(Clone, Debug, Default)]
pub struct ConversationFilter {
    pub contact_id: Option<Uuid>,
    pub channel: Option<Channel>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub thank_you_status: Option<ThankYouStatus>,
    pub q: Vec<String>,
    /// Oldest first instead of newest first.
    pub ascending: bool,
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: u64,
}

/// One page of the owner's conversations: the page, then its participants (two queries).
pub async fn list(
    db: &Db,
    owner_id: Uuid,
    filter: &ConversationFilter,
) -> Result<(Vec<Conversation>, bool), ApiError> {
    use conversation::Column as C;

    let mut query = conversation::Entity::find().filter(C::OwnerId.eq(owner_id));
    if let Some(contact_id) = filter.contact_id {
        query = query.filter(C::Id.in_subquery(participated_in(owner_id, contact_id)));
    }
    if let Some(channel) = filter.channel {
        query = query.filter(C::Channel.eq(channel.as_str()));
    }
    if let Some(from) = filter.from {
        query = query.filter(C::OccurredAt.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(C::OccurredAt.lt(to));
    }
    if let Some(status) = filter.thank_you_status {
        query = query.filter(C::ThankYouStatus.eq(status.as_str()));
    }
    for term in &filter.q {
        query = query.filter(C::SearchText.like(format!("% {term}%")));
    }
    let (models, has_more) = keyset_page(
        db.reader(),
        query,
        (C::OccurredAt, C::Id),
        filter.after,
        filter.ascending,
        filter.limit,
    )
    .await?;
    Ok((
        with_participants(db.reader(), owner_id, models).await?,
        has_more,
    ))
}

/// The ids of the owner's conversations in which `contact_id` took part, as a subquery.
pub fn participated_in(owner_id: Uuid, contact_id: Uuid) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(conversation_participant::Column::ConversationId)
        .from(conversation_participant::Entity)
        .and_where(Expr::col(conversation_participant::Column::OwnerId).eq(owner_id))
        .and_where(Expr::col(conversation_participant::Column::ContactId).eq(contact_id))
        .to_owned()
}

/// Deletes those of `ids` that have no participant left; returns them.
pub async fn delete_if_empty(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<conversation::Model>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let with_participants = Query::select()
        .column(conversation_participant::Column::ConversationId)
        .from(conversation_participant::Entity)
        .and_where(conversation_participant::Column::ConversationId.is_in(ids.iter().copied()))
        .and_where(conversation_participant::Column::OwnerId.eq(owner_id))
        .to_owned();
    Ok(conversation::Entity::delete_many()
        .filter(conversation::Column::OwnerId.eq(owner_id))
        .filter(conversation::Column::Id.is_in(ids.iter().copied()))
        .filter(conversation::Column::Id.not_in_subquery(with_participants))
        .exec_with_returning(conn)
        .await?)
}

/// One of the owner's conversations exists with this id (for references from offers and asks).
pub async fn check_reference(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    id: Uuid,
) -> Result<(), ApiError> {
    let found = conversation::Entity::find_by_id((owner_id, id))
        .select_only()
        .column(conversation::Column::Id)
        .into_tuple::<Uuid>()
        .one(conn)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(ApiError::validation(vec![crate::error::FieldError::new(
            "conversation_id",
            "unknown_conversation",
            "is not one of your conversations",
        )])),
    }
}
