//! Invitations: codes an association's officers hand out (on paper or as a QR code) so a
//! resident can register straight into a household.

use crate::actions::Services;
use crate::actions::access::roster_keeper;
use crate::auth::jwt::sha256_hex;
use crate::authz::{self, Principal, require};
use crate::db::models::Invitation;
use crate::db::now;
use crate::db::queries::associations::household_of;
use crate::db::queries::audit;
use crate::db::queries::invitations as queries;
use crate::domain::{
    AssociationId, AuditAction, HouseholdId, InvitationId, InvitationTerms, MemberId, Placement,
    new_invitation_code, normalize_invitation_code,
};
use crate::error::ApiError;

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
            if terms.makes_officer() {
                require(authz::may_invite_officers(&p, &association.id))?;
            }
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
