//! The vocabulary of conversations, value offers and asks, and their status rules.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::FieldError;

/// A closed set of snake_case values stored as text; `default V` names the value a new record
/// starts with when the client does not give one.
macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident $(default $default:ident)? { $($(#[$vdoc:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant),* }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }

            /// Reads a stored value; `None` for anything else.
            pub fn from_stored(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)* _ => None }
            }
        }

        $(
            impl Default for $name {
                fn default() -> Self {
                    Self::$default
                }
            }
        )?
    };
}

vocabulary!(
    /// How a conversation happened.
    Channel default Other {
        Coffee => "coffee", Meal => "meal", Call => "call", Video => "video", Email => "email",
        Message => "message", Event => "event", Meeting => "meeting", Other => "other",
    }
);

vocabulary!(
    /// Who reached out first.
    InitiatedBy { Me => "me", Them => "them" }
);

vocabulary!(
    /// Whether a thank-you note is owed for a conversation.
    ThankYouStatus default Owed { Owed => "owed", Sent => "sent", NotNeeded => "not_needed" }
);

vocabulary!(
    /// What a value offer gives.
    OfferKind default Other {
        Article => "article", News => "news", Analysis => "analysis",
        Introduction => "introduction", Referral => "referral", Advice => "advice",
        Resource => "resource", Help => "help", Other => "other",
    }
);

vocabulary!(
    /// Where a value offer stands: `idea` → `offered` → `acknowledged` | `declined`.
    OfferStatus default Idea { Idea => "idea", Offered => "offered", Acknowledged => "acknowledged", Declined => "declined" }
);

vocabulary!(
    /// What an ask requests.
    AskKind default Other {
        InformationalInterview => "informational_interview", Referral => "referral",
        Introduction => "introduction", Advice => "advice", Feedback => "feedback",
        JobLead => "job_lead", ResumeReview => "resume_review", Other => "other",
    }
);

vocabulary!(
    /// Where an ask stands: `planned` → `asked` → `granted` | `declined` | `withdrawn`.
    AskStatus default Planned {
        Planned => "planned", Asked => "asked", Granted => "granted", Declined => "declined",
        Withdrawn => "withdrawn",
    }
);

impl OfferStatus {
    /// The statuses that count as given in a relationship's balance.
    pub const GIVEN: [Self; 2] = [Self::Offered, Self::Acknowledged];

    /// Whether the stored status `text` counts as given.
    pub fn is_given(text: &str) -> bool {
        Self::GIVEN.iter().any(|s| s.as_str() == text)
    }
}

impl AskStatus {
    /// The statuses that count as asked in a relationship's balance.
    pub const ASKED: [Self; 2] = [Self::Asked, Self::Granted];

    /// Whether the stored status `text` counts as asked.
    pub fn is_asked(text: &str) -> bool {
        Self::ASKED.iter().any(|s| s.as_str() == text)
    }
}

/// A status with a stage: 0 before it happens, 1 once it happened, 2 once it was answered.
pub trait Stage: Copy + PartialEq {
    fn stage(self) -> u8;

    /// The status as the API writes it.
    fn name(self) -> &'static str;

    /// A status may stay or move to a later stage; never back, never sideways between answers.
    fn may_become(self, next: Self) -> bool {
        self == next || next.stage() > self.stage()
    }

    /// Moves the status to `next` if it may become it; 422 `invalid_transition` otherwise.
    fn advance(&mut self, next: Self) -> Result<(), FieldError> {
        if !self.may_become(next) {
            return Err(FieldError::new(
                "status",
                "invalid_transition",
                format!("cannot go from {} to {}", self.name(), next.name()),
            ));
        }
        *self = next;
        Ok(())
    }
}

impl Stage for OfferStatus {
    fn name(self) -> &'static str {
        self.as_str()
    }

    fn stage(self) -> u8 {
        match self {
            Self::Idea => 0,
            Self::Offered => 1,
            Self::Acknowledged | Self::Declined => 2,
        }
    }
}

impl Stage for AskStatus {
    fn name(self) -> &'static str {
        self.as_str()
    }

    fn stage(self) -> u8 {
        match self {
            Self::Planned => 0,
            Self::Asked => 1,
            Self::Granted | Self::Declined | Self::Withdrawn => 2,
        }
    }
}

/// The two timestamps a status carries (`offered_at`/`responded_at`, `asked_at`/`resolved_at`),
/// stamped with `now` when the status reaches their stage and they are still empty.
pub fn stamp<S: Stage, T: Copy>(
    status: S,
    happened: &mut Option<T>,
    answered: &mut Option<T>,
    now: T,
) {
    if status.stage() >= 1 && happened.is_none() {
        *happened = Some(now);
    }
    if status.stage() >= 2 && answered.is_none() {
        *answered = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_move_forward_only() {
        use OfferStatus::*;
        assert!(Idea.may_become(Offered) && Offered.may_become(Acknowledged));
        assert!(Idea.may_become(Declined), "skipping forward is allowed");
        assert!(Offered.may_become(Offered), "staying is allowed");
        assert!(!Acknowledged.may_become(Idea) && !Offered.may_become(Idea));
        assert!(!Acknowledged.may_become(Declined), "an answer is final");
        assert!(AskStatus::Asked.may_become(AskStatus::Withdrawn));
        assert!(!AskStatus::Granted.may_become(AskStatus::Asked));
    }

    #[test]
    fn stamps_fill_empty_timestamps_when_their_stage_is_reached() {
        let (mut offered, mut responded) = (None, None);
        stamp(OfferStatus::Idea, &mut offered, &mut responded, 1);
        assert_eq!((offered, responded), (None, None));
        stamp(OfferStatus::Offered, &mut offered, &mut responded, 2);
        assert_eq!((offered, responded), (Some(2), None));
        stamp(OfferStatus::Acknowledged, &mut offered, &mut responded, 3);
        assert_eq!(
            (offered, responded),
            (Some(2), Some(3)),
            "given values are kept"
        );
    }

    #[test]
    fn stored_values_round_trip() {
        for status in [AskStatus::Planned, AskStatus::Withdrawn] {
            assert_eq!(AskStatus::from_stored(status.as_str()), Some(status));
        }
        assert_eq!(Channel::from_stored("carrier_pigeon"), None);
        assert_eq!(serde_json::to_value(AskKind::JobLead).unwrap(), "job_lead");
    }
}
