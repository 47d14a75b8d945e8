//! `rapport seed-demo`: a demo account with a small, realistic network, so that someone
//! exploring `/docs` sees follow-ups, suggestions and statistics at once.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use uuid::Uuid;

use crate::auth::password;
use crate::db::Db;
use crate::domain::records::{AskKind, AskStatus, Channel, OfferKind, OfferStatus, ThankYouStatus};
use crate::services::accounts::{self, NewAccount, ProfileChanges};
use crate::services::asks::{self, AskFields};
use crate::services::contacts::{self, ContactFields};
use crate::services::conversations::{self, ConversationFields};
use crate::services::offers::{self, OfferFields};

pub const EMAIL: &str = "demo@rapport.example";
pub const PASSWORD: &str = "rapport-demo-2026";

/// The demo login.
pub struct Login {
    pub email: &'static str,
    pub password: &'static str,
    pub user_id: Uuid,
}

struct Person {
    name: &'static str,
    company: &'static str,
    title: &'static str,
    how_we_met: &'static str,
    interests: &'static [&'static str],
    tags: &'static [&'static str],
    cadence_days: Option<i32>,
    /// Days before now the contact was added.
    added: i64,
}

const PEOPLE: [Person; 12] = [
    Person {
        name: "Grace Hopper",
        company: "Navy Labs",
        title: "Director of Compilers",
        how_we_met: "Panel at a compilers meetup",
        interests: &["compilers", "teaching"],
        tags: &["mentor"],
        cadence_days: Some(30),
        added: 120,
    },
    Person {
        name: "Alan Turing",
        company: "Bletchley Analytics",
        title: "Chief Scientist",
        how_we_met: "Introduced by Grace",
        interests: &["cryptography", "ai"],
        tags: &["research"],
        cadence_days: Some(60),
        added: 150,
    },
    Person {
        name: "Katherine Johnson",
        company: "Orbital Co",
        title: "Head of Trajectory",
        how_we_met: "Cold email about a role",
        interests: &["space", "math"],
        tags: &["hiring-manager"],
        cadence_days: Some(45),
        added: 110,
    },
    Person {
        name: "Margaret Hamilton",
        company: "Orbital Co",
        title: "VP Engineering",
        how_we_met: "Coffee after a talk",
        interests: &["reliability", "space"],
        tags: &["mentor"],
        cadence_days: Some(30),
        added: 100,
    },
    Person {
        name: "Linus Chen",
        company: "Kernel Labs",
        title: "Staff Engineer",
        how_we_met: "Sat together at a conference dinner",
        interests: &["kernels"],
        tags: &[],
        cadence_days: None,
        added: 60,
    },
    Person {
        name: "Ada Lovelace",
        company: "Analytical Engines",
        title: "Founder",
        how_we_met: "Alumni network",
        interests: &["ai", "poetry"],
        tags: &["founder"],
        cadence_days: Some(14),
        added: 90,
    },
    Person {
        name: "Barbara Liskov",
        company: "Kernel Labs",
        title: "Principal Architect",
        how_we_met: "Former manager",
        interests: &["distributed-systems"],
        tags: &["mentor"],
        cadence_days: Some(90),
        added: 130,
    },
    Person {
        name: "Tim Berners",
        company: "Web Foundation",
        title: "Director",
        how_we_met: "Standards meeting",
        interests: &["web", "standards"],
        tags: &[],
        cadence_days: Some(60),
        added: 80,
    },
    Person {
        name: "Radia Perlman",
        company: "Kernel Labs",
        title: "Network Architect",
        how_we_met: "Event chat at a networking night",
        interests: &["networking"],
        tags: &[],
        cadence_days: Some(30),
        added: 20,
    },
    Person {
        name: "Frances Allen",
        company: "Navy Labs",
        title: "Research Lead",
        how_we_met: "Met at this week's meetup",
        interests: &["compilers", "optimization"],
        tags: &[],
        cadence_days: None,
        added: 4,
    },
    Person {
        name: "Dennis Ritchie",
        company: "Bell Works",
        title: "Distinguished Engineer",
        how_we_met: "Open-source project",
        interests: &["unix", "c"],
        tags: &["open-source"],
        cadence_days: Some(120),
        added: 140,
    },
    Person {
        name: "Hedy Lamarr",
        company: "Studio Signals",
        title: "CTO",
        how_we_met: "Grace suggested we talk",
        interests: &["wireless"],
        tags: &["to-meet"],
        cadence_days: Some(30),
        added: 40,
    },
];

