//! Contacts: the people a user knows, with their tags.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use entity::{contact, contact_tag};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, Set,
};
use uuid::Uuid;

use super::owner::Owner;
use super::relationships::ledger_histories;
use super::{Versioned, beyond};
use super::{activity, ledger};
use crate::db::Db;
use crate::domain::labels::{search_terms, search_text};
use crate::domain::records::ThankYouStatus;
use crate::domain::relationship::{self, Health, Reciprocity, Relationship, Today};
use crate::domain::version::{Precondition, etag, next_updated_at};
use crate::error::{ApiError, FieldError, ProblemCode};
use crate::services::idempotency::{self, Completion};

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
        .filter(super::unindexed(contact::Column::OwnerId).eq(owner_id))
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
    contact_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<String>>, ApiError> {
    let rows = contact_tag::Entity::find()
        .filter(contact_tag::Column::ContactId.is_in(contact_ids.iter().copied()))
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
    // One statement: the contact left-joined to its tags.
    let (model, tags) = contact::Entity::find_by_id(id)
        .filter(contact::Column::OwnerId.eq(owner_id))
        .find_with_related(contact_tag::Entity)
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
                ledger::refresh(txn, &mut Owner::new(owner_id), &[id], now).await?;
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
            let version = VERSION
                .current::<contact::Entity>(txn, owner_id, id, &precondition)
                .await?;
            let tags = tags_of(txn, &[id]).await?.remove(&id).unwrap_or_default();
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
            activity::apply(txn, &mut Owner::new(owner_id), &change).await
        })
    })
    .await
}

/// Which contacts a list shows, by archive state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Archived {
    #[default]
    Hidden,
    Only,
    Included,
}

/// A list's sort key and direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    FullName,
    #[default]
    CreatedAt,
    UpdatedAt,
    /// Derived: `relationship.next_check_in_on`, contacts without one last.
    NextCheckInOn,
    /// Derived: `relationship.last_conversation_at`, contacts never met last.
    LastConversationAt,
}

impl SortKey {
    /// The value a derived sort orders by: a day number or microseconds; none sorts last.
    pub fn derived_value(self, r: &Relationship) -> Option<i64> {
        match self {
            Self::NextCheckInOn => r.next_check_in_on.map(|d| i64::from(d.num_days_from_ce())),
            Self::LastConversationAt => r.last_conversation_at.map(|at| at.timestamp_micros()),
            _ => None,
        }
    }
}

/// Where a page starts: the sort value and id of the previous page's last item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum After {
    FullName(String, Uuid),
    Instant(DateTime<Utc>, Uuid),
    Derived(Option<i64>, Uuid),
}

#[derive(Clone, Debug, Default)]
pub struct ContactFilter {
    pub q: Vec<String>,
    pub tags: Vec<String>,
    pub company: Option<String>,
    pub archived: Archived,
    pub updated_since: Option<DateTime<Utc>>,
    pub health: Option<Health>,
    pub reciprocity: Option<Reciprocity>,
    pub one_off: Option<bool>,
    pub sort: SortKey,
    pub descending: bool,
    pub after: Option<After>,
    pub limit: u64,
}

impl ContactFilter {
    pub fn with_query(mut self, q: &str) -> Self {
        self.q = search_terms(q);
        self
    }
}

/// A contact with the relationship derived from its records.
pub type Listed = (Contact, Relationship);

