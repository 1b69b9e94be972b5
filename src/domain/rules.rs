//! The product rules of SPEC §1 as plain functions: who may do what in a group.
//! The store calls these inside its write transactions, so each rule lives in one place.

use crate::config::{Rules, Tier};
use crate::error::{ApiError, Code};

/// A member's role in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// Owner and admins manage the group (群管理): requests, announcement, fields.
    pub fn manages(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// How a person relates to a group, as the detail page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Member(Role),
    Pending,
    Outsider,
}

impl Viewer {
    pub fn as_str(self) -> &'static str {
        match self {
            Viewer::Member(r) => r.as_str(),
            Viewer::Pending => "pending",
            Viewer::Outsider => "none",
        }
    }

    pub fn role(self) -> Option<Role> {
        match self {
            Viewer::Member(r) => Some(r),
            _ => None,
        }
    }
}

/// Creating a group needs `min_mutual_friends` mutual-follow friends and a free quota slot.
pub fn check_create(rules: &Rules, tier: &Tier, mutual_friends: u64, owned_groups: u64) -> Result<(), ApiError> {
    if mutual_friends < u64::from(rules.min_mutual_friends) {
        return Err(ApiError::new(
            Code::NeedsMutualFriend,
            format!("creating a group needs at least {} mutual-follow friend(s)", rules.min_mutual_friends),
        ));
    }
    if owned_groups >= u64::from(tier.max_groups) {
        return Err(ApiError::new(
            Code::GroupQuotaExceeded,
            format!("you already own {owned_groups} groups, the most your tier allows"),
        ));
    }
    Ok(())
}

/// Whether a group has room for one more member.
pub fn check_room(member_count: i64, capacity: i64) -> Result<(), ApiError> {
    if member_count >= capacity {
        return Err(ApiError::new(Code::GroupFull, "the group is full"));
    }
    Ok(())
}

/// What applying to a group does: the outsider joins, or waits for approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinOutcome {
    Joined,
    Pending,
}

/// Applying to join: members and pending applicants cannot apply again; a full group
/// refuses; approval groups queue the application.
pub fn decide_join(
    viewer: Viewer,
    join_approval: bool,
    member_count: i64,
    capacity: i64,
) -> Result<JoinOutcome, ApiError> {
    match viewer {
        Viewer::Member(_) => return Err(ApiError::new(Code::AlreadyMember, "you are already a member of this group")),
        Viewer::Pending => {
            return Err(ApiError::new(Code::AlreadyPending, "your application to this group is already pending"))
        }
        Viewer::Outsider => {}
    }
    check_room(member_count, capacity)?;
    Ok(if join_approval { JoinOutcome::Pending } else { JoinOutcome::Joined })
}

/// Managing (requests, announcement, the group's fields) is for the owner and admins.
pub fn check_manage(viewer: Viewer) -> Result<Role, ApiError> {
    match viewer.role() {
        Some(r) if r.manages() => Ok(r),
        _ => Err(ApiError::forbidden("only the owner or an admin of the group may do this")),
    }
}

/// Settings (join approval, member invites, discoverability), admins and dissolving are the owner's.
pub fn check_owner(viewer: Viewer) -> Result<(), ApiError> {
    if viewer.role() == Some(Role::Owner) {
        Ok(())
    } else {
        Err(ApiError::forbidden("only the owner of the group may do this"))
    }
}

/// Inviting: the inviter must be a member, allowed to invite, and the invitee their friend.
pub fn check_invite(inviter: Viewer, members_can_invite: bool, invitee_is_friend: bool) -> Result<(), ApiError> {
    let role = inviter.role().ok_or_else(|| ApiError::forbidden("only members may invite"))?;
    if !role.manages() && !members_can_invite {
        return Err(ApiError::forbidden("the owner does not allow members to invite friends"));
    }
    if !invitee_is_friend {
        return Err(ApiError::forbidden("you can only invite your mutual-follow friends"));
    }
    Ok(())
}

