//! How grant maps the role: an EKS access entry or the aws-auth ConfigMap. `--via auto`
//! reads the cluster's authentication mode (DescribeCluster accessConfig.authenticationMode):
//! API and API_AND_CONFIG_MAP take access entries, CONFIG_MAP takes aws-auth. The cluster is
//! the one `--cluster` names, or the one a kubeconfig context points at (see `infer`). Without
//! an EKS cluster, or when its EKS side cannot be read, auto keeps aws-auth, saying why.

use crate::adapters::aws::EksContext;
use crate::adapters::kube::Connection;
use crate::cli::MappingVia;
use chronom_core::eks::posture::{AuthMode, ClusterFacts};
use chronom_core::error::UserError;

/// The two ways to map an IAM role into the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapWith {
    AwsAuth,
    AccessEntry,
}

/// What `--via` came to, and the note that explains an automatic choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub with: MapWith,
    pub note: Option<String>,
}

fn mode_of(cluster: &ClusterFacts) -> Result<AuthMode, UserError> {
    AuthMode::parse(cluster.authentication_mode.as_deref()).ok_or_else(|| {
        UserError::failed(
            format!(
                "cluster {} reports authenticationMode {:?}, which this version of kubectl-chronom does not know",
                cluster.name,
                cluster.authentication_mode.as_deref().unwrap_or_default()
            ),
            "choose explicitly with --via access-entry or --via aws-auth, or upgrade kubectl-chronom",
        )
    })
}

/// Pure: the requested `--via`, what DescribeCluster said (None: no EKS cluster known), and
/// why the EKS side of a cluster the context points at could not be read.
pub fn choose(
    requested: MappingVia,
    cluster: Option<&ClusterFacts>,
    unreadable: Option<&UserError>,
) -> Result<Choice, UserError> {
    let Some(cluster) = cluster else {
        return match (requested, unreadable) {
            (MappingVia::AwsAuth, _) => Ok(Choice { with: MapWith::AwsAuth, note: None }),
            (MappingVia::Auto, None) => Ok(Choice {
                with: MapWith::AwsAuth,
                note: Some(
                    "--via auto used aws-auth: no EKS cluster is known (the context's server is not an EKS endpoint, and no --cluster was given), so the cluster's authentication mode could not be read; pass --cluster NAME --region R to let it choose access entries".into(),
                ),
            }),
            (MappingVia::Auto, Some(why)) => Ok(Choice {
                with: MapWith::AwsAuth,
                note: Some(format!(
                    "--via auto used aws-auth: {}, so the cluster's authentication mode is unknown. If it is API, EKS ignores aws-auth and this entry lets nobody in. To let auto choose: {}",
                    why.what, why.next
                )),
            }),
            (MappingVia::AccessEntry, Some(why)) => Err(UserError::failed(
                format!("--via access-entry needs the EKS API, and {}", why.what),
                format!("{}; or use --via aws-auth", why.next),
            )),
            (MappingVia::AccessEntry, None) => Err(UserError::usage(
                "--via access-entry needs the EKS cluster's name: access entries are written through the EKS API, not the Kubernetes API",
                "add --cluster NAME (and --region R), or use --via aws-auth",
            )),
        };
    };
    let mode = match (requested, mode_of(cluster)) {
        (MappingVia::AwsAuth | MappingVia::AccessEntry, Err(_)) => None,
        (_, Ok(m)) => Some(m),
        (MappingVia::Auto, Err(e)) => return Err(e),
    };
    let name = &cluster.name;
    match (requested, mode) {
        (MappingVia::AccessEntry, Some(AuthMode::ConfigMap)) => Err(UserError::failed(
            format!(
                "cluster {name} has authenticationMode CONFIG_MAP: access entries are not enabled on it"
            ),
            format!(
                "enable them with `aws eks update-cluster-config --name {name} --access-config authenticationMode=API_AND_CONFIG_MAP` (one-way), or use --via aws-auth"
            ),
        )),
        (MappingVia::AwsAuth, Some(AuthMode::Api)) => Err(UserError::failed(
            format!(
                "cluster {name} has authenticationMode API: EKS ignores aws-auth there, so an aws-auth entry would let nobody in"
            ),
            "use --via access-entry (or --via auto)",
        )),
        (MappingVia::AccessEntry, _) => Ok(Choice {
            with: MapWith::AccessEntry,
            note: None,
        }),
        (MappingVia::AwsAuth, _) => Ok(Choice {
            with: MapWith::AwsAuth,
            note: None,
        }),
        (MappingVia::Auto, Some(m @ (AuthMode::Api | AuthMode::ApiAndConfigMap))) => Ok(Choice {
            with: MapWith::AccessEntry,
            note: Some(format!(
                "--via auto chose an EKS access entry: cluster {name} has authenticationMode {}",
                m.as_str()
            )),
        }),
        (MappingVia::Auto, _) => Ok(Choice {
            with: MapWith::AwsAuth,
            note: Some(format!(
                "--via auto chose aws-auth: cluster {name} has authenticationMode CONFIG_MAP (access entries are not enabled)"
            )),
        }),
    }
}

/// The EKS side a command works with: the clients and what DescribeCluster said, or why a
/// cluster the context points at could not be read, and notes on how it was found.
#[derive(Debug, Default)]
pub struct EksSide {
    pub ctx: Option<EksContext>,
    /// Set when the connection is to an EKS cluster whose EKS side could not be read.
    pub unreadable: Option<UserError>,
    pub notes: Vec<String>,
}