/// Creates the demo account, replacing an earlier one with everything it owned.
pub async fn seed(db: &Db, now: DateTime<Utc>) -> anyhow::Result<Login> {
    if let Some(existing) = accounts::find_by_email(db, EMAIL).await? {
        accounts::delete(db, existing.id).await?;
    }
    let ago = |days: i64| now - Duration::days(days);
    let user = accounts::register(
        db,
        NewAccount {
            email: EMAIL.to_owned(),
            password_hash: password::hash(PASSWORD).await?,
            display_name: "Demo Networker".to_owned(),
            time_zone: "Europe/London".to_owned(),
        },
        ago(180),
    )
    .await?;
    let owner = user.id;
    accounts::update_profile(
        db,
        owner,
        ProfileChanges {
            weekly_conversation_goal: Some(3),
            weekly_new_people_goal: Some(1),
            ..ProfileChanges::default()
        },
        ago(180),
    )
    .await?;

    let network = add_people(db, owner, now).await?;
    let zone = crate::domain::relationship::Today::new(now, &user.time_zone).zone;
    for fields in conversations_of(&network, now) {
        conversations::create(db, owner, fields, (now, zone), None).await?;
    }
    for (fields, days_ago) in offers_of(&network, now) {
        let at = now - Duration::days(days_ago);
        offers::create(db, owner, fields, (at, zone), None).await?;
    }
    for fields in asks_of(&network, now) {
        asks::create(db, owner, fields, (now, zone), None).await?;
    }
    Ok(Login {
        email: EMAIL,
        password: PASSWORD,
        user_id: owner,
    })
}

/// The demo network's people by first name (Hedy has no records).
#[derive(Clone, Copy)]
struct Network {
    grace: Uuid,
    alan: Uuid,
    katherine: Uuid,
    margaret: Uuid,
    linus: Uuid,
    ada: Uuid,
    barbara: Uuid,
    tim: Uuid,
    radia: Uuid,
    frances: Uuid,
    dennis: Uuid,
}

/// Adds the twelve people of `PEOPLE`.
async fn add_people(db: &Db, owner: Uuid, now: DateTime<Utc>) -> anyhow::Result<Network> {
    let ago = |days: i64| now - Duration::days(days);
    let mut ids = Vec::new();
    for p in &PEOPLE {
        let fields = ContactFields {
            full_name: p.name.to_owned(),
            company: Some(p.company.to_owned()),
            title: Some(p.title.to_owned()),
            how_we_met: Some(p.how_we_met.to_owned()),
            interests: p.interests.iter().map(|s| (*s).to_owned()).collect(),
            tags: p.tags.iter().map(|s| (*s).to_owned()).collect(),
            cadence_days: p.cadence_days,
            ..ContactFields::default()
        };
        ids.push(
            contacts::create(db, owner, fields, ago(p.added), None)
                .await?
                .model
                .id,
        );
    }
    let [
        grace,
        alan,
        katherine,
        margaret,
        linus,
        ada,
        barbara,
        tim,
        radia,
        frances,
        dennis,
        _hedy,
    ] = ids[..]
    else {
        anyhow::bail!("the demo network has twelve people");
    };
    Ok(Network {
        grace,
        alan,
        katherine,
        margaret,
        linus,
        ada,
        barbara,
        tim,
        radia,
        frances,
        dennis,
    })
}

