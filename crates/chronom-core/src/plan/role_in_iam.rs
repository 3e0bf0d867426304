//! Whether grant may map a role IAM was asked about (docs/principals.md). A mapping of a role
//! that does not exist is a standing offer: whoever creates a role of that name in that account
//! gets the access. So grant refuses it unless the user says the role will be created later.
//! Pure: what IAM said is an input.

use crate::audit::principals::{IamAnswer, NotChecked};
use crate::error::UserError;

/// `Ok(note)` to go on (the note says what the lookup found, for the report), or the refusal.
/// `by_access_entry`: grant maps the role with an EKS access entry (tied to the unique id), not
/// in aws-auth (matched on the ARN).
pub fn check(
    role_arn: &str,
    answer: &IamAnswer,
    created_later: bool,
    by_access_entry: bool,
) -> Result<String, UserError> {
    match answer {
        IamAnswer::Exists(found) if by_access_entry => Ok(format!(
            "IAM role {} exists (unique id {}); EKS ties the access entry to that id, so a role re-created under this name later would not inherit this access",
            found.arn, found.unique_id
        )),
        IamAnswer::Exists(found) => Ok(format!(
            "IAM role {} exists (unique id {}); aws-iam-authenticator maps it by ARN, so a role re-created under this name later would get this access: kubectl chronom audit reports that",
            found.arn, found.unique_id
        )),
        IamAnswer::Missing if created_later => Ok(format!(
            "IAM role {role_arn} does not exist yet (--role-created-later): nobody can use this mapping until it is created, and whoever creates a role of that name in that account gets this access, so create it soon and from the account's own pipeline"
        )),
        IamAnswer::Missing => Err(UserError::failed(
            format!(
                "IAM role {role_arn} does not exist: mapping it would let whoever creates a role of that name in that account into the cluster; nothing was changed"
            ),
            "check the ARN (account and name); if the role will be created later, pass --role-created-later",
        )),
        IamAnswer::NotChecked { why, detail } => Ok(format!(
            "the role was not looked up in IAM ({}: {detail}); grant went on as it does without IAM access: check that {role_arn} exists",
            match why {
                NotChecked::Denied => "access denied",
                NotChecked::OtherAccount => "another account",
                NotChecked::NoCredentials => "no credentials",
                NotChecked::Failed => "IAM call failed",
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::principals::IamPrincipal;

    const ARN: &str = "arn:aws:iam::111122223333:role/scanner";

    #[test]
    fn a_missing_role_is_refused_unless_it_will_be_created() {
        let e = check(ARN, &IamAnswer::Missing, false, false).unwrap_err();
        assert_eq!(e.exit_code, crate::exit::EXIT_FAILED);
        assert!(
            e.what.contains("does not exist") && e.what.contains("nothing was changed"),
            "{e}"
        );
        assert!(e.next.contains("--role-created-later"), "{e}");
        let note = check(ARN, &IamAnswer::Missing, true, false).unwrap();
        assert!(
            note.contains("--role-created-later") && note.contains("whoever creates"),
            "{note}"
        );
    }

    #[test]
    fn an_existing_role_or_an_unchecked_one_goes_on_and_says_what_was_seen() {
        let found = IamAnswer::Exists(IamPrincipal {
            arn: ARN.into(),
            unique_id: "AROA1".into(),
            ..Default::default()
        });
        assert!(check(ARN, &found, false, false).unwrap().contains("AROA1"));
        // An access entry is tied to the unique id: no "re-created role gets it" warning.
        let note = check(ARN, &found, false, true).unwrap();
        assert!(
            note.contains("AROA1") && note.contains("would not inherit"),
            "{note}"
        );
        assert!(!note.contains("aws-iam-authenticator"), "{note}");
        let denied = IamAnswer::NotChecked {
            why: NotChecked::Denied,
            detail: "iam:GetRole was denied".into(),
        };
        let note = check(ARN, &denied, false, false).unwrap();
        assert!(
            note.contains("not looked up") && note.contains("access denied"),
            "{note}"
        );
    }
}
