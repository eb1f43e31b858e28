//! Member requests spread over the whole city, one member after another, so no member's
//! place or read state is warm in the server's memory when their request comes: the inbox of
//! a different member each time, and distinct confirmations (each member who has not yet
//! confirmed their association's newest circular that asks for it does so). Tokens come from the server's key ring.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::prelude::*;
use kairan::db::schema::{households, members, post_hans, post_reads, posts};
use kairan::domain::{AssociationId, MemberId, PostId, PostStatus, Tier};

use crate::driver::MakeRequest;
use crate::{Bench, closed};

/// Every member who lives in a household, with their association, in a fixed order.
async fn residents(bench: &Bench) -> Vec<(MemberId, AssociationId)> {
    bench
        .query(|conn| {
            members::table
                .inner_join(households::table)
                .select((members::id, households::association_id))
                .order(members::id)
                .load(conn)
                .unwrap()
        })
        .await
}

/// Access tokens minted directly: the demo's members are at token generation 0 (D50).
fn tokens(bench: &Bench, members: impl Iterator<Item = MemberId>) -> Arc<Vec<String>> {
    Arc::new(members.map(|m| bench.keys.issue(&m, 0).unwrap()).collect())
}

/// Passes of `inbox-members` in this run: each starts at other members than the last.
static INBOX_PASSES: AtomicUsize = AtomicUsize::new(0);

pub async fn inbox(bench: &Bench) {
    let residents = residents(bench).await;
    let count = residents.len();
    let tokens = tokens(bench, residents.into_iter().map(|(m, _)| m));
    let url = bench.url("/api/v1/me/inbox?limit=20");
    let pass = INBOX_PASSES.fetch_add(1, Ordering::Relaxed);
    let start = pass * 100_003;
    let make: MakeRequest = Arc::new(move |client, n| {
        let member = (start + n).wrapping_mul(7919) % tokens.len();
        client.get(&url).bearer_auth(&tokens[member])
    });
    println!(
        "<!-- inbox-members: {count} members in turn, pass {} -->",
        pass + 1
    );
    bench.measure("inbox-members", closed(), make).await;
}

pub async fn confirm(bench: &Bench) {
    let now = chrono::Utc::now().naive_utc();
    // Each association's newest circular to all its households that asks for confirmation.
    let newest: HashMap<AssociationId, PostId> = bench
        .query(move |conn| {
            let to_hans: HashSet<PostId> = post_hans::table
                .select(post_hans::post_id)
                .distinct()
                .load::<PostId>(conn)
                .unwrap()
                .into_iter()
                .collect();
            let asking: Vec<(PostId, Option<String>)> = posts::table
                .filter(posts::tier.eq(Tier::Association))
                .filter(posts::status.eq(PostStatus::Published))
                .filter(posts::requires_confirmation.eq(true))
                .filter(posts::expires_at.is_null().or(posts::expires_at.gt(now)))
                .order(posts::published_at.asc())
                .select((posts::id, posts::scope_id))
                .load(conn)
                .unwrap();
            asking
                .into_iter()
                .filter(|(id, _)| !to_hans.contains(id))
                .filter_map(|(id, scope)| Some((AssociationId(scope?), id)))
                .collect()
        })
        .await;
    // Confirmations an earlier run made are left out: each request is a new one.
    let asked: Vec<PostId> = newest.values().cloned().collect();
    let done: HashSet<(MemberId, PostId)> = bench
        .query(move |conn| {
            post_reads::table
                .filter(post_reads::post_id.eq_any(&asked))
                .filter(post_reads::confirmed_at.is_not_null())
                .select((post_reads::member_id, post_reads::post_id))
                .load::<(MemberId, PostId)>(conn)
                .unwrap()
                .into_iter()
                .collect()
        })
        .await;
    let pairs: Vec<(MemberId, PostId)> = residents(bench)
        .await
        .into_iter()
        .filter_map(|(m, a)| Some((m, newest.get(&a)?.clone())))
        .filter(|pair| !done.contains(pair))
        .collect();
    let tokens = tokens(bench, pairs.iter().map(|(m, _)| m.clone()));
    let urls: Arc<Vec<String>> = Arc::new(
        pairs
            .iter()
            .map(|(_, p)| bench.url(&format!("/api/v1/posts/{p}/confirm")))
            .collect(),
    );
    println!(
        "<!-- confirm-members: {} members of {} associations who have not confirmed yet, each confirming once (a pass beyond them repeats) -->",
        pairs.len(),
        newest.len()
    );
    let make: MakeRequest = Arc::new(move |client, n| {
        let i = n % urls.len();
        client.post(&urls[i]).bearer_auth(&tokens[i])
    });
    bench.measure("confirm-members", closed(), make).await;
}
