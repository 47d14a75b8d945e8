//! Value offers: what a user gives.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use entity::value_offer;
use futures_util::future::BoxFuture;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::contacts::check_references;
use super::owner::Owner;
use super::records::{Record, Rewrite};
use super::{Versioned, decode, decode_json, keyset_page};
use super::{activity, idea_topics, ledger};
use crate::db::{Db, Txn};
use crate::domain::follow_ups::stored_deliver_due;
use crate::domain::records::{OfferKind, OfferStatus};
use crate::error::{ApiError, FieldError};
use crate::services::idempotency::{self, Completion};

/// A value offer as stored.
pub type ValueOffer = value_offer::Model;

/// What an offer counts: its date in the activity, itself in its contact's gives.
const OFFERED: ledger::Counting = ledger::Counting {
    fact: activity::Fact::Offered,
    count: |h| &mut h.gives,
};

/// An offer to `contact_id` with `status` (as stored), given `at`, as the ledger counts it.
fn counted(contact_id: Uuid, status: &str, at: Option<DateTime<Utc>>) -> ledger::Counted {
    ledger::Counted {
        contact_id,
        in_balance: OfferStatus::is_given(status),
        at,
    }
}

/// A stored offer as the ledger counts it.
fn counted_row(m: &value_offer::Model) -> ledger::Counted {
    counted(m.contact_id, &m.status, m.offered_at)
}

/// The columns that version a value offer row.
const VERSION: Versioned<value_offer::Column> = Versioned {
    id: value_offer::Column::Id,
    owner_id: value_offer::Column::OwnerId,
    updated_at: value_offer::Column::UpdatedAt,
};

/// Everything a client can write about a value offer, validated; the part of its
/// representation between its id and its timestamps.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct OfferFields {
    /// The recipient.
    pub contact_id: Uuid,
    pub conversation_id: Option<Uuid>,
    pub kind: OfferKind,
    pub title: String,
    pub url: Option<String>,
    pub details: Option<String>,
    pub topics: Vec<String>,
    /// For introductions: the other person.
    pub introduced_contact_id: Option<Uuid>,
    pub status: OfferStatus,
    /// Stamped when the status reaches `offered`, unless given.
    pub offered_at: Option<DateTime<Utc>>,
    /// Stamped when the status reaches `acknowledged` or `declined`, unless given.
    pub responded_at: Option<DateTime<Utc>>,
}

/// The fields of a stored row; an internal error when a column holds a value the API never
/// writes.
pub fn fields_of(m: &value_offer::Model) -> Result<OfferFields, ApiError> {
    Ok(OfferFields {
        contact_id: m.contact_id,
        conversation_id: m.conversation_id,
        kind: decode("value_offer.kind", &m.kind, OfferKind::from_stored)?,
        title: m.title.clone(),
        url: m.url.clone(),
        details: m.details.clone(),
        topics: decode_json("value_offer.topics", &m.topics)?,
        introduced_contact_id: m.introduced_contact_id,
        status: decode("value_offer.status", &m.status, OfferStatus::from_stored)?,
        offered_at: m.offered_at,
        responded_at: m.responded_at,
    })
}

fn active_model(f: &OfferFields) -> value_offer::ActiveModel {
    value_offer::ActiveModel {
        contact_id: Set(f.contact_id),
        conversation_id: Set(f.conversation_id),
        kind: Set(f.kind.as_str().to_owned()),
        title: Set(f.title.clone()),
        url: Set(f.url.clone()),
        details: Set(f.details.clone()),
        topics: Set(serde_json::json!(f.topics)),
        introduced_contact_id: Set(f.introduced_contact_id),
        status: Set(f.status.as_str().to_owned()),
        offered_at: Set(f.offered_at),
        responded_at: Set(f.responded_at),
        ..Default::default()
    }
}

/// Refuses `f` where it names what is not the owner's or introduces the recipient to
/// themselves. An update (`current` given) checks only the references it changes: those it
/// keeps were checked when written, and their foreign keys have kept them the owner's since.
async fn check(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    f: &OfferFields,
    current: Option<&value_offer::Model>,
) -> Result<(), ApiError> {
    if current.is_none_or(|c| c.contact_id != f.contact_id) {
        check_references(conn, owner_id, "contact_id", &[f.contact_id]).await?;
    }
    if let Some(other) = f.introduced_contact_id {
        if other == f.contact_id {
            return Err(ApiError::validation(vec![FieldError::new(
                "introduced_contact_id",
                "same_as_recipient",
                "must be someone other than the recipient",
            )]));
        }
        if current.is_none_or(|c| c.introduced_contact_id != Some(other)) {
            check_references(conn, owner_id, "introduced_contact_id", &[other]).await?;
        }
    }
    if let Some(conversation_id) = f.conversation_id
        && current.is_none_or(|c| c.conversation_id != Some(conversation_id))
    {
        super::conversations::check_reference(conn, owner_id, conversation_id).await?;
    }
    Ok(())
}

