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
            when: if args.no_check_principals {
                CheckPrincipals::Never
            } else if args.check_principals {
                CheckPrincipals::Always
            } else {
                CheckPrincipals::OnEks
            },
            stale_days: args.stale_days,
            profile: global.profile.clone(),
            region: global.region.clone(),
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
    core::apply(
        report,
        &answers,
        jiff::Timestamp::now().as_second(),
        opts.stale_days,
    );
}
