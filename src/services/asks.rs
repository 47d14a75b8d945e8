//! Asks: what a user requests of a contact.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use entity::ask;
use futures_util::future::BoxFuture;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::contacts::check_references;
use super::owner::Owner;
use super::records::{Record, Rewrite};
use super::{Versioned, decode, keyset_page};
use super::{activity, ledger};
use crate::db::{Db, Txn};
use crate::domain::follow_ups::stored_ask_due;
use crate::domain::records::{AskKind, AskStatus};
use crate::error::ApiError;
use crate::services::idempotency::{self, Completion};

/// An ask as stored.
pub type Ask = ask::Model;

/// What an ask counts: its date in the activity, itself in its contact's asks.
const ASKED: ledger::Counting = ledger::Counting {
    fact: activity::Fact::Asked,
    count: |h| &mut h.asks,
};

/// An ask of `contact_id` with `status` (as stored), made `at`, as the ledger counts it.
fn counted(contact_id: Uuid, status: &str, at: Option<DateTime<Utc>>) -> ledger::Counted {
    ledger::Counted {
        contact_id,
        in_balance: AskStatus::is_asked(status),
        at,
    }
}

/// A stored ask as the ledger counts it.
fn counted_row(m: &ask::Model) -> ledger::Counted {
    counted(m.contact_id, &m.status, m.asked_at)
}

/// The columns that version a ask row.
const VERSION: Versioned<ask::Column> = Versioned {
    id: ask::Column::Id,
    owner_id: ask::Column::OwnerId,
    updated_at: ask::Column::UpdatedAt,
};

/// Everything a client can write about an ask, validated; the part of its representation
/// between its id and its timestamps.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct AskFields {
    /// Whom you ask.
    pub contact_id: Uuid,
    pub conversation_id: Option<Uuid>,
    pub kind: AskKind,
    pub title: String,
    pub details: Option<String>,
    pub status: AskStatus,
    /// Stamped when the status reaches `asked`, unless given.
    pub asked_at: Option<DateTime<Utc>>,
    /// Stamped when the status reaches `granted`, `declined` or `withdrawn`, unless given.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// The fields of a stored row; an internal error when a column holds a value the API never
/// writes.
pub fn fields_of(m: &ask::Model) -> Result<AskFields, ApiError> {
    Ok(AskFields {
        contact_id: m.contact_id,
        conversation_id: m.conversation_id,
        kind: decode("ask.kind", &m.kind, AskKind::from_stored)?,
        title: m.title.clone(),
        details: m.details.clone(),
        status: decode("ask.status", &m.status, AskStatus::from_stored)?,
        asked_at: m.asked_at,
        resolved_at: m.resolved_at,
    })
}

fn active_model(f: &AskFields) -> ask::ActiveModel {
    ask::ActiveModel {
        contact_id: Set(f.contact_id),
        conversation_id: Set(f.conversation_id),
        kind: Set(f.kind.as_str().to_owned()),
        title: Set(f.title.clone()),
        details: Set(f.details.clone()),
        status: Set(f.status.as_str().to_owned()),
        asked_at: Set(f.asked_at),
        resolved_at: Set(f.resolved_at),
        ..Default::default()
    }
}

/// Refuses `f` where it names what is not the owner's; an update (`current` given) checks only
/// the references it changes, as an offer's does.
async fn check(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    f: &AskFields,
    current: Option<&ask::Model>,
) -> Result<(), ApiError> {
    if current.is_none_or(|c| c.contact_id != f.contact_id) {
        check_references(conn, owner_id, "contact_id", &[f.contact_id]).await?;
    }
    if let Some(conversation_id) = f.conversation_id
        && current.is_none_or(|c| c.conversation_id != Some(conversation_id))
    {
        super::conversations::check_reference(conn, owner_id, conversation_id).await?;
    }
    Ok(())
}

