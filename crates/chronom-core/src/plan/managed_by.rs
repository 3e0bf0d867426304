//! Who else edits aws-auth. When Terraform, eksctl, the AWS CDK or Pulumi manages the
//! ConfigMap, its next run puts aws-auth back to what its own source says, and the entry grant
//! wrote is gone. grant cannot prevent that; it says which tool it found and prints the entry as
//! that tool's source expects it, so the user can put it where it will last.
//!
//! The marks each tool leaves on the objects it writes:
//! - Terraform's Kubernetes provider: the field manager `Terraform` (server-side apply, e.g.
//!   `kubernetes_config_map_v1_data`, which the terraform-aws-modules aws-auth module uses) or
//!   `HashiCorp` (the client-side resources, named from its user agent `HashiCorp/1.0
//!   Terraform/...`); terraform-aws-modules/eks up to v17 also labelled the ConfigMap
//!   `app.kubernetes.io/managed-by: Terraform` and `terraform.io/module`.
//! - eksctl: the field manager `eksctl` (client-go names it after the binary).
//! - AWS CDK (`aws-eks` AwsAuth, a KubernetesManifest applied with kubectl from a Lambda): the
//!   prune label `aws.cdk.eks/prune-<hash>`.
//! - Pulumi (pulumi-kubernetes): the field manager `pulumi-kubernetes` (client-side) or
//!   `pulumi-kubernetes-<suffix>` (server-side apply), and the label
//!   `app.kubernetes.io/managed-by: pulumi`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// A tool that keeps aws-auth as its own source says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ManagingTool {
    Terraform,
    Eksctl,
    Cdk,
    Pulumi,
}

impl ManagingTool {
    pub fn name(self) -> &'static str {
        match self {
            ManagingTool::Terraform => "Terraform",
            ManagingTool::Eksctl => "eksctl",
            ManagingTool::Cdk => "the AWS CDK",
            ManagingTool::Pulumi => "Pulumi",
        }
    }
}

/// A tool found, and the mark that gave it away (`field manager HashiCorp`, `label ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub tool: ManagingTool,
    pub evidence: String,
}

/// Every tool whose marks are on the ConfigMap, once each, in [`ManagingTool`] order.
pub fn detect(meta: &ObjectMeta) -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    let mut add = |tool: ManagingTool, evidence: String| {
        if !found.iter().any(|f| f.tool == tool) {
            found.push(Found { tool, evidence });
        }
    };
    for manager in meta
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|f| f.manager.as_deref())
    {
        let tool = match manager {
            "Terraform" | "HashiCorp" => Some(ManagingTool::Terraform),
            "eksctl" => Some(ManagingTool::Eksctl),
            m if m == "pulumi-kubernetes" || m.starts_with("pulumi-kubernetes-") => {
                Some(ManagingTool::Pulumi)
            }
            _ => None,
        };
        if let Some(tool) = tool {
            add(tool, format!("field manager {manager}"));
        }
    }
    for (key, value) in meta.labels.iter().flatten() {
        let tool = match (key.as_str(), value.as_str()) {
            ("app.kubernetes.io/managed-by", v) if v.eq_ignore_ascii_case("terraform") => {
                Some(ManagingTool::Terraform)
            }
            ("terraform.io/module", _) => Some(ManagingTool::Terraform),
            ("app.kubernetes.io/managed-by", v) if v.eq_ignore_ascii_case("pulumi") => {
                Some(ManagingTool::Pulumi)
            }
            (k, _) if k.starts_with("aws.cdk.eks/prune-") => Some(ManagingTool::Cdk),
            _ => None,
        };
        if let Some(tool) = tool {
            add(tool, format!("label {key}={value}"));
        }
    }
    found.sort_by_key(|f| f.tool);
    found
}

/// The entry grant writes, as the tools' sources spell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMapping<'a> {
    pub rolearn: &'a str,
    pub username: &'a str,
    pub groups: &'a [String],
}

