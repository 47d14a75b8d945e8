//! Contacts: the people a user knows, with their tags.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use entity::{contact, contact_tag};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::Versioned;
use super::owner::Owner;
use super::relationships::ledger_histories;
use super::{activity, ledger};
use crate::db::Db;
use crate::domain::labels::search_text;
use crate::domain::records::ThankYouStatus;
use crate::domain::relationship::{self, Relationship, Today};
use crate::domain::version::{Precondition, etag, next_updated_at};
use crate::error::{ApiError, FieldError};
use crate::services::idempotency::{self, Completion};

mod list;

pub use self::list::{
    After, Archived, CadencePart, ContactFilter, Listed, PagePlan, Part, SORTED_AT_MOST, SortKey,
    list, page_queries,
};

/// The columns that version a contact row.
const VERSION: Versioned<contact::Column> = Versioned {
    id: contact::Column::Id,
    owner_id: contact::Column::OwnerId,
    updated_at: contact::Column::UpdatedAt,
};

/// Everything a client can write about a contact, validated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContactFields {
    pub full_name: String,
    pub preferred_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub location: Option<String>,
    pub links: Vec<String>,
    pub how_we_met: Option<String>,
    pub met_on: Option<NaiveDate>,
    pub introduced_by_id: Option<Uuid>,
    pub tags: Vec<String>,
    pub interests: Vec<String>,
    pub notes: Option<String>,
    pub cadence_days: Option<i32>,
    pub archived_at: Option<DateTime<Utc>>,
}

/// A contact with its tags.
#[derive(Clone, Debug)]
pub struct Contact {
    pub model: contact::Model,
    pub tags: Vec<String>,
}

impl Contact {
    pub fn etag(&self) -> String {
        etag(self.model.id, self.model.updated_at)
    }

    /// The contact's links and interests, decoded from their JSON columns; an internal error
    /// when a column holds a value the API never writes.
    pub fn lists(&self) -> Result<(Vec<String>, Vec<String>), ApiError> {
        Ok((
            super::decode_json("contact.links", &self.model.links)?,
            super::decode_json("contact.interests", &self.model.interests)?,
        ))
    }

    /// The contact's fields; an internal error as for [`Contact::lists`].
    pub fn fields(&self) -> Result<ContactFields, ApiError> {
        let m = &self.model;
        let (links, interests) = self.lists()?;
        Ok(ContactFields {
            full_name: m.full_name.clone(),
            preferred_name: m.preferred_name.clone(),
            email: m.email.clone(),
            phone: m.phone.clone(),
            company: m.company.clone(),
            title: m.title.clone(),
            location: m.location.clone(),
            links,
            how_we_met: m.how_we_met.clone(),
            met_on: m.met_on,
            introduced_by_id: m.introduced_by_id,
            tags: self.tags.clone(),
            interests,
            notes: m.notes.clone(),
            cadence_days: m.cadence_days,
            archived_at: m.archived_at,
        })
    }
}

fn search_text_of(f: &ContactFields) -> String {
    search_text([
        Some(f.full_name.as_str()),
        f.preferred_name.as_deref(),
        f.email.as_deref(),
        f.company.as_deref(),
        f.title.as_deref(),
        f.notes.as_deref(),
    ])
}

fn active_model(f: &ContactFields) -> contact::ActiveModel {
    contact::ActiveModel {
        full_name: Set(f.full_name.clone()),
        name_key: Set(crate::domain::suggestions::name_key(&f.full_name)),
        preferred_name: Set(f.preferred_name.clone()),
        email: Set(f.email.clone()),
        phone: Set(f.phone.clone()),
        company: Set(f.company.clone()),
        title: Set(f.title.clone()),
        location: Set(f.location.clone()),
        links: Set(serde_json::json!(f.links)),
        how_we_met: Set(f.how_we_met.clone()),
        met_on: Set(f.met_on),
        introduced_by_id: Set(f.introduced_by_id),
        interests: Set(serde_json::json!(f.interests)),
        notes: Set(f.notes.clone()),
        cadence_days: Set(f.cadence_days),
        archived_at: Set(f.archived_at),
        search_text: Set(search_text_of(f)),
        ..Default::default()
    }
}

/// 422 naming `field` unless every id in `ids` is one of the owner's contacts.
pub async fn check_references(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    field: &str,
    ids: &[Uuid],
) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    let found: Vec<Uuid> = contact::Entity::find()
        .select_only()
        .column(contact::Column::Id)
        .filter(contact::Column::Id.is_in(ids.iter().copied()))
        .filter(contact::Column::OwnerId.eq(owner_id))
        .into_tuple()
        .all(conn)
        .await?;
    match ids.iter().position(|id| !found.contains(id)) {
        None => Ok(()),
        Some(i) => {
            let name = if ids.len() > 1 || field.ends_with("_ids") {
                format!("{field}[{i}]")
            } else {
                field.to_owned()
            };
            Err(ApiError::validation(vec![FieldError::new(
                name,
                "unknown_contact",
                "is not one of your contacts",
            )]))
        }
    }
}

