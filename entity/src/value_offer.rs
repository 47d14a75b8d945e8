use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "value_offer")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub owner_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The recipient.
    pub contact_id: Uuid,
    pub conversation_id: Option<Uuid>,
    pub kind: String,
    pub title: String,
    pub details: Option<String>,
    /// `idea` → `offered` → `acknowledged` | `declined`.
    pub status: String,
    pub url: Option<String>,
    /// JSON array of normalised topics.
    pub topics: Json,
    /// For introductions: the other person.
    pub introduced_contact_id: Option<Uuid>,
    pub offered_at: Option<DateTimeUtc>,
    pub responded_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// While an idea: the day delivering it falls due, the local date (in the owner's time
    /// zone) of `created_at` plus a week. Null otherwise.
    pub deliver_due_on: Option<Date>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