/// Leaving or removing: anyone but the owner may leave; the owner removes anyone else;
/// an admin removes plain members.
pub fn check_remove(actor: Viewer, actor_is_target: bool, target: Role) -> Result<(), ApiError> {
    if actor_is_target {
        if target == Role::Owner {
            return Err(ApiError::new(Code::OwnerCannotLeave, "the owner cannot leave; dissolve the group instead"));
        }
        return Ok(());
    }
    match (actor.role(), target) {
        (Some(Role::Owner), _) => Ok(()),
        (Some(Role::Admin), Role::Member) => Ok(()),
        _ => Err(ApiError::forbidden("you may not remove this member")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal() -> Tier {
        Tier { max_groups: 4, capacity: 200 }
    }

    #[test]
    fn creating_needs_a_mutual_friend_and_a_free_slot() {
        let rules = Rules::default();
        assert_eq!(check_create(&rules, &normal(), 0, 0).unwrap_err().code, Code::NeedsMutualFriend);
        assert!(check_create(&rules, &normal(), 1, 3).is_ok());
        assert_eq!(check_create(&rules, &normal(), 1, 4).unwrap_err().code, Code::GroupQuotaExceeded);
        let strict = Rules { min_mutual_friends: 2, ..Rules::default() };
        assert_eq!(check_create(&strict, &normal(), 1, 0).unwrap_err().code, Code::NeedsMutualFriend);
    }

    #[test]
    fn joining_depends_on_approval_and_room() {
        assert_eq!(decide_join(Viewer::Outsider, false, 1, 200).unwrap(), JoinOutcome::Joined);
        assert_eq!(decide_join(Viewer::Outsider, true, 1, 200).unwrap(), JoinOutcome::Pending);
        assert_eq!(decide_join(Viewer::Outsider, false, 200, 200).unwrap_err().code, Code::GroupFull);
        assert_eq!(decide_join(Viewer::Member(Role::Member), false, 1, 200).unwrap_err().code, Code::AlreadyMember);
        assert_eq!(decide_join(Viewer::Pending, true, 1, 200).unwrap_err().code, Code::AlreadyPending);
    }

    #[test]
    fn invites_follow_the_owners_setting_except_for_managers() {
        assert!(check_invite(Viewer::Member(Role::Member), true, true).is_ok());
        assert!(check_invite(Viewer::Member(Role::Member), false, true).is_err());
        assert!(check_invite(Viewer::Member(Role::Admin), false, true).is_ok());
        assert!(check_invite(Viewer::Member(Role::Owner), false, true).is_ok());
        assert!(check_invite(Viewer::Member(Role::Owner), true, false).is_err());
        assert!(check_invite(Viewer::Outsider, true, true).is_err());
    }

    #[test]
    fn the_owner_cannot_leave_and_admins_remove_only_members() {
        assert_eq!(
            check_remove(Viewer::Member(Role::Owner), true, Role::Owner).unwrap_err().code,
            Code::OwnerCannotLeave
        );
        assert!(check_remove(Viewer::Member(Role::Member), true, Role::Member).is_ok());
        assert!(check_remove(Viewer::Member(Role::Admin), false, Role::Member).is_ok());
        assert!(check_remove(Viewer::Member(Role::Admin), false, Role::Admin).is_err());
        assert!(check_remove(Viewer::Member(Role::Owner), false, Role::Admin).is_ok());
        assert!(check_remove(Viewer::Member(Role::Member), false, Role::Member).is_err());
    }

    #[test]
    fn only_the_owner_changes_settings() {
        assert!(check_owner(Viewer::Member(Role::Owner)).is_ok());
        assert!(check_owner(Viewer::Member(Role::Admin)).is_err());
        assert!(check_manage(Viewer::Member(Role::Admin)).is_ok());
        assert!(check_manage(Viewer::Pending).is_err());
    }
}
