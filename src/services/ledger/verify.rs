//! `rapport ledger verify` and `rebuild`: every stored fact the ledger keeps (each contact's
//! ledger and name key, tag counts, idea topics, activity counts, follow-up due dates)
//! compared with what the records give, and rewritten where it differs.

use chrono::{DateTime, Utc};
use entity::{contact, user};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{STORE_CHUNK, recompute, refresh_all};
use crate::db::Db;
use crate::domain::relationship::Ledger;
use crate::domain::suggestions::name_key;
use crate::error::ApiError;
use crate::services::owner::Owner;
use crate::services::{activity, due_dates, idea_topics, tag_counts};

/// The owner's contacts whose stored `name_key` is not their name's, with the right one.
async fn wrong_name_keys(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
) -> Result<Vec<(Uuid, String, String)>, ApiError> {
    use contact::Column as C;

    let rows: Vec<(Uuid, String, String)> = contact::Entity::find()
        .select_only()
        .columns([C::Id, C::FullName, C::NameKey])
        .filter(C::OwnerId.eq(owner_id))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name, stored)| {
            let expected = name_key(&name);
            (stored != expected).then_some((id, stored, expected))
        })
        .collect())
}

/// Rewrites the owner's wrong name keys, in the caller's transaction; returns how many.
pub(super) async fn fix_name_keys(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
) -> Result<usize, ApiError> {
    use contact::Column as C;
    use sea_orm::sea_query::{CaseStatement, Expr};

    let wrong = wrong_name_keys(conn, owner_id).await?;
    for chunk in wrong.chunks(STORE_CHUNK) {
        let mut case = CaseStatement::new();
        for (id, _, expected) in chunk {
            case = case.case(Expr::col(C::Id).eq(*id), Expr::val(expected.as_str()));
        }
        contact::Entity::update_many()
            .col_expr(C::NameKey, case.finally(Expr::col(C::NameKey)).into())
            .filter(C::Id.is_in(chunk.iter().map(|(id, ..)| *id)))
            .filter(C::OwnerId.eq(owner_id))
            .exec(conn)
            .await?;
    }
    Ok(wrong.len())
}

/// A stored ledger that differs from the one its records give, a stored name key that differs
/// from the one the name gives, a tag count, an idea's topic rows or activity counts that
/// differ from the records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    Ledger {
        owner_id: Uuid,
        contact_id: Uuid,
        stored: Box<Ledger>,
        expected: Box<Ledger>,
    },
    NameKey {
        owner_id: Uuid,
        contact_id: Uuid,
        stored: String,
        expected: String,
    },
    /// How many contacts carry a tag.
    TagCount {
        owner_id: Uuid,
        tag: String,
        stored: i64,
        expected: i64,
    },
    /// The activity counts of a day, week or month.
    Activity {
        owner_id: Uuid,
        period: String,
        starts_on: chrono::NaiveDate,
        stored: activity::Counts,
        expected: activity::Counts,
    },
    /// The due date stored on a follow-up's row.
    DueDate {
        owner_id: Uuid,
        misdated: due_dates::Misdated,
    },
    /// An idea's `idea_topic` rows, as (topic, offer's creation instant).
    IdeaTopics {
        owner_id: Uuid,
        offer_id: Uuid,
        stored: idea_topics::Rows,
        expected: idea_topics::Rows,
    },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ledger {
                owner_id,
                contact_id,
                stored,
                expected,
            } => write!(
                f,
                "owner {owner_id} contact {contact_id}: stored {stored:?}, expected {expected:?}"
            ),
            Self::NameKey {
                owner_id,
                contact_id,
                stored,
                expected,
            } => write!(
                f,
                "owner {owner_id} contact {contact_id}: stored name key {stored:?}, expected \
                 {expected:?}"
            ),
            Self::TagCount {
                owner_id,
                tag,
                stored,
                expected,
            } => write!(
                f,
                "owner {owner_id} tag {tag:?}: stored count {stored}, expected {expected}"
            ),
            Self::Activity {
                owner_id,
                period,
                starts_on,
                stored,
                expected,
            } => write!(
                f,
                "owner {owner_id} {period} of {starts_on}: stored activity {stored:?}, expected \
                 {expected:?}"
            ),
            Self::DueDate { owner_id, misdated } => write!(
                f,
                "owner {owner_id} {:?}: stored due date {:?}, expected {:?}",
                misdated.row, misdated.stored, misdated.expected
            ),
            Self::IdeaTopics {
                owner_id,
                offer_id,
                stored,
                expected,
            } => write!(
                f,
                "owner {owner_id} offer {offer_id}: stored idea topics {stored:?}, expected \
                 {expected:?}"
            ),
        }
    }
}