/// The conversations of the demo network, oldest first as written, the last one with its
/// thank-you owed and a next step due. A list of records: split, it would only scatter them.
fn conversations_of(n: &Network, now: DateTime<Utc>) -> Vec<ConversationFields> {
    let Network {
        grace,
        alan,
        katherine,
        margaret,
        linus,
        ada,
        barbara,
        tim,
        radia,
        frances,
        dennis,
    } = *n;
    let ago = |days: i64| now - Duration::days(days);
    let talk =
        |days: i64, with: Vec<Uuid>, channel: Channel, summary: &str, thanks: ThankYouStatus| {
            let at = ago(days) + Duration::hours(2);
            ConversationFields {
                occurred_at: at,
                channel,
                participant_ids: with,
                summary: summary.to_owned(),
                thank_you_status: thanks,
                thank_you_sent_at: (thanks == ThankYouStatus::Sent)
                    .then_some(at + Duration::days(1)),
                ..ConversationFields::default()
            }
        };
    use Channel::*;
    use ThankYouStatus::{NotNeeded, Owed, Sent};
    let mut history = vec![
        talk(
            80,
            vec![grace],
            Coffee,
            "Coffee: how she moved from research to management",
            Sent,
        ),
        talk(
            45,
            vec![grace, barbara],
            Meal,
            "Lunch with Grace and Barbara",
            Sent,
        ),
        talk(
            12,
            vec![grace],
            Call,
            "Call about the teaching programme",
            Sent,
        ),
        talk(
            95,
            vec![alan],
            Video,
            "Video call on applied cryptography",
            Sent,
        ),
        talk(
            70,
            vec![katherine],
            Call,
            "Informational interview about Orbital Co",
            NotNeeded,
        ),
        talk(
            30,
            vec![katherine],
            Email,
            "Email thread about the trajectory team",
            NotNeeded,
        ),
        talk(
            50,
            vec![linus],
            Event,
            "Conference dinner: kernel scheduling war stories",
            NotNeeded,
        ),
        talk(
            15,
            vec![ada],
            Coffee,
            "Coffee: her new startup's seed round",
            Sent,
        ),
        talk(
            40,
            vec![ada],
            Call,
            "Call: advice on hiring a first engineer",
            Sent,
        ),
        talk(60, vec![barbara], Meal, "Dinner catch-up", Sent),
        talk(
            25,
            vec![dennis],
            Video,
            "Pairing session on the open-source release",
            NotNeeded,
        ),
        talk(
            1,
            vec![radia, margaret],
            Event,
            "Networking night: talked about reliability culture",
            Owed,
        ),
        talk(
            4,
            vec![frances],
            Event,
            "Compilers meetup: her optimization research",
            Owed,
        ),
        talk(8, vec![margaret], Coffee, "Coffee at Orbital Co", Sent),
        talk(22, vec![tim], Meeting, "Standards working group", NotNeeded),
        talk(
            120,
            vec![dennis],
            Call,
            "First call about contributing",
            Sent,
        ),
    ];
    let mut follow_up = talk(
        2,
        vec![margaret],
        Coffee,
        "Coffee: Orbital Co's platform team",
        Owed,
    );
    follow_up.next_step = Some("Send Margaret my notes on incident reviews".to_owned());
    follow_up.next_step_due_on = Some(date_in(now, 3));
    history.push(follow_up);
    history
}