pub async fn create(
    db: &Db,
    owner_id: Uuid,
    fields: OfferFields,
    (now, zone_hint): (DateTime<Utc>, Tz),
    completion: Option<Completion<value_offer::Model>>,
) -> Result<value_offer::Model, ApiError> {
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
            let due = |model: &mut value_offer::ActiveModel, zone| {
                model.deliver_due_on = Set(stored_deliver_due(fields.status.as_str(), now, zone));
            };
            let model = owner.insert_dated(txn, model, zone_hint, due).await?;
            if fields.status == OfferStatus::Idea {
                idea_topics::insert(txn, model.id, owner_id, now, &fields.topics).await?;
            }
            let counted = Some(counted_row(&model));
            ledger::record_moved(txn, &mut owner, OFFERED, None, counted, now).await?;
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
) -> Result<value_offer::Model, ApiError> {
    value_offer::Entity::find_by_id((owner_id, id))
        .one(conn)
        .await?
        .ok_or_else(ApiError::not_found)
}

impl Record for ValueOffer {
    type Fields = OfferFields;
    type Entity = value_offer::Entity;

    const VERSION: Versioned<value_offer::Column> = VERSION;

    fn id(&self) -> Uuid {
        self.id
    }

    fn version(&self) -> DateTime<Utc> {
        self.updated_at
    }

    fn fields(&self) -> Result<OfferFields, ApiError> {
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
        Box::pin(owner.find_own::<value_offer::Entity>(txn, id))
    }

    fn check<'a>(
        txn: &'a Txn<'a>,
        owner_id: Uuid,
        current: &'a Self,
        fields: &'a OfferFields,
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
            let (was_idea, is_idea) = (
                current.status == OfferStatus::Idea.as_str(),
                fields.status == OfferStatus::Idea,
            );
            if was_idea != is_idea {
                // Only an idea is due; an offer that stops being one needs no zone.
                model.deliver_due_on = Set(if is_idea {
                    let zone = owner.zone(txn).await?;
                    stored_deliver_due(fields.status.as_str(), current.created_at, zone)
                } else {
                    None
                });
            }
            let after = counted(fields.contact_id, fields.status.as_str(), fields.offered_at);
            let counts = (counted_row(current), after);
            let written = change
                .update_counted(txn, owner, model, OFFERED, counts)
                .await?;
            let idea = |f: &OfferFields| (f.status == OfferStatus::Idea).then(|| f.topics.clone());
            if idea(change.before) != idea(fields) {
                idea_topics::replace(txn, current, idea(fields).as_deref()).await?;
            }
            Ok(written)
        })
    }

    fn forget<'a>(
        txn: &'a Txn<'a>,
        owner: &'a mut Owner,
        current: &'a Self,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        let before = Some(counted_row(current));
        Box::pin(ledger::record_moved(txn, owner, OFFERED, before, None, now))
    }
}

#[derive(Clone, Debug, Default)]
pub struct OfferFilter {
    pub contact_id: Option<Uuid>,
    pub status: Option<OfferStatus>,
    pub kind: Option<OfferKind>,
    pub topic: Option<String>,
    pub ascending: bool,
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: u64,
}

/// One page of the owner's offers by `created_at` (newest first unless `ascending`).
pub async fn list(
    db: &Db,
    owner_id: Uuid,
    filter: &OfferFilter,
) -> Result<(Vec<value_offer::Model>, bool), ApiError> {
    use value_offer::Column as C;

    let mut query = value_offer::Entity::find().filter(C::OwnerId.eq(owner_id));
    if let Some(contact_id) = filter.contact_id {
        query = query.filter(C::ContactId.eq(contact_id));
    }
    if let Some(status) = filter.status {
        query = query.filter(C::Status.eq(status.as_str()));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(C::Kind.eq(kind.as_str()));
    }
    if let Some(topic) = &filter.topic {
        // Topics are a JSON array of normalised strings: match the quoted element, with the
        // user's text escaped so that `%` and `_` are themselves, not wildcards.
        let element = serde_json::to_string(topic).unwrap_or_default();
        query = query.filter(
            Expr::col(C::Topics)
                .cast_as("text")
                .like(super::containing(&element)),
        );
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