/// Every contact of `owner_id` whose stored ledger differs from its records as of `now`.
/// Rows out of date at `now` are skipped: a read brings them up to date before using them.
/// Meant for a quiet database: a write between its statements shows as a difference.
pub async fn verify_owner(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Difference>, ApiError> {
    let zone = crate::services::owner::zone(conn, owner_id).await?;
    let (expected, _, mut stored) = recompute(conn, owner_id, None, zone, now).await?;
    let ledgers = expected.into_iter().filter_map(|(contact_id, expected)| {
        let stored = stored.remove(&contact_id)?;
        (!stored.is_stale(now) && stored != expected).then(|| Difference::Ledger {
            owner_id,
            contact_id,
            stored: Box::new(stored),
            expected: Box::new(expected),
        })
    });
    let names =
        wrong_name_keys(conn, owner_id)
            .await?
            .into_iter()
            .map(|(contact_id, stored, expected)| Difference::NameKey {
                owner_id,
                contact_id,
                stored,
                expected,
            });
    let topics = idea_topics::wrong(conn, owner_id).await?.into_iter().map(
        |(offer_id, stored, expected)| Difference::IdeaTopics {
            owner_id,
            offer_id,
            stored,
            expected,
        },
    );
    let tags =
        tag_counts::wrong(conn, owner_id)
            .await?
            .into_iter()
            .map(|(tag, stored, expected)| Difference::TagCount {
                owner_id,
                tag,
                stored,
                expected,
            });
    let counts = activity::wrong(conn, owner_id, zone)
        .await?
        .into_iter()
        .map(
            |(period, starts_on, stored, expected)| Difference::Activity {
                owner_id,
                period,
                starts_on,
                stored,
                expected,
            },
        );
    let due_dates = due_dates::wrong(conn, owner_id, zone)
        .await?
        .into_iter()
        .map(|misdated| Difference::DueDate { owner_id, misdated });
    Ok(ledgers
        .chain(names)
        .chain(due_dates)
        .chain(topics)
        .chain(tags)
        .chain(counts)
        .collect())
}

/// Every owner's ids, oldest first.
pub(super) async fn owners(conn: &impl ConnectionTrait) -> Result<Vec<Uuid>, ApiError> {
    Ok(user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .order_by_asc(user::Column::Id)
        .into_tuple()
        .all(conn)
        .await?)
}

/// `rapport ledger verify`: every difference in the database.
pub async fn verify(db: &Db, now: DateTime<Utc>) -> Result<Vec<Difference>, ApiError> {
    let mut differences = Vec::new();
    for owner_id in owners(db.reader()).await? {
        differences.extend(verify_owner(db.reader(), owner_id, now).await?);
    }
    Ok(differences)
}

/// `rapport ledger rebuild`: every owner's ledger recomputed, wrong name keys, idea topics,
/// tag counts and follow-up due dates rewritten, activity counts recounted, one transaction per owner. Returns the number of contacts rewritten.
pub async fn rebuild(db: &Db, now: DateTime<Utc>) -> Result<usize, ApiError> {
    let mut rewritten = 0;
    for owner_id in owners(db.reader()).await? {
        rewritten += db
            .write(move |txn| {
                Box::pin(async move {
                    let mut owner = Owner::new(owner_id);
                    let rows = refresh_all(txn, &mut owner, now).await?;
                    fix_name_keys(txn, owner_id).await?;
                    idea_topics::fix(txn, owner_id).await?;
                    tag_counts::fix(txn, owner_id).await?;
                    let zone = owner.zone(txn).await?;
                    activity::rebuild_owner(txn, owner_id, zone).await?;
                    due_dates::fix(txn, owner_id, zone).await?;
                    Ok(rows)
                })
            })
            .await?;
    }
    Ok(rewritten)
}
