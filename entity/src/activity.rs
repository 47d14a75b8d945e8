use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activity")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub owner_id: Uuid,
    /// `day`, `week` or `month`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub period: String,
    /// The period's first local date in the owner's time zone (weeks start on Monday).
    #[sea_orm(primary_key, auto_increment = false)]
    pub starts_on: Date,
    /// Day rows: conversations of the date, planned ones included, with their thank-yous.
    pub conversations: i64,
    pub thank_yous_sent: i64,
    pub thank_yous_owed: i64,
    /// Week and month rows: distinct contacts who took part in a conversation in the period.
    pub people: i64,
    /// Day rows: offers given and asks made on the date.
    pub offers: i64,
    pub asks: i64,
    /// Day rows: contacts whose first past conversation, as the ledger stores it (the
    /// contact's `first_conversation_at`), is on the date.
    pub firsts: i64,
    /// Day rows: contacts whose last past conversation, as the ledger stores it, is on the date.
    pub lasts: i64,
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
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