/// The offers of the demo network, each with how many days ago it was created. A list of
/// records: split, it would only scatter them.
fn offers_of(n: &Network, now: DateTime<Utc>) -> Vec<(OfferFields, i64)> {
    let Network {
        grace,
        alan,
        katherine,
        ada,
        barbara,
        tim,
        dennis,
        ..
    } = *n;
    let ago = |days: i64| now - Duration::days(days);
    let offer = |contact, kind, title: &str, status, topics: &[&str], days: i64| {
        let offered = status != OfferStatus::Idea;
        let answered = matches!(status, OfferStatus::Acknowledged | OfferStatus::Declined);
        OfferFields {
            contact_id: contact,
            kind,
            title: title.to_owned(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            status,
            offered_at: offered.then(|| ago(days)),
            responded_at: answered.then(|| ago(days) + Duration::days(2)),
            ..OfferFields::default()
        }
    };
    use OfferStatus::{Acknowledged, Idea, Offered};
    vec![
        (
            offer(
                grace,
                OfferKind::Article,
                "Article on teaching compilers to beginners",
                Acknowledged,
                &["compilers", "teaching"],
                78,
            ),
            80,
        ),
        (
            offer(
                grace,
                OfferKind::Introduction,
                "Introduction to Hedy Lamarr",
                Offered,
                &[],
                11,
            ),
            12,
        ),
        (
            offer(
                alan,
                OfferKind::Analysis,
                "My notes on their latest paper",
                Acknowledged,
                &["ai"],
                94,
            ),
            95,
        ),
        (
            offer(
                ada,
                OfferKind::Referral,
                "Referral of a senior engineer",
                Acknowledged,
                &["hiring"],
                14,
            ),
            15,
        ),
        (
            offer(
                barbara,
                OfferKind::News,
                "News from the Kernel Labs reorg",
                Acknowledged,
                &[],
                59,
            ),
            60,
        ),
        (
            offer(
                dennis,
                OfferKind::Help,
                "Reviewed the release notes",
                Acknowledged,
                &["open-source"],
                24,
            ),
            25,
        ),
        (
            offer(
                dennis,
                OfferKind::Article,
                "Benchmark write-up",
                Offered,
                &["c"],
                24,
            ),
            25,
        ),
        (
            offer(
                tim,
                OfferKind::Analysis,
                "Write-up of the standards meeting",
                Idea,
                &["web", "standards"],
                0,
            ),
            10,
        ),
        (
            offer(
                grace,
                OfferKind::Resource,
                "Course notes on code optimization",
                Idea,
                &["compilers", "optimization"],
                0,
            ),
            3,
        ),
        (
            offer(
                katherine,
                OfferKind::News,
                "Launch schedule news from a friend",
                Idea,
                &["space"],
                0,
            ),
            2,
        ),
    ]
}

/// The asks of the demo network.
fn asks_of(n: &Network, now: DateTime<Utc>) -> Vec<AskFields> {
    let Network {
        alan,
        katherine,
        margaret,
        barbara,
        ..
    } = *n;
    let ago = |days: i64| now - Duration::days(days);
    let ask = |contact, kind, title: &str, status, days: i64| AskFields {
        contact_id: contact,
        kind,
        title: title.to_owned(),
        status,
        asked_at: (status != AskStatus::Planned).then(|| ago(days)),
        resolved_at: matches!(status, AskStatus::Granted | AskStatus::Declined)
            .then(|| ago(days) + Duration::days(3)),
        ..AskFields::default()
    };
    vec![
        ask(
            katherine,
            AskKind::InformationalInterview,
            "Informational interview",
            AskStatus::Granted,
            72,
        ),
        ask(
            katherine,
            AskKind::Referral,
            "Referral to the trajectory team",
            AskStatus::Granted,
            31,
        ),
        ask(
            katherine,
            AskKind::ResumeReview,
            "Review my resume",
            AskStatus::Asked,
            20,
        ),
        ask(
            barbara,
            AskKind::Advice,
            "Advice on a staff-engineer offer",
            AskStatus::Granted,
            58,
        ),
        ask(
            alan,
            AskKind::Introduction,
            "Introduction to his research group",
            AskStatus::Asked,
            90,
        ),
        ask(
            margaret,
            AskKind::Feedback,
            "Feedback on my talk proposal",
            AskStatus::Planned,
            0,
        ),
    ]
}

/// The UTC date `days` after `now`.
fn date_in(now: DateTime<Utc>, days: i64) -> NaiveDate {
    (now + Duration::days(days)).date_naive()
}