/// Sets the contact's tags from `before` to `tags`, and their counts.
async fn replace_tags(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    contact_id: Uuid,
    before: &[String],
    tags: &[String],
) -> Result<(), ApiError> {
    let added: Vec<String> = tags
        .iter()
        .filter(|t| !before.contains(t))
        .cloned()
        .collect();
    let removed: Vec<String> = before
        .iter()
        .filter(|t| !tags.contains(t))
        .cloned()
        .collect();
    super::tag_counts::adjust(conn, owner_id, &added, &removed).await?;
    contact_tag::Entity::delete_many()
        .filter(contact_tag::Column::ContactId.eq(contact_id))
        .filter(contact_tag::Column::OwnerId.eq(owner_id))
        .exec(conn)
        .await?;
    if !tags.is_empty() {
        let rows = tags.iter().map(|tag| contact_tag::ActiveModel {
            contact_id: Set(contact_id),
            tag: Set(tag.clone()),
            owner_id: Set(owner_id),
        });
        contact_tag::Entity::insert_many(rows).exec(conn).await?;
    }
    Ok(())
}

pub async fn create(
    db: &Db,
    owner_id: Uuid,
    fields: ContactFields,
    now: DateTime<Utc>,
    completion: Option<Completion<Contact>>,
) -> Result<Contact, ApiError> {
    let fields = Arc::new(fields);
    db.write(move |txn| {
        let (fields, completion) = (fields.clone(), completion.clone());
        Box::pin(async move {
            if let Some(introducer) = fields.introduced_by_id {
                check_references(txn, owner_id, "introduced_by_id", &[introducer]).await?;
            }
            let zone = Owner::new(owner_id).zone(txn).await?;
            let mut model = active_model(&fields);
            model.id = Set(Uuid::now_v7());
            model.owner_id = Set(owner_id);
            model.created_at = Set(now);
            model.updated_at = Set(now);
            ledger::set(&mut model, &ledger::fresh(fields.cadence_days, now, zone));
            let model = model.insert(txn).await?;
            replace_tags(txn, owner_id, model.id, &[], &fields.tags).await?;
            let contact = Contact {
                model,
                tags: fields.tags.clone(),
            };
            idempotency::store(completion.as_ref(), txn, &contact).await?;
            Ok(contact)
        })
    })
    .await
}

async fn tags_of(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    contact_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<String>>, ApiError> {
    let rows = contact_tag::Entity::find()
        .filter(contact_tag::Column::ContactId.is_in(contact_ids.iter().copied()))
        .filter(contact_tag::Column::OwnerId.eq(owner_id))
        // In the primary key's order, `(owner_id, contact_id, tag)`: ordered by tag alone,
        // SQLite's planner walks the owner's tags by the index that leads with the tag.
        .order_by_asc(contact_tag::Column::ContactId)
        .order_by_asc(contact_tag::Column::Tag)
        .all(conn)
        .await?;
    let mut tags: HashMap<Uuid, Vec<String>> = HashMap::new();
    for row in rows {
        tags.entry(row.contact_id).or_default().push(row.tag);
    }
    Ok(tags)
}

async fn find_in(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    id: Uuid,
) -> Result<Contact, ApiError> {
    use sea_orm::sea_query::IntoCondition;
    use sea_orm::{JoinType, RelationTrait};

    // One statement: the contact left-joined to its tags, both by primary key.
    let tags = contact::Relation::ContactTag
        .def()
        .on_condition(|contact, tag| {
            sea_orm::sea_query::Expr::col((tag, contact_tag::Column::OwnerId))
                .equals((contact, contact::Column::OwnerId))
                .into_condition()
        });
    let (model, tags) = contact::Entity::find_by_id((owner_id, id))
        .join(JoinType::LeftJoin, tags)
        .select_with(contact_tag::Entity)
        .order_by_asc(contact_tag::Column::Tag)
        .all(conn)
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)?;
    let tags = tags.into_iter().map(|t| t.tag).collect();
    Ok(Contact { model, tags })
}

/// A contact and its relationship as of `today`: the contact with its tags (one statement),
/// the relationship from its stored ledger, or from its records when the ledger is out of
/// date at `today` (one more).
pub async fn find_with_relationship(
    db: &Db,
    owner_id: Uuid,
    id: Uuid,
    today: &Today,
) -> Result<(Contact, Relationship), ApiError> {
    let contact = find_in(db.reader(), owner_id, id).await?;
    let relationship = relationship_of(db, owner_id, &contact, today).await?;
    Ok((contact, relationship))
}