/// The owner's contacts that pass every filter of `filter`, unordered. The relationship
/// filters compare the stored ledger's dates and balance with today.
fn filtered(owner_id: Uuid, filter: &ContactFilter, today: NaiveDate) -> Select<contact::Entity> {
    use contact::Column as C;

    let mut query = contact::Entity::find().filter(C::OwnerId.eq(owner_id));
    query = match filter.archived {
        Archived::Hidden => query.filter(C::ArchivedAt.is_null()),
        Archived::Only => query.filter(C::ArchivedAt.is_not_null()),
        Archived::Included => query,
    };
    for term in &filter.q {
        query = query.filter(C::SearchText.like(format!("% {term}%")));
    }
    if let Some(company) = &filter.company {
        query = query.filter(
            Expr::expr(Func::lower(Expr::col(C::Company))).eq(company.trim().to_lowercase()),
        );
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(C::UpdatedAt.gte(since));
    }
    if !filter.tags.is_empty() {
        // Contacts carrying every requested tag.
        let tagged = contact_tag::Entity::find()
            .select_only()
            .column(contact_tag::Column::ContactId)
            .filter(contact_tag::Column::OwnerId.eq(owner_id))
            .filter(contact_tag::Column::Tag.is_in(filter.tags.iter().cloned()))
            .group_by(contact_tag::Column::ContactId)
            .having(
                Expr::col(contact_tag::Column::Tag)
                    .count()
                    .eq(filter.tags.len() as i64),
            )
            .into_query();
        query = query.filter(C::Id.in_subquery(tagged));
    }
    // Health and reciprocity match a large share of a network: compared through an expression,
    // so that the planner walks the sort's index and the page fills after a few rows, rather
    // than collecting every match through the filter column's index and sorting them all.
    if let Some(health) = filter.health {
        let (next, cold) = (
            super::unindexed(C::NextCheckInOn),
            super::unindexed(C::ColdOn),
        );
        query = query.filter(match health {
            Health::None => Condition::all().add(next.is_null()),
            Health::Ok => Condition::all().add(next.gt(today)),
            Health::Due => Condition::all().add(next.lte(today)).add(cold.gt(today)),
            Health::Cold => Condition::all().add(cold.lte(today)),
        });
    }
    if let Some(reciprocity) = filter.reciprocity {
        let balance = super::unindexed(C::Balance);
        query = query.filter(match reciprocity {
            Reciprocity::Giving => balance.gt(0),
            Reciprocity::Balanced => balance.eq(0),
            Reciprocity::Taking => balance.lt(0),
        });
    }
    // One-offs are few: their index `(owner_id, one_off_on)` finds them all, then they are
    // sorted. Their complement is most of the network, filtered along the sort's index.
    match filter.one_off {
        Some(true) => query = query.filter(C::OneOffOn.lte(today)),
        Some(false) => {
            let one_off_on = super::unindexed(C::OneOffOn);
            query = query.filter(
                Condition::any()
                    .add(one_off_on.clone().is_null())
                    .add(one_off_on.gt(today)),
            );
        }
        None => {}
    }
    query
}

/// A derived sort's cursor value as the stored column's value: a day number as a date, or
/// microseconds as an instant.
fn derived_value(sort: SortKey, value: i64) -> Result<sea_orm::Value, ApiError> {
    let invalid = || ApiError::new(ProblemCode::InvalidCursor, "cursor is not valid");
    Ok(match sort {
        SortKey::NextCheckInOn => i32::try_from(value)
            .ok()
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .ok_or_else(invalid)?
            .into(),
        _ => DateTime::from_timestamp_micros(value)
            .ok_or_else(invalid)?
            .into(),
    })
}

/// The parts of a derived sort, in order: ascending by the column with contacts without a
/// value last, then by id; descending is the exact reverse. Each part is an index range scan
/// (`(owner_id, column, id)` for the values, `(owner_id, id)` for the rest); a cursor in the
/// second part skips the first.
fn derived_parts(
    query: Select<contact::Entity>,
    filter: &ContactFilter,
) -> Result<Vec<Select<contact::Entity>>, ApiError> {
    use contact::Column as C;

    let column = match filter.sort {
        SortKey::NextCheckInOn => C::NextCheckInOn,
        _ => C::LastConversationAt,
    };
    let (cursor_value, cursor_id) = match &filter.after {
        Some(After::Derived(value, id)) => (Some(*value), Some(*id)),
        _ => (None, None),
    };
    let mut valued = query.clone().filter(column.is_not_null());
    if let (Some(Some(value)), Some(id)) = (cursor_value, cursor_id) {
        let value = derived_value(filter.sort, value)?;
        valued = valued.filter(beyond(column, C::Id, value, id, !filter.descending));
    }
    let mut valueless = query.filter(column.is_null());
    if let (Some(None), Some(id)) = (cursor_value, cursor_id) {
        valueless = valueless.filter(if filter.descending {
            C::Id.lt(id)
        } else {
            C::Id.gt(id)
        });
    }
    // Both parts order by (column, id), the valueless one too although its column is null
    // throughout: that is the order of the index, which then needs no sort on either backend.
    let order = |query: Select<contact::Entity>| {
        if filter.descending {
            query.order_by_desc(column).order_by_desc(C::Id)
        } else {
            query.order_by_asc(column).order_by_asc(C::Id)
        }
    };
    let (valued, valueless) = (order(valued), order(valueless));
    let in_second_part = cursor_value.is_some_and(|v| v.is_none() != filter.descending);
    Ok(match (filter.descending, in_second_part) {
        (false, false) => vec![valued, valueless],
        (true, false) => vec![valueless, valued],
        (false, true) => vec![valueless],
        (true, true) => vec![valued],
    })
}