/// The entry in `tool`'s source: the `aws_auth_roles` item of the terraform-aws-modules
/// aws-auth module (HCL), an `iamIdentityMappings` item of an eksctl ClusterConfig (YAML), an
/// `awsAuth.addRoleMapping` call (CDK, TypeScript), or a `roleMappings` item of `eks.Cluster`
/// (Pulumi, TypeScript). Strings are written as JSON strings, which HCL, YAML and TypeScript all
/// read the same way (in HCL with template sequences escaped), so no ARN, username or group can
/// break out of its quotes.
pub fn render(tool: ManagingTool, m: &RoleMapping<'_>) -> String {
    let json = |s: &str| serde_json::to_string(s).expect("a string serialises");
    // HCL reads `${` and `%{` in a quoted string as a template; `$${` and `%%{` are literal.
    let hcl = |s: &str| json(s).replace("${", "$${").replace("%{", "%%{");
    let q = if tool == ManagingTool::Terraform {
        &hcl as &dyn Fn(&str) -> String
    } else {
        &json
    };
    let groups = m.groups.iter().map(|g| q(g)).collect::<Vec<_>>().join(", ");
    match tool {
        ManagingTool::Terraform => format!(
            "aws_auth_roles = [\n  {{\n    rolearn  = {}\n    username = {}\n    groups   = [{groups}]\n  }},\n]\n",
            q(m.rolearn),
            q(m.username)
        ),
        ManagingTool::Eksctl => format!(
            "iamIdentityMappings:\n  - arn: {}\n    username: {}\n    groups: [{groups}]\n    noDuplicateARNs: true\n",
            q(m.rolearn),
            q(m.username)
        ),
        ManagingTool::Cdk => format!(
            "cluster.awsAuth.addRoleMapping(\n  iam.Role.fromRoleArn(this, \"ChronomMappedRole\", {}, {{ mutable: false }}),\n  {{ username: {}, groups: [{groups}] }},\n);\n",
            q(m.rolearn),
            q(m.username)
        ),
        ManagingTool::Pulumi => format!(
            "roleMappings: [\n  {{ roleArn: {}, username: {}, groups: [{groups}] }},\n],\n",
            q(m.rolearn),
            q(m.username)
        ),
    }
}