/// Applies `change` to the current fields and stores the result, if `precondition` allows the
/// current version. The check and the write are one conditional statement, so a concurrent
/// writer cannot slip in between.
pub async fn update(
    db: &Db,
    owner_id: Uuid,
    id: Uuid,
    precondition: &Precondition,
    change: impl Fn(ContactFields) -> Result<ContactFields, ApiError> + Send + Sync + 'static,
    now: DateTime<Utc>,
) -> Result<Contact, ApiError> {
    let (change, precondition) = (Arc::new(change), precondition.clone());
    db.write(move |txn| {
        let (change, precondition) = (change.clone(), precondition.clone());
        Box::pin(async move {
            let mut owner = Owner::new(owner_id);
            owner.lock_first(txn).await?;
            let current = find_in(txn, owner_id, id).await?;
            let fields = change(current.fields()?)?;
            if let Some(introducer) = fields.introduced_by_id {
                if introducer == id {
                    return Err(ApiError::validation(vec![FieldError::new(
                        "introduced_by_id",
                        "self_reference",
                        "a contact cannot introduce themselves",
                    )]));
                }
                check_references(txn, owner_id, "introduced_by_id", &[introducer]).await?;
            }
            // The precondition is checked last: a request that fails for another reason
            // answers that reason, whatever its If-Match (RFC 9110, section 13.2.1).
            precondition.require(&current.etag())?;
            let mut model = active_model(&fields);
            let updated_at = next_updated_at(current.model.updated_at, now);
            model.updated_at = Set(updated_at);
            VERSION
                .update(txn, model, id, owner_id, current.model.updated_at)
                .await?;
            if fields.tags != current.tags {
                replace_tags(txn, owner_id, id, &current.tags, &fields.tags).await?;
            }
            if fields.cadence_days != current.model.cadence_days {
                ledger::restate(txn, &mut owner, &[id], now).await?;
            }
            find_in(txn, owner_id, id).await
        })
    })
    .await
}

/// Deletes a contact in one transaction: their offers and asks go (foreign keys cascade), they
/// leave every conversation, conversations left without participants go, and introductions
/// pointing at them become null (foreign keys set null).
pub async fn delete(
    db: &Db,
    owner_id: Uuid,
    id: Uuid,
    precondition: &Precondition,
) -> Result<(), ApiError> {
    let precondition = precondition.clone();
    db.write(move |txn| {
        let precondition = precondition.clone();
        Box::pin(async move {
            let mut owner = Owner::new(owner_id);
            owner.lock_first(txn).await?;
            let version = VERSION
                .current::<contact::Entity>(txn, owner_id, id, &precondition)
                .await?;
            let tags = tags_of(txn, owner_id, &[id])
                .await?
                .remove(&id)
                .unwrap_or_default();
            let (mut change, conversations) = activity::facts_of_contact(txn, owner_id, id).await?;
            VERSION
                .delete::<contact::Entity>(txn, id, owner_id, version)
                .await?;
            super::tag_counts::adjust(txn, owner_id, &[], &tags).await?;
            let emptied =
                super::conversations::delete_if_empty(txn, owner_id, &conversations).await?;
            for conversation in emptied {
                let thank_you = super::decode(
                    "conversation.thank_you_status",
                    &conversation.thank_you_status,
                    ThankYouStatus::from_stored,
                )?;
                change.remove(activity::Fact::Held {
                    at: conversation.occurred_at,
                    thank_you,
                });
            }
            activity::apply(txn, &mut owner, &change).await
        })
    })
    .await
}

/// The relationship with one contact as of `today`, from its stored ledger; when that is
/// out of date (a planned conversation has become past), from its records (one statement).
pub async fn relationship_of(
    db: &Db,
    owner_id: Uuid,
    contact: &Contact,
    today: &Today,
) -> Result<Relationship, ApiError> {
    let m = &contact.model;
    let stored = ledger::stored(m);
    let history = if stored.is_stale(today.now) {
        ledger_histories(db.reader(), owner_id, Some(&[m.id]), today.now)
            .await?
            .remove(&m.id)
            .unwrap_or_default()
    } else {
        stored.history
    };
    Ok(relationship::derive(
        &history,
        m.cadence_days,
        m.created_at,
        today,
    ))
}

/// The owner's tags with how many contacts carry each, most used first.
pub async fn tag_counts(db: &Db, owner_id: Uuid) -> Result<Vec<(String, i64)>, ApiError> {
    super::tag_counts::list(db.reader(), owner_id).await
}
