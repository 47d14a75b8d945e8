use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contact")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub owner_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub full_name: String,
    pub preferred_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub location: Option<String>,
    /// JSON array of http(s) URLs.
    pub links: Json,
    pub how_we_met: Option<String>,
    pub met_on: Option<Date>,
    pub introduced_by_id: Option<Uuid>,
    /// JSON array of normalised topics.
    pub interests: Json,
    pub notes: Option<String>,
    pub cadence_days: Option<i32>,
    pub archived_at: Option<DateTimeUtc>,
    /// Lower-cased words of the searchable fields, space-separated with a leading space, so a
    /// word-prefix search is `LIKE '% term%'`.
    pub search_text: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    // The relationship ledger, kept by the application (`services::ledger`): the history as
    // of the last refresh, then the local dates on which health and one-off status change.
    /// Past conversations with the contact.
    pub conversation_count: i64,
    pub first_conversation_at: Option<DateTimeUtc>,
    pub last_conversation_at: Option<DateTimeUtc>,
    /// Past conversations whose thank-you is owed.
    pub thank_yous_owed: i64,
    /// Offers `offered` or `acknowledged`.
    pub gives: i64,
    /// Asks `asked` or `granted`.
    pub asks: i64,
    /// `gives` − `asks`.
    pub balance: i64,
    /// The next planned conversation: from then on the row is out of date and is recomputed.
    pub refresh_at: Option<DateTimeUtc>,
    pub next_check_in_on: Option<Date>,
    /// First day of `cold` health.
    pub cold_on: Option<Date>,
    /// First day the contact counts as a one-off.
    pub one_off_on: Option<Date>,
    /// The suggestion points that do not depend on the date: thank-yous owed and taking.
    pub suggestion_base: i64,
    /// `full_name` lower-cased, the order of equal suggestions; compared byte by byte.
    pub name_key: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::OwnerId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    #[sea_orm(has_many = "super::contact_tag::Entity")]
    ContactTag,
}

impl Related<super::contact_tag::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ContactTag.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
