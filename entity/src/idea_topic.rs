use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idea_topic")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub owner_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub offer_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub topic: String,
    /// The offer's `created_at`: ideas on a topic are read oldest first.
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::value_offer::Entity",
        from = "Column::OfferId",
        to = "super::value_offer::Column::Id",
        on_delete = "Cascade"
    )]
    ValueOffer,
}

impl Related<super::value_offer::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ValueOffer.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
