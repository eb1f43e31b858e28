//! The text of each mail, in the member's language: a new circular (title, first lines, a
//! link; a signed confirm link when it asks for confirmation), a reminder, a safety check
//! (two signed answer links), an event's day-before reminder, an address verification, a
//! daily digest (each circular's title and link). Every mail names its unsubscribe link.

use crate::db::models::PostEvent;
use crate::domain::Language;
use crate::domain::signed_link::LinkPurpose;
use crate::outbox::event_reminder::details;
use crate::outbox::links::Links;
use crate::web::i18n::{format, text};

/// Lines of a circular's body quoted in its mail, and their longest length.
const FIRST_LINES: usize = 3;
const LINE_CHARS: usize = 100;

/// Who a mail goes to.
pub struct Recipient {
    /// The member_emails row (the subject of verify and unsubscribe links).
    pub address_id: String,
    pub address: String,
    pub member_id: String,
    pub language: Language,
}

/// What a mail is about, loaded when it is sent (so an edited title goes out edited).
pub enum About {
    Post {
        id: String,
        title: String,
        body: String,
        requires_confirmation: bool,
        urgent: bool,
        reminder: bool,
    },
    Safety {
        id: String,
        message: String,
    },
    /// An event's day-before reminder: its circular's title and the event.
    Event {
        title: String,
        event: PostEvent,
    },
    Verify,
    /// A daily digest: the circulars the member received since the last one.
    Digest {
        posts: Vec<DigestPost>,
    },
}

/// A circular listed in a daily digest.
#[derive(Clone)]
pub struct DigestPost {
    pub id: String,
    pub title: String,
    /// Its line carries the same signed confirm link as the circular's own mail.
    pub requires_confirmation: bool,
}

pub struct Mail {
    pub subject: String,
    pub body: String,
    /// For the List-Unsubscribe header.
    pub unsubscribe: String,
}

pub fn compose(links: &Links, to: &Recipient, about: &About) -> Mail {
    let lang = to.language;
    let unsubscribe = links.signed(LinkPurpose::Unsubscribe, &to.address_id, &to.member_id);
    let (subject, mut body) = match about {
        About::Post {
            id,
            title,
            body,
            requires_confirmation,
            urgent,
            reminder,
        } => {
            let key = match (reminder, urgent) {
                (true, _) => "mail.reminder_subject",
                (false, true) => "mail.urgent_subject",
                (false, false) => "mail.circular_subject",
            };
            let mut text_body = format!("{title}\n\n{}\n\n", first_lines(body));
            text_body.push_str(&format!(
                "{}\n{}\n",
                text(lang, "mail.open"),
                links.url(&format!("/posts/{id}"))
            ));
            if *requires_confirmation {
                text_body.push('\n');
                text_body.push_str(&confirm_lines(links, to, id));
            }
            (format(lang, key, "title", title), text_body)
        }
        About::Safety { id, message } => {
            let mut text_body = format!("{message}\n\n{}\n\n", text(lang, "mail.safety_intro"));
            for purpose in [LinkPurpose::Safe, LinkPurpose::NeedsHelp] {
                let label = match purpose {
                    LinkPurpose::Safe => "mail.safe",
                    _ => "mail.needs_help",
                };
                text_body.push_str(&format!(
                    "{}\n{}\n\n",
                    text(lang, label),
                    links.signed(purpose, id, &to.member_id)
                ));
            }
            let title: String = message.chars().take(40).collect();
            (
                format(lang, "mail.safety_subject", "title", &title),
                text_body,
            )
        }
        About::Event { title, event } => {
            let text_body = format!(
                "{}\n\n{title}\n{}\n\n{}\n{}\n",
                text(lang, "event_reminder.intro"),
                details(lang, event).join("\n"),
                text(lang, "mail.open"),
                links.url(&format!("/posts/{}", event.post_id.as_str()))
            );
            (
                format(lang, "event_reminder.subject", "title", title),
                text_body,
            )
        }
        About::Digest { posts } => {
            let mut text_body = format!("{}\n\n", text(lang, "mail.digest_intro"));
            for post in posts {
                text_body.push_str(&format!(
                    "・{}\n{}\n",
                    post.title,
                    links.url(&format!("/posts/{}", post.id))
                ));
                if post.requires_confirmation {
                    text_body.push_str(&confirm_lines(links, to, &post.id));
                }
                text_body.push('\n');
            }
            text_body.push_str(&format!(
                "{}\n{}\n",
                text(lang, "mail.digest_inbox"),
                links.url("/inbox")
            ));
            (
                format(
                    lang,
                    "mail.digest_subject",
                    "count",
                    &posts.len().to_string(),
                ),
                text_body,
            )
        }
        About::Verify => (
            text(lang, "mail.verify_subject").to_string(),
            format!(
                "{}\n{}\n",
                text(lang, "mail.verify"),
                links.signed(LinkPurpose::VerifyEmail, &to.address_id, &to.member_id)
            ),
        ),
    };
    body.push_str(&format!(
        "\n--\n{}\n{}\n{}\n",
        text(lang, "mail.unsubscribe"),
        unsubscribe,
        text(lang, "mail.footer")
    ));
    Mail {
        subject,
        body,
        unsubscribe,
    }
}

/// The sentence and the signed link (post, member, purpose, expiry) that open the page with
/// the confirm button: the same in a circular's own mail and in a digest.
fn confirm_lines(links: &Links, to: &Recipient, post: &str) -> String {
    format!(
        "{}\n{}\n",
        text(to.language, "mail.confirm"),
        links.signed(LinkPurpose::Confirm, post, &to.member_id)
    )
}

/// The first few non-empty lines, each cut to a readable length.
fn first_lines(body: &str) -> String {
    body.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(FIRST_LINES)
        .map(|l| {
            if l.chars().count() > LINE_CHARS {
                format!("{}…", l.chars().take(LINE_CHARS).collect::<String>())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_lines_skip_blanks_and_cut_long_ones() {
        let long = "あ".repeat(150);
        let quoted = first_lines(&format!("\n one \n\n{long}\nthree\nfour"));
        let lines: Vec<&str> = quoted.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "one");
        assert_eq!(lines[1].chars().count(), LINE_CHARS + 1);
        assert_eq!(lines[2], "three");
    }
}