/// The queries of one page of the contact list, each ordered, to run in turn until the page
/// is full: one for a stored sort, two for a derived one (see [`derived_parts`]). Every
/// filter, stored or derived, is a condition on the contact row.
pub fn page_queries(
    owner_id: Uuid,
    filter: &ContactFilter,
    today: NaiveDate,
) -> Result<Vec<Select<contact::Entity>>, ApiError> {
    use contact::Column as C;

    let mut query = filtered(owner_id, filter, today);
    let column = match filter.sort {
        SortKey::FullName => C::FullName,
        SortKey::CreatedAt => C::CreatedAt,
        SortKey::UpdatedAt => C::UpdatedAt,
        SortKey::NextCheckInOn | SortKey::LastConversationAt => {
            return derived_parts(query, filter);
        }
    };
    if let Some(after) = &filter.after {
        let (value, id) = match after {
            After::FullName(name, id) => (sea_orm::Value::from(name.clone()), *id),
            After::Instant(at, id) => (sea_orm::Value::from(*at), *id),
            After::Derived(..) => {
                return Err(ApiError::new(
                    ProblemCode::InvalidCursor,
                    "cursor is not valid",
                ));
            }
        };
        query = query.filter(beyond(column, C::Id, value, id, !filter.descending));
    }
    Ok(vec![if filter.descending {
        query.order_by_desc(column).order_by_desc(C::Id)
    } else {
        query.order_by_asc(column).order_by_asc(C::Id)
    }])
}

/// One page of the owner's contacts with their relationships, and whether more follow.
///
/// Every filter and sort, stored or derived, is an indexed query on the contact rows (see
/// [`page_queries`]): the relationship's inputs are stored on them (the ledger, brought up to
/// date first, see `services::ledger`). Then the page's tags: 2 statements (3 when the second
/// part of a derived sort is needed), plus the ledger's check for out-of-date rows.
pub async fn list(
    db: &Db,
    owner_id: Uuid,
    filter: &ContactFilter,
    today: &Today,
) -> Result<(Vec<Listed>, bool), ApiError> {
    ledger::catch_up(db, owner_id, today.now).await?;
    let limit = filter.limit + 1;
    let mut models = Vec::new();
    for query in page_queries(owner_id, filter, today.date())? {
        let rest = limit - models.len() as u64;
        models.extend(query.limit(rest).all(db.reader()).await?);
        if models.len() as u64 == limit {
            break;
        }
    }
    let has_more = models.len() as u64 > filter.limit;
    let mut listed: Vec<(contact::Model, Relationship)> = models
        .into_iter()
        .map(|m| {
            let history = ledger::stored_history(&m);
            let r = relationship::derive(&history, m.cadence_days, m.created_at, today);
            (m, r)
        })
        .collect();
    listed.truncate(filter.limit as usize);
    let ids: Vec<Uuid> = listed.iter().map(|(m, _)| m.id).collect();
    let mut tags = tags_of(db.reader(), &ids).await?;
    let page = listed
        .into_iter()
        .map(|(model, r)| {
            let contact = Contact {
                tags: tags.remove(&model.id).unwrap_or_default(),
                model,
            };
            (contact, r)
        })
        .collect();
    Ok((page, has_more))
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
