//! Invitations: codes an association's officers hand out (on paper or as a QR code) so a
//! resident can register straight into a household.

use crate::actions::Services;
use crate::actions::access::roster_keeper;
use crate::auth::jwt::sha256_hex;
use crate::authz::{self, Principal, require};
use crate::db::models::Invitation;
use crate::db::queries::associations::household_of;
use crate::db::queries::audit;
use crate::db::queries::invitations as queries;
use crate::db::{AnyConnection, now};
use crate::domain::{
    AssociationId, AuditAction, HouseholdId, InvitationId, InvitationTerms, MemberId, Placement,
    new_invitation_code, normalize_invitation_code,
};
use crate::error::{ApiError, ErrorCode};

/// A new invitation with its code, which is shown this once: only its hash is kept.
pub struct IssuedInvitation {
    pub invitation: Invitation,
    pub code: String,
}

/// Issues an invitation into a household of the association, or into a new one (its
/// officers; officer and chair invitations its chair). Audited.
pub async fn create(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
    terms: InvitationTerms,
    household: Option<HouseholdId>,
) -> Result<IssuedInvitation, ApiError> {
    let code = new_invitation_code();
    let code_hash = sha256_hex(&normalize_invitation_code(&code));
    let caller = caller.clone();
    let invitation = services
        .db
        .write(move |conn| {
            let (p, association) = roster_keeper(conn, &caller, &association)?;
            require(authz::may_issue_invitation(&p, terms.role, &association.id))?;
            let placement = match &household {
                Some(household) => Placement::Household {
                    in_han: household_of(conn, &association.id, household)?
                        .han_id
                        .is_some(),
                },
                None => Placement::NewHousehold,
            };
            terms
                .check_placement(placement)
                .map_err(ApiError::validation)?;
            let invitation = Invitation {
                id: InvitationId::generate(),
                association_id: association.id.clone(),
                code_hash,
                household_id: household,
                role: terms.granted_role(),
                max_uses: terms.max_uses,
                uses: 0,
                expires_at: terms.expires_at,
                created_by: Some(p.member_id.clone()),
                created_at: now(),
                revoked_at: None,
            };
            queries::insert_invitation(conn, &invitation)?;
            let detail =
                serde_json::json!({"role": terms.role.as_str(), "max_uses": terms.max_uses});
            audit::record(
                conn,
                &p,
                AuditAction::InvitationCreated,
                "invitation",
                Some(invitation.id.as_str()),
                Some(&association.id),
                detail,
            )?;
            Ok(invitation)
        })
        .await?;
    Ok(IssuedInvitation { invitation, code })
}

/// An association's invitations, newest first, without their codes (its officers).
pub async fn list(
    services: &Services,
    caller: &MemberId,
    association: AssociationId,
) -> Result<Vec<Invitation>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            let (_, association) = roster_keeper(conn, &caller, &association)?;
            Ok(queries::list_invitations(conn, &association.id)?)
        })
        .await
}

/// Revokes an invitation: its association's officers; 404 for anyone else. Audited.
pub async fn revoke(
    services: &Services,
    caller: &MemberId,
    id: InvitationId,
) -> Result<(), ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let p = Principal::load(conn, &caller)?;
            let invitation = queries::find_invitation(conn, &id)?
                .filter(|i| authz::may_manage_roster(&p, &i.association_id))
                .ok_or(ApiError::NotFound("invitation"))?;
            queries::revoke_invitation(conn, &id)?;
            audit::record(
                conn,
                &p,
                AuditAction::InvitationRevoked,
                "invitation",
                Some(id.as_str()),
                Some(&invitation.association_id),
                serde_json::json!({}),
            )?;
            Ok(())
        })
        .await
}

/// Whether an invitation's issuer may still issue what it grants. A plain resident
/// invitation outlives its issuer's term (handouts on paper); a role-granting one does not.
fn issuer_may_still_issue(
    conn: &mut AnyConnection,
    invitation: &Invitation,
) -> Result<bool, ApiError> {
    let Some(role) = invitation.role else {
        return Ok(true);
    };
    let Some(issuer) = &invitation.created_by else {
        return Ok(false);
    };
    match Principal::load(conn, issuer) {
        Ok(p) => Ok(authz::may_issue_invitation(
            &p,
            role,
            &invitation.association_id,
        )),
        // A disabled or removed issuer issues nothing any more.
        Err(ApiError::Unauthorized(..) | ApiError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Refuses a role-granting invitation code whose issuer no longer holds the role that
/// allowed it, as an invalid code (checked at registration, before anything is used up).
pub fn check_issuer(conn: &mut AnyConnection, code_hash: &str) -> Result<(), ApiError> {
    match queries::find_by_code_hash(conn, code_hash)? {
        Some(invitation) if !issuer_may_still_issue(conn, &invitation)? => {
            Err(ApiError::Validation(
                ErrorCode::InvitationInvalid,
                "this invitation code is not valid".into(),
            ))
        }
        _ => Ok(()),
    }
}

/// After roles end: revokes the association's open role-granting invitations whose issuers
/// may no longer issue them, each audited in the name of whoever ended the roles.
pub fn revoke_orphaned(
    conn: &mut AnyConnection,
    by: &Principal,
    association: &AssociationId,
) -> Result<Vec<Invitation>, ApiError> {
    let mut revoked = Vec::new();
    for mut invitation in queries::open_role_invitations(conn, association)? {
        if issuer_may_still_issue(conn, &invitation)? {
            continue;
        }
        queries::revoke_invitation(conn, &invitation.id)?;
        invitation.revoked_at = Some(now());
        let detail = serde_json::json!({
            "reason": "issuer_role_ended",
            "role": invitation.role.map(|r| r.as_str()),
        });
        audit::record(
            conn,
            by,
            AuditAction::InvitationRevoked,
            "invitation",
            Some(invitation.id.as_str()),
            Some(association),
            detail,
        )?;
        revoked.push(invitation);
    }
    Ok(revoked)
}