/// The grant note for each tool found: what will happen, and the entry for its source.
pub fn notes(found: &[Found], m: &RoleMapping<'_>) -> Vec<String> {
    found
        .iter()
        .map(|f| {
            let source = match f.tool {
                ManagingTool::Terraform => {
                    "the terraform-aws-modules aws-auth module's `aws_auth_roles`"
                }
                ManagingTool::Eksctl => "your eksctl ClusterConfig's `iamIdentityMappings`",
                ManagingTool::Cdk => "your CDK app, on the cluster's AwsAuth",
                ManagingTool::Pulumi => "your Pulumi program's `eks.Cluster` `roleMappings`",
            };
            // Indented, so the block stands apart under the `note:` line it is printed in.
            let block: Vec<String> = render(f.tool, m)
                .lines()
                .map(|l| format!("    {l}"))
                .collect();
            format!(
                "aws-auth is also managed by {} ({}): its next run may put aws-auth back and remove this entry. To keep it, add it to {source}:\n{}",
                f.tool.name(),
                f.evidence,
                block.join("\n")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
    use std::collections::BTreeMap;

    fn meta(managers: &[&str], labels: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            managed_fields: Some(
                managers
                    .iter()
                    .map(|m| ManagedFieldsEntry {
                        manager: Some(m.to_string()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Default::default()
        }
    }

    fn tools(m: &ObjectMeta) -> Vec<ManagingTool> {
        detect(m).into_iter().map(|f| f.tool).collect()
    }

    #[test]
    fn each_tool_is_known_by_its_own_marks() {
        use ManagingTool::*;
        assert_eq!(tools(&meta(&["Terraform"], &[])), [Terraform]);
        assert_eq!(tools(&meta(&["HashiCorp"], &[])), [Terraform]);
        assert_eq!(
            tools(&meta(&[], &[("app.kubernetes.io/managed-by", "Terraform")])),
            [Terraform]
        );
        assert_eq!(
            tools(&meta(
                &[],
                &[("terraform.io/module", "terraform-aws-modules.eks.aws")]
            )),
            [Terraform]
        );
        assert_eq!(tools(&meta(&["eksctl"], &[])), [Eksctl]);
        assert_eq!(
            tools(&meta(
                &["kubectl-client-side-apply"],
                &[("aws.cdk.eks/prune-c8d1f2", "")]
            )),
            [Cdk]
        );
        assert_eq!(tools(&meta(&["pulumi-kubernetes-8f3a2c1e"], &[])), [Pulumi]);
        assert_eq!(
            tools(&meta(&[], &[("app.kubernetes.io/managed-by", "pulumi")])),
            [Pulumi]
        );
        // Several marks of one tool: said once, with the first mark.
        let found = detect(&meta(
            &["HashiCorp", "Terraform"],
            &[("app.kubernetes.io/managed-by", "Terraform")],
        ));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].evidence, "field manager HashiCorp");
        // Two tools: both, in a stable order.
        assert_eq!(
            tools(&meta(&["pulumi-kubernetes", "eksctl"], &[])),
            [Eksctl, Pulumi]
        );
    }

    #[test]
    fn everyone_else_is_no_tool() {
        for manager in [
            "kubectl-edit",
            "kubectl-client-side-apply",
            "kubectl-chronom",
            "kube-apiserver",
            "terraform-something",
            "pulumi",
            "eksctl2",
        ] {
            assert!(detect(&meta(&[manager], &[])).is_empty(), "{manager}");
        }
        assert!(detect(&meta(&[], &[("app.kubernetes.io/managed-by", "Helm")])).is_empty());
        assert!(detect(&ObjectMeta::default()).is_empty());
    }

    fn mapping() -> (String, String, Vec<String>) {
        (
            "arn:aws:iam::111122223333:role/chronom-scanner".into(),
            "chronom-scanner".into(),
            vec!["chronomReadOnlyGroup".into()],
        )
    }

    #[test]
    fn each_tool_gets_the_entry_as_its_source_spells_it() {
        let (arn, user, groups) = mapping();
        let m = RoleMapping {
            rolearn: &arn,
            username: &user,
            groups: &groups,
        };
        let all: String = [
            ManagingTool::Terraform,
            ManagingTool::Eksctl,
            ManagingTool::Cdk,
            ManagingTool::Pulumi,
        ]
        .iter()
        .map(|t| format!("--- {}\n{}", t.name(), render(*t, &m)))
        .collect();
        insta::assert_snapshot!(all);
    }

    #[test]
    fn the_eksctl_entry_reads_back_as_the_same_yaml() {
        let (arn, user, groups) = mapping();
        let hostile = format!("{user}\"\n  groups: [system:masters]");
        let m = RoleMapping {
            rolearn: &arn,
            username: &hostile,
            groups: &groups,
        };
        let yaml: serde_json::Value =
            serde_saphyr::from_str(&render(ManagingTool::Eksctl, &m)).unwrap();
        let item = &yaml["iamIdentityMappings"][0];
        assert_eq!(item["arn"], arn.as_str());
        assert_eq!(
            item["username"],
            hostile.as_str(),
            "one scalar, whatever it holds"
        );
        assert_eq!(item["groups"], serde_json::json!(["chronomReadOnlyGroup"]));
    }

    #[test]
    fn hcl_templates_in_a_username_stay_literal() {
        let (arn, _, groups) = mapping();
        let m = RoleMapping {
            rolearn: &arn,
            username: "x-${var.secret}-%{if true}",
            groups: &groups,
        };
        assert!(
            render(ManagingTool::Terraform, &m)
                .contains(r#"username = "x-$${var.secret}-%%{if true}""#)
        );
    }

    #[test]
    fn the_note_names_the_tool_the_mark_and_the_entry() {
        let (arn, user, groups) = mapping();
        let m = RoleMapping {
            rolearn: &arn,
            username: &user,
            groups: &groups,
        };
        let notes = notes(&detect(&meta(&["Terraform"], &[])), &m);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].starts_with("aws-auth is also managed by Terraform (field manager Terraform): its next run may put aws-auth back and remove this entry.")
                && notes[0].contains("\n    aws_auth_roles = [\n")
                && notes[0].contains(&format!("rolearn  = \"{arn}\"")),
            "{}",
            notes[0]
        );
    }
}
