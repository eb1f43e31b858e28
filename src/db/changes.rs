//! What one instance tells the others sharing a PostgreSQL database: changes that make their
//! in-memory read model stale, and new push jobs. Sent with `pg_notify` inside the writing
//! transaction, so it goes out exactly when the change commits and never for a rollback.
//! On SQLite there is one server per database, so nothing is sent.

use diesel::RunQueryDsl;
use diesel::sql_types::Text;

use crate::db::AnyConnection;
use crate::domain::{AssociationId, AudienceKey, HouseholdId, MemberId, PostId};
use crate::places::Moved;

/// The channel every instance listens on.
pub const CHANNEL: &str = "kairan_changes";

/// NOTIFY payloads must stay under 8,000 bytes; many households share one when they fit.
const MAX_PAYLOAD: usize = 7_000;

/// A committed receipt: a member opened a post (and, with `confirmed`, confirmed it for their
/// household), or an officer confirmed on paper for a household (no member).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub post: PostId,
    pub member: Option<MemberId>,
    pub household: HouseholdId,
    pub confirmed: bool,
}

/// Posts that were published, edited, withdrawn or expired early, and the inbox feeds they
/// are (or were, before a withdrawal) listed in: what the in-memory read model must drop.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostsChanged {
    pub posts: Vec<PostId>,
    pub feeds: Vec<AudienceKey>,
}

impl PostsChanged {
    pub fn is_empty(&self) -> bool {
        self.posts.is_empty() && self.feeds.is_empty()
    }

    pub fn extend(&mut self, other: PostsChanged) {
        self.posts.extend(other.posts);
        for feed in other.feeds {
            if !self.feeds.contains(&feed) {
                self.feeds.push(feed);
            }
        }
    }