impl EksSide {
    /// For commands whose report has no notes: a fallback is said on stderr, how the cluster
    /// was found only at -v.
    pub(crate) fn tell(&self) {
        for note in &self.notes {
            if self.unreadable.is_some() {
                eprintln!("note: {note}");
            } else {
                tracing::info!("{note}");
            }
        }
    }
}

/// The EKS side of `conn`: the cluster `--cluster` named (already described to connect), the
/// one its context points at (described now; missing credentials or permissions leave the
/// command with what the kubeconfig alone can do, and say so), or none.
pub async fn side(conn: &Connection) -> EksSide {
    let Some(link) = &conn.eks else {
        return EksSide::default();
    };
    match link.describe().await {
        Ok(c) => {
            let notes = match &link.inferred_from {
                Some(context) => vec![format!(
                    "context {context:?} is EKS cluster {} in {} (from its exec plugin and endpoint); its EKS side is read too (pass --cluster NAME --region R to name another)",
                    link.name, link.region
                )],
                None => vec![],
            };
            let eks = aws_sdk_eks::Client::new(&link.sdk);
            let iam = Some(aws_sdk_iam::Client::new(&link.sdk));
            EksSide {
                ctx: Some(EksContext {
                    eks,
                    iam,
                    cluster: c.facts,
                }),
                unreadable: None,
                notes,
            }
        }
        Err(e) => {
            let why = UserError::failed(
                format!(
                    "the EKS side of {} could not be read ({})",
                    link.label(),
                    e.what
                ),
                e.next,
            );
            let note = format!(
                "{}; working with the kubeconfig alone (aws-auth and RBAC). To read it: {}",
                why.what, why.next
            );
            EksSide {
                ctx: None,
                unreadable: Some(why),
                notes: vec![note],
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(mode: Option<&str>) -> ClusterFacts {
        ClusterFacts {
            name: "prod".into(),
            authentication_mode: mode.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn auto_follows_the_authentication_mode() {
        for (mode, want) in [
            (Some("API"), MapWith::AccessEntry),
            (Some("API_AND_CONFIG_MAP"), MapWith::AccessEntry),
            (Some("CONFIG_MAP"), MapWith::AwsAuth),
            (None, MapWith::AwsAuth),
        ] {
            let c = choose(MappingVia::Auto, Some(&cluster(mode)), None).unwrap();
            assert_eq!(c.with, want, "{mode:?}");
            let note = c.note.expect("auto always says why");
            assert!(note.contains(mode.unwrap_or("CONFIG_MAP")), "{note}");
        }
    }

    #[test]
    fn auto_without_a_cluster_uses_aws_auth_and_says_so() {
        let c = choose(MappingVia::Auto, None, None).unwrap();
        assert_eq!(c.with, MapWith::AwsAuth);
        assert!(c.note.unwrap().contains("no EKS cluster is known"));
    }

    #[test]
    fn an_unreadable_eks_side_falls_back_to_aws_auth_and_says_why() {
        let why = UserError::failed(
            "the EKS side of context \"c\" (EKS cluster prod in eu-west-1) could not be read (no AWS credentials were found)",
            "set AWS_PROFILE",
        );
        let c = choose(MappingVia::Auto, None, Some(&why)).unwrap();
        assert_eq!(c.with, MapWith::AwsAuth);
        let note = c.note.unwrap();
        assert!(
            note.contains("no AWS credentials were found")
                && note.contains("set AWS_PROFILE")
                && note.contains("If it is API, EKS ignores aws-auth"),
            "{note}"
        );
        let e = choose(MappingVia::AccessEntry, None, Some(&why)).unwrap_err();
        assert_eq!(e.exit_code, chronom_core::exit::EXIT_FAILED);
        assert!(
            e.what.contains("EKS cluster prod in eu-west-1")
                && e.next.starts_with("set AWS_PROFILE"),
            "{e}"
        );
        assert_eq!(
            choose(MappingVia::AwsAuth, None, Some(&why)).unwrap(),
            Choice {
                with: MapWith::AwsAuth,
                note: None
            }
        );
    }

    #[test]
    fn explicit_choices_are_checked_against_the_mode() {
        assert_eq!(
            choose(MappingVia::AccessEntry, None, None)
                .unwrap_err()
                .exit_code,
            chronom_core::exit::EXIT_USAGE
        );
        assert!(
            choose(
                MappingVia::AccessEntry,
                Some(&cluster(Some("CONFIG_MAP"))),
                None
            )
            .unwrap_err()
            .next
            .contains("update-cluster-config")
        );
        assert!(
            choose(MappingVia::AwsAuth, Some(&cluster(Some("API"))), None)
                .unwrap_err()
                .what
                .contains("ignores aws-auth")
        );
        let c = choose(
            MappingVia::AccessEntry,
            Some(&cluster(Some("API_AND_CONFIG_MAP"))),
            None,
        )
        .unwrap();
        assert_eq!((c.with, c.note), (MapWith::AccessEntry, None));
        assert_eq!(
            choose(
                MappingVia::AwsAuth,
                Some(&cluster(Some("API_AND_CONFIG_MAP"))),
                None
            )
            .unwrap()
            .with,
            MapWith::AwsAuth
        );
        assert_eq!(
            choose(MappingVia::AwsAuth, None, None).unwrap(),
            Choice {
                with: MapWith::AwsAuth,
                note: None
            }
        );
    }

    #[test]
    fn an_unknown_mode_needs_an_explicit_choice() {
        assert!(choose(MappingVia::Auto, Some(&cluster(Some("NEW_MODE"))), None).is_err());
        assert_eq!(
            choose(
                MappingVia::AccessEntry,
                Some(&cluster(Some("NEW_MODE"))),
                None
            )
            .unwrap()
            .with,
            MapWith::AccessEntry
        );
    }
}
