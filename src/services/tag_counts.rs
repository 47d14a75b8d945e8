//! `tag_count`: how many of an owner's contacts carry each tag. Every write that adds or
//! removes a contact's tags calls [`adjust`] in its transaction, with relative updates (two
//! writers adding the same tag at once both count on PostgreSQL); a row that reaches 0 goes.
//! `rapport ledger verify` and `rebuild` compare and repair the counts.

use std::collections::BTreeMap;

use entity::{contact_tag, tag_count};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::error::ApiError;

/// Counts `added` tags one more and `removed` ones one fewer, in the caller's transaction:
/// at most three statements, none when both are empty.
pub async fn adjust(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
    added: &[String],
    removed: &[String],
) -> Result<(), ApiError> {
    use tag_count::Column as T;

    if !added.is_empty() {
        let rows = added.iter().map(|tag| tag_count::ActiveModel {
            owner_id: Set(owner_id),
            tag: Set(tag.clone()),
            contacts: Set(1),
        });
        tag_count::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([T::OwnerId, T::Tag])
                    .value(
                        T::Contacts,
                        Expr::col((tag_count::Entity, T::Contacts)).add(1),
                    )
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    if !removed.is_empty() {
        tag_count::Entity::update_many()
            .col_expr(T::Contacts, Expr::col(T::Contacts).sub(1))
            .filter(T::OwnerId.eq(owner_id))
            .filter(T::Tag.is_in(removed.iter().cloned()))
            .exec(conn)
            .await?;
        tag_count::Entity::delete_many()
            .filter(T::OwnerId.eq(owner_id))
            .filter(T::Tag.is_in(removed.iter().cloned()))
            .filter(T::Contacts.lte(0))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// The owner's tags with their counts, most used first, then by tag.
pub async fn list(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
) -> Result<Vec<(String, i64)>, ApiError> {
    use tag_count::Column as T;

    Ok(tag_count::Entity::find()
        .select_only()
        .columns([T::Tag, T::Contacts])
        .filter(T::OwnerId.eq(owner_id))
        .order_by_desc(T::Contacts)
        .order_by_asc(T::Tag)
        .into_tuple()
        .all(conn)
        .await?)
}

/// The owner's tags whose stored count differs from their contacts: (tag, stored, expected).
pub async fn wrong(
    conn: &impl ConnectionTrait,
    owner_id: Uuid,
) -> Result<Vec<(String, i64, i64)>, ApiError> {
    use contact_tag::Column as C;

    let counted: Vec<(String, i64)> = contact_tag::Entity::find()
        .select_only()
        .column(C::Tag)
        .column_as(Expr::col(C::ContactId).count(), "contacts")
        .filter(C::OwnerId.eq(owner_id))
        .group_by(C::Tag)
        .into_tuple()
        .all(conn)
        .await?;
    let mut expected: BTreeMap<String, i64> = counted.into_iter().collect();
    let mut wrong = Vec::new();
    for (tag, stored) in list(conn, owner_id).await? {
        let should = expected.remove(&tag).unwrap_or(0);
        if stored != should {
            wrong.push((tag, stored, should));
        }
    }
    wrong.extend(expected.into_iter().map(|(tag, should)| (tag, 0, should)));
    Ok(wrong)
}

/// Rewrites the counts [`wrong`] finds, in the caller's transaction; returns how many.
pub async fn fix(conn: &impl ConnectionTrait, owner_id: Uuid) -> Result<usize, ApiError> {
    use tag_count::Column as T;

    let wrong = wrong(conn, owner_id).await?;
    for (tag, _, expected) in &wrong {
        tag_count::Entity::delete_many()
            .filter(T::OwnerId.eq(owner_id))
            .filter(T::Tag.eq(tag.as_str()))
            .exec(conn)
            .await?;
        if *expected > 0 {
            tag_count::Entity::insert(tag_count::ActiveModel {
                owner_id: Set(owner_id),
                tag: Set(tag.clone()),
                contacts: Set(*expected),
            })
            .exec_without_returning(conn)
            .await?;
        }
    }
    Ok(wrong.len())
}
