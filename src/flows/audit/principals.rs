//! The audit's IAM check of the mapped principals (docs/principals.md): which credentials ask,
//! and when. The calls are `adapters::aws::iam_principals`; the findings are the core's.

use aws_config::SdkConfig;

use crate::adapters::kube::Connection;
use crate::cli::{AuditArgs, GlobalArgs};
use chronom_core::audit::principals as core;
use chronom_core::audit::report::AuditReport;

/// When the audit reads IAM for the mapped principals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckPrincipals {
    /// On EKS connections (a context on an EKS cluster, --cluster, the fleet): their AWS
    /// identity is at hand and aws-auth there is what the authenticator reads.
    #[default]
    OnEks,
    /// `--check-principals`: everywhere, with the standard AWS chain off EKS.
    Always,
    /// `--no-check-principals`.
    Never,
}

/// `--check-principals`, `--no-check-principals`, `--stale-days`, and the AWS profile and region
/// to use off EKS.
#[derive(Debug, Clone)]
pub struct PrincipalOptions {
    pub when: CheckPrincipals,
    pub stale_days: u32,
    pub profile: Option<String>,
    pub region: Option<String>,
}

impl Default for PrincipalOptions {
    fn default() -> Self {
        Self {
            when: CheckPrincipals::OnEks,
            stale_days: core::DEFAULT_STALE_DAYS,
            profile: None,
            region: None,
        }
    }
}

impl PrincipalOptions {
    pub(crate) fn of(global: &GlobalArgs, args: &AuditArgs) -> Self {
        Self {
            stale_days: args.stale_days,
            ..Self::from_flags(global, args.check_principals, args.no_check_principals)
        }
    }

    /// `--check-principals` and `--no-check-principals` (who-can and lookup have no staleness).
    pub(crate) fn from_flags(global: &GlobalArgs, check: bool, no_check: bool) -> Self {
        Self {
            when: if no_check {
                CheckPrincipals::Never
            } else if check {
                CheckPrincipals::Always
            } else {
                CheckPrincipals::OnEks
            },
            profile: global.profile.clone(),
            region: global.region.clone(),
            ..Self::default()
        }
    }

    /// The AWS configuration to read IAM with, or None when this audit does not check.
    async fn sdk(&self, conn: Option<&Connection>) -> Option<SdkConfig> {
        let eks = conn
            .and_then(|c| c.eks.as_ref())
            .map(|link| link.sdk.clone());
        match (self.when, eks) {
            (CheckPrincipals::Never, _) | (CheckPrincipals::OnEks, None) => None,
            (_, Some(sdk)) => Some(sdk),
            (CheckPrincipals::Always, None) => Some(
                crate::adapters::aws::aws_config(self.region.as_deref(), self.profile.as_deref())
                    .await,
            ),
        }
    }
}

/// Ask IAM about every principal the report's mappings name and add what it says: findings,
/// the `principals` section, and what could not be checked (the report is then incomplete).
pub(crate) async fn add_checks(
    report: &mut AuditReport,
    conn: Option<&Connection>,
    opts: &PrincipalOptions,
) {
    let Some(sdk) = opts.sdk(conn).await else {
        return;
    };
    let mappings: Vec<_> = report.mappings.iter().map(|m| m.mapping.clone()).collect();
    let answers =
        crate::adapters::aws::iam_principals::check(&sdk, core::to_check(&mappings)).await;
    // The clock is read here, once: the core takes it as data.
    chronom_core::audit::report::apply_principal_checks(
        report,
        &answers,
        jiff::Timestamp::now().as_second(),
        opts.stale_days,
    );
}

/// What IAM says about the principals of `mappings`, for marking who-can and lookup rows; None
/// when this run does not check. A principal that could not be checked carries no mark, and
/// stderr says so: an unmarked row is not a clean bill.
pub(crate) async fn answers_for(
    mappings: &[chronom_core::audit::inventory::Mapping],
    conn: Option<&Connection>,
    opts: &PrincipalOptions,
) -> Option<std::collections::BTreeMap<String, core::IamAnswer>> {
    let sdk = opts.sdk(conn).await?;
    let answers = crate::adapters::aws::iam_principals::check(&sdk, core::to_check(mappings)).await;
    for (key, answer) in &answers {
        if let core::IamAnswer::NotChecked { detail, .. } = answer {
            eprintln!("note: {key} not checked in IAM ({detail}): its rows carry no mark");
        }
    }
    Some(answers)
}