    fn changes(&self) -> impl Iterator<Item = Change> + '_ {
        let posts = self.posts.iter().cloned().map(Change::Post);
        posts.chain(self.feeds.iter().cloned().map(Change::Feed))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Every post may have changed (an older instance's word, during a rolling upgrade).
    Posts,
    /// A post was published, edited, withdrawn or expired early.
    Post(PostId),
    /// The posts listed under an inbox key changed.
    Feed(AudienceKey),
    /// A member, household or association changed place.
    Roster(Moved),
    /// A member read (or confirmed) a post, or a household's confirmation was recorded on paper.
    Receipt(Recorded),
    /// Push deliveries were queued.
    Push,
    /// A member's token generation moved on: their access tokens stop.
    Tokens(MemberId),
}

/// Sends `changes` when the current transaction commits (PostgreSQL only).
pub fn announce(conn: &mut AnyConnection, changes: &[Change]) -> diesel::QueryResult<()> {
    let AnyConnection::Postgresql(pg) = conn else {
        return Ok(());
    };
    for payload in payloads(changes) {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<Text, _>(CHANNEL)
            .bind::<Text, _>(payload)
            .execute(pg)?;
    }
    Ok(())
}

/// Sends what `changed` says when the current transaction commits (PostgreSQL only).
pub fn announce_posts(conn: &mut AnyConnection, changed: &PostsChanged) -> diesel::QueryResult<()> {
    if changed.is_empty() {
        return Ok(());
    }
    announce(conn, &changed.changes().collect::<Vec<_>>())
}

/// Space-separated words: `posts` (every post), `post:<id>`, `feed:<audience key>`, `push`, `read:<post>:<member>:<household>`,
/// `confirm:<post>:<member or ->:<household>`, `tokens:<member id>`, `member:<id>`,
/// `household:<id>`, `association:<id>` (moved) and `roster` (everyone).
fn payloads(changes: &[Change]) -> Vec<String> {
    let mut payloads = vec![String::new()];
    for change in changes {
        let word = match change {
            Change::Posts => "posts".to_string(),
            Change::Post(post) => format!("post:{post}"),
            Change::Feed(key) => format!("feed:{}", key.as_str()),
            Change::Roster(Moved::Member(member)) => format!("member:{member}"),
            Change::Roster(Moved::Household(household)) => format!("household:{household}"),
            Change::Roster(Moved::Association(association)) => {
                format!("association:{association}")
            }
            Change::Roster(Moved::Everyone) => "roster".to_string(),
            Change::Push => "push".to_string(),
            Change::Receipt(r) => format!(
                "{}:{}:{}:{}",
                if r.confirmed { "confirm" } else { "read" },
                r.post,
                r.member.as_ref().map_or("-", MemberId::as_str),
                r.household
            ),
            Change::Tokens(member) => format!("tokens:{member}"),
        };
        let last = payloads
            .last_mut()
            .filter(|p| p.len() + word.len() < MAX_PAYLOAD);
        match last {
            Some(payload) => {
                if !payload.is_empty() {
                    payload.push(' ');
                }
                payload.push_str(&word);
            }
            None => payloads.push(word),
        }
    }
    payloads.retain(|p| !p.is_empty());
    payloads
}

/// What a payload says; unknown words (from a newer version during a rolling upgrade) are
/// skipped.
pub fn parse(payload: &str) -> Vec<Change> {
    payload
        .split(' ')
        .filter_map(|word| match word {
            "posts" => Some(Change::Posts),
            "roster" => Some(Change::Roster(Moved::Everyone)),
            "push" => Some(Change::Push),
            _ => {
                let (kind, id) = word.split_once(':')?;
                if kind == "read" || kind == "confirm" {
                    return receipt(kind == "confirm", id);
                }
                if kind == "feed" {
                    return AudienceKey::parse(id).map(Change::Feed);
                }
                let id = id.to_string();
                match kind {
                    "tokens" => Some(Change::Tokens(MemberId(id))),
                    "post" => Some(Change::Post(PostId(id))),
                    "member" => Some(Change::Roster(Moved::Member(MemberId(id)))),
                    "household" => Some(Change::Roster(Moved::Household(HouseholdId(id)))),
                    "association" => Some(Change::Roster(Moved::Association(AssociationId(id)))),
                    _ => None,
                }
            }
        })
        .collect()
}

/// `<post>:<member or ->:<household>`.
fn receipt(confirmed: bool, ids: &str) -> Option<Change> {
    let mut ids = ids.split(':');
    let (post, member, household) = (ids.next()?, ids.next()?, ids.next()?);
    Some(Change::Receipt(Recorded {
        post: PostId(post.to_string()),
        member: (member != "-").then(|| MemberId(member.to_string())),
        household: HouseholdId(household.to_string()),
        confirmed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_stay_under_the_notify_limit() {
        let mut changes = vec![
            Change::Posts,
            Change::Post(PostId("p".into())),
            Change::Feed(AudienceKey::city()),
            Change::Feed(AudienceKey::han(&crate::domain::HanId("h".into()))),
            Change::Roster(Moved::Everyone),
            Change::Roster(Moved::Member(MemberId("m".into()))),
            Change::Roster(Moved::Household(HouseholdId("h".into()))),
            Change::Roster(Moved::Association(AssociationId("a".into()))),
            Change::Push,
            Change::Tokens(MemberId("m".into())),
        ];
        changes.extend((0..500).map(|n| {
            Change::Receipt(Recorded {
                post: PostId(format!("{n:036}")),
                member: (n % 3 != 0).then(|| MemberId(format!("{:036}", n + 1))),
                household: HouseholdId(format!("{:036}", n + 2)),
                confirmed: n % 2 == 0,
            })
        }));
        let payloads = payloads(&changes);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() < 8_000));
        let parsed: Vec<Change> = payloads.iter().flat_map(|p| parse(p)).collect();
        assert_eq!(parsed, changes);
        assert_eq!(parse("posts someday-new"), vec![Change::Posts]);
        assert_eq!(
            parse("feed:city feed:street:1 feed:han:"),
            vec![Change::Feed(AudienceKey::city())]
        );
    }
}