/// Stores a new ask. Its follow-up's due date depends on the owner's time zone: it is dated
/// in `zone_hint`, the zone the request's authentication read, and again should the insert
/// read another (see [`Owner::insert_dated`]).
pub async fn create(
    db: &Db,
    owner_id: Uuid,
    fields: AskFields,
    (now, zone_hint): (DateTime<Utc>, Tz),
    completion: Option<Completion<ask::Model>>,
) -> Result<ask::Model, ApiError> {
    let fields = Arc::new(fields);
    db.write(move |txn| {
        let (fields, completion) = (fields.clone(), completion.clone());
        Box::pin(async move {
            check(txn, owner_id, &fields, None).await?;
            let mut owner = Owner::new(owner_id);
            let mut model = active_model(&fields);
            model.id = Set(Uuid::now_v7());
            model.owner_id = Set(owner_id);
            model.created_at = Set(now);
            model.updated_at = Set(now);
            let due = |model: &mut ask::ActiveModel, zone| {
                let status = fields.status.as_str();
                model.follow_up_due_on = Set(stored_ask_due(status, fields.asked_at, now, zone));
            };
            let model = owner.insert_dated(txn, model, zone_hint, due).await?;
            let counted = Some(counted_row(&model));
            ledger::record_moved(txn, &mut owner, ASKED, None, counted, now).await?;
            idempotency::store(completion.as_ref(), txn, &model).await?;
            Ok(model)
        })
    })
    .await
}

async fn find_in(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    id: Uuid,
) -> Result<ask::Model, ApiError> {
    ask::Entity::find_by_id((owner_id, id))
        .one(conn)
        .await?
        .ok_or_else(ApiError::not_found)
}

impl Record for Ask {
    type Fields = AskFields;
    type Entity = ask::Entity;

    const VERSION: Versioned<ask::Column> = VERSION;

    fn id(&self) -> Uuid {
        self.id
    }

    fn version(&self) -> DateTime<Utc> {
        self.updated_at
    }

    fn fields(&self) -> Result<AskFields, ApiError> {
        fields_of(self)
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
        Box::pin(owner.find_own::<ask::Entity>(txn, id))
    }

    fn check<'a>(
        txn: &'a Txn<'a>,
        owner_id: Uuid,
        current: &'a Self,
        fields: &'a AskFields,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(check(txn, owner_id, fields, Some(current)))
    }

    fn rewrite<'a>(
        txn: &'a Txn<'a>,
        owner: &'a mut Owner,
        change: Rewrite<'a, Self>,
    ) -> BoxFuture<'a, Result<Self, ApiError>> {
        Box::pin(async move {
            let (current, fields) = (change.current, change.fields);
            let mut model = active_model(fields);
            let status = fields.status.as_str();
            let open = |status: &str, asked_at| (status == AskStatus::Asked.as_str(), asked_at);
            let is_open = open(status, fields.asked_at);
            if open(&current.status, current.asked_at) != is_open {
                // Only an ask awaiting an answer is due; one answered needs no zone.
                model.follow_up_due_on = Set(if is_open.0 {
                    let zone = owner.zone(txn).await?;
                    stored_ask_due(status, fields.asked_at, current.created_at, zone)
                } else {
                    None
                });
            }
            let counts = (
                counted_row(current),
                counted(fields.contact_id, status, fields.asked_at),
            );
            change
                .update_counted(txn, owner, model, ASKED, counts)
                .await
        })
    }

    fn forget<'a>(
        txn: &'a Txn<'a>,
        owner: &'a mut Owner,
        current: &'a Self,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        let before = Some(counted_row(current));
        Box::pin(ledger::record_moved(txn, owner, ASKED, before, None, now))
    }
}

#[derive(Clone, Debug, Default)]
pub struct AskFilter {
    pub contact_id: Option<Uuid>,
    pub status: Option<AskStatus>,
    pub kind: Option<AskKind>,
    pub ascending: bool,
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: u64,
}

/// One page of the owner's asks by `created_at` (newest first unless `ascending`).
pub async fn list(
    db: &Db,
    owner_id: Uuid,
    filter: &AskFilter,
) -> Result<(Vec<ask::Model>, bool), ApiError> {
    use ask::Column as C;

    let mut query = ask::Entity::find().filter(C::OwnerId.eq(owner_id));
    if let Some(contact_id) = filter.contact_id {
        query = query.filter(C::ContactId.eq(contact_id));
    }
    if let Some(status) = filter.status {
        query = query.filter(C::Status.eq(status.as_str()));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(C::Kind.eq(kind.as_str()));
    }
    keyset_page(
        db.reader(),
        query,
        (C::CreatedAt, C::Id),
        filter.after,
        filter.ascending,
        filter.limit,
    )
    .await
}
