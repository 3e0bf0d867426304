//! The command line users see. Flag and command names are a contract other tools rely on:
//! see the issues before renaming anything.

pub mod completion;

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};

use chronom_core::audit::findings::Severity;
use chronom_core::report::format::Format;

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-chronom",
    bin_name = "kubectl chronom",
    version = env!("CHRONOM_VERSION"),
    about = "Grant, revoke and audit read-only cluster access for an IAM role on EKS",
    long_about = "Grant, revoke and audit read-only cluster access for an IAM role on EKS\n\n\
        Changes exactly what it says (a ClusterRole, its ClusterRoleBinding and one aws-auth \
        mapRoles entry), keeps every other byte of aws-auth, and proves the result by asking the \
        API server.",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// The flags every command takes, listed under their own heading in each command's help (as
/// kubectl keeps its global options apart from a command's own).
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, which may list several files, else ~/.kube/config).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use (default: the current context).
    #[arg(long, global = true, value_name = "CTX")]
    pub context: Option<String>,

    /// Log verbosity on stderr: -v info, -vv debug, -vvv trace; kubectl's --v=N (also --v N,
    /// -v=N, -v N) counts as N times -v. Secrets are never logged.
    #[arg(short = 'v', long = "v", global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// EKS cluster name: connect through EKS (DescribeCluster and a native token) instead of a kubeconfig context.
    #[arg(long, global = true, value_name = "NAME")]
    pub cluster: Option<String>,

    /// AWS region of --cluster (default: the profile's or AWS_REGION).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,

    /// AWS profile for --cluster (default: the standard credential chain).
    #[arg(long, global = true, value_name = "PROFILE")]
    pub profile: Option<String>,

    /// How long to wait for each API request before giving up, as kubectl takes it: seconds
    /// (30) or a duration with units (30s, 1m, 1h2m3s, 500ms); 0 means no timeout.
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        default_value = "30",
        env = "CHRONOM_REQUEST_TIMEOUT",
        value_parser = request_timeout_seconds
    )]
    pub request_timeout: f64,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Give an IAM role read-only access: ClusterRole, ClusterRoleBinding and an aws-auth mapping, then verify.
    #[command(after_help = GRANT_EXAMPLES)]
    Grant(GrantArgs),
    /// Remove an IAM role's aws-auth mapping and, when nothing else uses them, its RBAC objects.
    #[command(after_help = REVOKE_EXAMPLES)]
    Revoke(RevokeArgs),
    /// Who is mapped to what through aws-auth, what they can really do, and what is dangerous.
    #[command(after_help = AUDIT_EXAMPLES, args_conflicts_with_subcommands = true)]
    Audit(AuditArgs),
    /// Put back an aws-auth ConfigMap saved by grant or revoke (shows the diff, asks first).
    #[command(name = "restore-aws-auth", after_help = RESTORE_EXAMPLES)]
    RestoreAwsAuth(RestoreArgs),
    /// Print an ExecCredential with an EKS bearer token, like `aws eks get-token` (for a kubeconfig exec plugin).
    #[command(after_help = TOKEN_EXAMPLES)]
    Token(TokenArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell or elvish).
    #[command(after_help = COMPLETION_EXAMPLES)]
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Cobra-style dynamic completion, called by `kubectl_complete-chronom` (kubectl >= 1.26).
    #[command(name = "__complete", hide = true)]
    Complete {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The IAM role to map: arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME, or an STS assumed-role ARN.
    #[arg(long, value_name = "ARN")]
    pub role_arn: String,

    /// Kubernetes username for the role (default: the role name). Templates such as chronom:{{SessionName}} are allowed.
    #[arg(long, value_name = "NAME")]
    pub username: Option<String>,

    /// Kubernetes group the role is mapped to and the ClusterRoleBinding binds.
    #[arg(long, value_name = "GROUP", default_value = DEFAULT_GROUP)]
    pub group: String,

    /// Name of the read-only ClusterRole and of its ClusterRoleBinding.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_ROLE_NAME)]
    pub role_name: String,

    /// The default, kept for scripts: the read-only role (get/list/watch on every resource the
    /// server serves, except Secrets and the exec, attach, portforward and proxy subresources).
    #[arg(long, conflicts_with_all = ["include_secrets", "wildcard_role"])]
    pub exclude_secrets: bool,

    /// The read-only role plus get/list/watch on Secrets in every namespace (service-account
    /// tokens and credentials).
    #[arg(long, conflicts_with = "wildcard_role")]
    pub include_secrets: bool,

    /// The legacy role get/list/watch on "*" in every group. NOT read-only: get nodes/proxy runs
    /// commands on every node through the kubelet, get pods/exec|attach|portforward works over a
    /// WebSocket before Kubernetes 1.35, get pods/proxy and services/proxy reach any pod or
    /// service, and it reads every Secret and every resource installed later. Prints a warning.
    #[arg(long)]
    pub wildcard_role: bool,

    /// Replace an existing aws-auth entry for the same role that maps a different username or groups.
    #[arg(long)]
    pub force_update: bool,

    /// Allow --group to name a privileged group such as system:masters (this grants far more than read-only).
    #[arg(long)]
    pub allow_privileged_group: bool,

    /// Write nothing: print the aws-auth diff and the manifests that would be applied.
    #[arg(long)]
    pub dry_run: bool,

    /// How to map the role: EKS access entries, the aws-auth ConfigMap, or auto (from the cluster's authentication mode).
    #[arg(long, value_enum, default_value = "auto")]
    pub via: MappingVia,

    /// Map the role even though IAM says it does not exist yet (on EKS grant looks it up first and refuses a missing role).
    #[arg(long)]
    pub role_created_later: bool,

    /// Output format.
    #[arg(short = 'o', long = "output", value_parser = one_of(&WRITE_FORMATS, Format::name), default_value = "text")]
    pub output: Format,
}

impl GrantArgs {
    /// The role profile the flags ask for (they conflict, so at most one is set).
    pub fn profile(&self) -> chronom_core::readonly_role::RoleProfile {
        use chronom_core::readonly_role::RoleProfile;
        if self.wildcard_role {
            RoleProfile::Wildcard
        } else if self.include_secrets {
            RoleProfile::ReadOnlyWithSecrets
        } else {
            RoleProfile::ReadOnly
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MappingVia {
    Auto,
    AccessEntry,
    AwsAuth,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The IAM role whose aws-auth entries are removed (matched without path, case-insensitively).
    #[arg(long, value_name = "ARN")]
    pub role_arn: String,

    /// The username grant mapped the role to (default: the role name, as grant). An aws-auth entry with another username is not removed.
    #[arg(long, value_name = "NAME")]
    pub username: Option<String>,

    /// Remove the role's aws-auth entry or access entry even when it is not exactly what grant writes. Never a node or system:masters mapping, a non-STANDARD access entry, or one with AmazonEKSClusterAdminPolicy.
    #[arg(long)]
    pub force_remove_foreign_entry: bool,

    /// Keep the ClusterRole and ClusterRoleBinding even when no remaining entry maps to the group.
    #[arg(long)]
    pub keep_rbac: bool,

    /// The group grant mapped the role to. Its subject leaves the ClusterRoleBinding when no remaining entry maps it; the binding goes when no subject is left.
    #[arg(long, value_name = "GROUP", default_value = DEFAULT_GROUP)]
    pub group: String,

    /// Name of the read-only ClusterRole and of its ClusterRoleBinding.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_ROLE_NAME)]
    pub role_name: String,

    /// Write nothing: print what would be removed.
    #[arg(long)]
    pub dry_run: bool,

    /// Output format.
    #[arg(short = 'o', long = "output", value_parser = one_of(&WRITE_FORMATS, Format::name), default_value = "text")]
    pub output: Format,
}

/// The formats each command accepts for `-o`, in the order `--help` lists them.
const WRITE_FORMATS: [Format; 3] = [Format::Text, Format::Json, Format::Yaml];
const AUDIT_FORMATS: [Format; 5] = [
    Format::Table,
    Format::Wide,
    Format::Json,
    Format::Yaml,
    Format::Sarif,
];
const QUERY_FORMATS: [Format; 4] = [Format::Table, Format::Wide, Format::Json, Format::Yaml];

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub query: Option<AuditQuery>,

    /// Output format. wide adds the rules behind each grant; sarif is SARIF 2.1.0 for code-scanning UIs.
    #[arg(short = 'o', long = "output", value_parser = one_of(&AUDIT_FORMATS, Format::name), default_value = "table")]
    pub output: Format,

    /// Exit 3 when any finding is at or above this severity, or when the audit is incomplete (see --allow-incomplete).
    #[arg(long, value_name = "SEVERITY", value_parser = one_of(&Severity::ALL, Severity::name))]
    pub fail_on: Option<Severity>,

    /// Accept an incomplete audit (a source it could not read, such as a forbidden list, the EKS side, or a fleet's failed cluster): still reported, but not a failure by itself.
    #[arg(long)]
    pub allow_incomplete: bool,

    /// Ask the live authorizer (SubjectAccessReview) every allow/deny the report relies on; exit 4 on any mismatch.
    #[arg(long)]
    pub verify: bool,

    /// Audit manifests instead of a live cluster: YAML or JSON files (kind: List dumps included) or directories.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub from_file: Vec<PathBuf>,

    /// Audit every EKS cluster in --regions (ListClusters), concurrently, in one report.
    #[arg(long, conflicts_with = "from_file")]
    pub all_clusters: bool,

    /// Regions for --all-clusters: a comma-separated list, or `all`.
    #[arg(
        long,
        value_name = "r1,r2|all",
        requires = "all_clusters",
        value_delimiter = ','
    )]
    pub regions: Vec<String>,

    /// With --all-clusters: the role to assume in each account of --accounts or --organization (its name, as in every account, optionally with its path).
    #[arg(long, value_name = "NAME", requires_all = ["all_clusters", "account_set"])]
    pub assume_role_name: Option<String>,

    /// Audit these accounts' clusters, each through the role --assume-role-name names there: a comma-separated list of account ids.
    #[arg(
        long,
        value_name = "ID,ID",
        value_delimiter = ',',
        requires = "assume_role_name",
        group = "account_set"
    )]
    pub accounts: Vec<String>,

    /// Audit every ACTIVE account of the caller's AWS Organization (ListAccounts; the management account or a delegated administrator), each through --assume-role-name.
    #[arg(long, requires = "assume_role_name", group = "account_set")]
    pub organization: bool,

    /// Read IAM (GetRole, GetUser) for every mapped principal: missing, re-created and unused ones become findings. The default on EKS clusters and with --all-clusters; this turns it on elsewhere.
    #[arg(long, conflicts_with = "no_check_principals")]
    pub check_principals: bool,

    /// Do not read IAM for the mapped principals, not even on EKS.
    #[arg(long)]
    pub no_check_principals: bool,

    /// Report a mapped IAM role not used for this many days (CHR043).
    #[arg(long, value_name = "DAYS", default_value_t = chronom_core::audit::principals::DEFAULT_STALE_DAYS)]
    pub stale_days: u32,
}

#[derive(Debug, Subcommand)]
pub enum AuditQuery {
    /// Which subjects, and which IAM principals behind them, may do VERB on RESOURCE.
    #[command(name = "who-can", after_help = WHO_CAN_EXAMPLES)]
    WhoCan(WhoCanArgs),
    /// Which roles a subject has: an IAM role or assumed-role ARN, a user, a group, or a ServiceAccount ns:name.
    #[command(after_help = LOOKUP_EXAMPLES)]
    Lookup(LookupArgs),
}

#[derive(Debug, Args)]
pub struct WhoCanArgs {
    /// A verb (get, list, create, update, patch, delete, watch, impersonate, bind, escalate, approve, ... or *).
    pub verb: String,
    /// RESOURCE[.GROUP][/SUBRESOURCE][/NAME]-style target as kubectl auth can-i takes it, or a non-resource URL such as /metrics.
    pub resource: String,
    /// Namespace to answer for (cluster-wide grants included). Default: the context's namespace.
    #[arg(
        short = 'n',
        long,
        value_name = "NS",
        conflicts_with = "all_namespaces"
    )]
    pub namespace: Option<String>,
    /// Every subject that may do it in at least one namespace, one row per scope.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    #[arg(short = 'o', long = "output", value_parser = one_of(&QUERY_FORMATS, Format::name), default_value = "table")]
    pub output: Format,
    /// Audit manifests instead of a live cluster (as for audit).
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub from_file: Vec<PathBuf>,
    /// Answer even when a source could not be read (a forbidden list, the EKS side): the answer then leaves it out, and says so on stderr.
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Read IAM for the principals in the answer and mark those that no longer exist or were re-created. The default on EKS clusters; this turns it on elsewhere.
    #[arg(long, conflicts_with = "no_check_principals")]
    pub check_principals: bool,

    /// Do not read IAM for the principals, not even on EKS.
    #[arg(long)]
    pub no_check_principals: bool,
}

#[derive(Debug, Args)]
pub struct LookupArgs {
    /// arn:aws:iam::ACCOUNT:role/NAME (or assumed-role), a user name, a group name, or ns:serviceaccount.
    pub subject: String,
    #[arg(short = 'o', long = "output", value_parser = one_of(&QUERY_FORMATS, Format::name), default_value = "table")]
    pub output: Format,
    /// Audit manifests instead of a live cluster (as for audit).
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub from_file: Vec<PathBuf>,
    /// Answer even when a source could not be read (a forbidden list, the EKS side): the answer then leaves it out, and says so on stderr.
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Read IAM for the principals in the answer and mark those that no longer exist or were re-created. The default on EKS clusters; this turns it on elsewhere.
    #[arg(long, conflicts_with = "no_check_principals")]
    pub check_principals: bool,

    /// Do not read IAM for the principals, not even on EKS.
    #[arg(long)]
    pub no_check_principals: bool,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// An IAM role to assume first; the token then identifies that role.
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,
    /// `token` reads only --cluster, --region and --profile. These two stand in for the global
    /// kubeconfig flags (clap does not propagate a global flag to a command that has its own of
    /// that name), so they are still accepted, as everywhere, but left out of `token --help`,
    /// where they would do nothing.
    #[arg(long, hide = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    #[arg(long, hide = true, value_name = "CTX")]
    pub context: Option<String>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup written by grant or revoke (printed as "backup of aws-auth as read: FILE").
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Restore even though the backup was saved from an aws-auth that has since been deleted
    /// and created again (another uid).
    #[arg(long)]
    pub allow_recreated: bool,
}

pub const DEFAULT_GROUP: &str = "chronomReadOnlyGroup";
pub const DEFAULT_ROLE_NAME: &str = "chronomReadOnlyRole";

const GRANT_EXAMPLES: &str = "Examples:
  # Map the scanner role and create the read-only RBAC, then verify with the API server
  kubectl chronom grant --role-arn arn:aws:iam::111122223333:role/chronom-scanner

  # See the aws-auth diff and manifests without changing anything
  kubectl chronom grant --role-arn arn:aws:iam::111122223333:role/chronom-scanner --dry-run

  # The read-only role plus Secrets, as JSON
  kubectl chronom grant --include-secrets -o json \\
    --role-arn arn:aws:iam::111122223333:role/chronom-scanner";

const AUDIT_EXAMPLES: &str = "Examples:
  # Mappings, effective access and findings for the current context
  kubectl chronom audit

  # Fail a CI job on high or critical findings, with SARIF for code scanning
  # (an audit that could not read a source fails it too: exit 3)
  kubectl chronom audit --fail-on high -o sarif > chronom.sarif

  # Gate on findings alone, accepting what this identity may not read (still reported)
  kubectl chronom audit --fail-on high --allow-incomplete

  # Audit a GitOps repository before it is deployed
  kubectl chronom audit --from-file ./manifests

  # Check every answer against the live authorizer
  kubectl chronom audit --verify";

const WHO_CAN_EXAMPLES: &str = "Examples:
  # Who can read secrets anywhere, and which IAM roles lead there
  kubectl chronom audit who-can get secrets -A

  # Who can exec into pods in kube-system
  kubectl chronom audit who-can create pods/exec -n kube-system

  # Who can rewrite aws-auth
  kubectl chronom audit who-can update configmaps/aws-auth -n kube-system";

const LOOKUP_EXAMPLES: &str = "Examples:
  # What an IAM role can do, through aws-auth and RBAC
  kubectl chronom audit lookup arn:aws:iam::111122223333:role/chronom-scanner

  # A group, or a ServiceAccount
  kubectl chronom audit lookup system:nodes
  kubectl chronom audit lookup kube-system:coredns";

const RESTORE_EXAMPLES: &str = "Examples:
  # Show what would change and ask before writing
  kubectl chronom restore-aws-auth \\
    ~/.local/state/kubectl-chronom/backups/my-cluster/20261123T120950Z-aws-auth.yaml

  # In a script
  kubectl chronom restore-aws-auth FILE --yes";

const TOKEN_EXAMPLES: &str = "Examples:
  # What `aws eks get-token --cluster-name prod` prints, without the aws CLI
  kubectl chronom token --cluster prod --region eu-west-1

  # As a kubeconfig exec plugin
  #   exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: kubectl-chronom,
  #          args: [token, --cluster, prod, --region, eu-west-1]}";

const COMPLETION_EXAMPLES: &str = "Examples:
  # bash, for the current shell
  source <(kubectl chronom completion bash)";

const REVOKE_EXAMPLES: &str = "Examples:
  # Remove the mapping and the RBAC objects when nothing else uses them
  kubectl chronom revoke --role-arn arn:aws:iam::111122223333:role/chronom-scanner

  # Remove only the mapping
  kubectl chronom revoke --role-arn arn:aws:iam::111122223333:role/chronom-scanner --keep-rbac";

/// How the user invoked us, for help and examples: `kubectl chronom` when run as the
/// kubectl-chronom plugin binary (directly or through kubectl), else the binary's own name.
pub fn display_name(argv0: &str) -> String {
    let base = std::path::Path::new(argv0)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("kubectl-chronom");
    match base.strip_prefix("kubectl-") {
        Some(plugin) => format!("kubectl {}", plugin.replace('_', "-")),
        None => base.to_string(),
    }
}

/// The command line as `name` shows it: help, usage, examples and `--version` (`kubectl
/// chronom 0.1.0 (commit …)` when run as the plugin, as docs/install.md shows; clap would
/// print the crate name `kubectl-chronom`).
pub fn command_named(name: &str) -> clap::Command {
    use clap::CommandFactory;
    let command = Cli::command()
        .bin_name(name.to_string())
        .display_name(name.to_string());
    examples_as_written(command, name)
}

/// Each command's examples, named as the user invoked us and never wrapped: clap wraps
/// `after_help` at the terminal's width, which broke example commands in the middle, so the
/// examples go into the help template, whose literal text clap prints as it is (the rest of
/// the template is clap's default one).
fn examples_as_written(command: clap::Command, name: &str) -> clap::Command {
    let command = command.mut_subcommands(|sub| examples_as_written(sub, name));
    let Some(examples) = command.get_after_help().map(|h| h.to_string()) else {
        return command;
    };
    let examples = examples.replace("kubectl chronom", name);
    command.after_help(clap::builder::Resettable::<clap::builder::StyledStr>::Reset).help_template(format!(
        "{{before-help}}{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n{{all-args}}\n\n{examples}"
    ))
}

/// Parse argv, with help and examples written the way the user invoked us.
pub fn parse() -> Cli {
    use clap::FromArgMatches;
    let argv0 = std::env::args().next().unwrap_or_default();
    let name = display_name(&argv0);
    let command = command_named(&name);
    let parsed = command
        .try_get_matches_from(kubectl_verbosity(std::env::args_os()))
        .and_then(|matches| Cli::from_arg_matches(&matches));
    parsed.unwrap_or_else(|e| exit_on_usage_error(&e))
}

/// Help and `--version` as clap prints them; a usage error as every other error is printed:
/// `error: what happened` and `  next: what to do` (clap's "For more information, try
/// '--help'" becomes that step, as kubectl's "See 'kubectl version --help' for usage"). Exit 2.
fn exit_on_usage_error(e: &clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit()
    }
    eprintln!("{}", usage_error_text(&e.render().to_string()));
    std::process::exit(e.exit_code())
}

/// clap's rendered usage error with its closing pointer to `--help` turned into a `next:` step.
pub fn usage_error_text(rendered: &str) -> String {
    let body = rendered.trim_end();
    let body = body
        .strip_suffix("For more information, try '--help'.")
        .unwrap_or(body)
        .trim_end();
    format!("{body}\n  next: see --help for the flags, their values and examples")
}

/// The tracing filter for `-v` counted `verbose` times. Only our own crate gets the chosen
/// level: the HTTP stack's trace logs carry headers. The libraries we call stay silent by
/// default: kube logs `ERROR failed with error client error (Connect)` and the AWS SDK logs
/// its credential providers' Debug dumps for failures we explain ourselves, in one message with
/// its next step; from `-v` on, their warnings and errors show.
pub fn log_filter(verbose: u8) -> String {
    let (libraries, ours) = match verbose {
        0 => ("off", "warn"),
        1 => ("warn", "info"),
        2 => ("warn", "debug"),
        _ => ("warn", "trace"),
    };
    format!("{libraries},chronom={ours},kubectl_chronom={ours}")
}

/// `--request-timeout` in seconds. kubectl (client-go's `ConfigOverrides` timeout) reads an
/// integer as seconds, else a Go duration (`time.ParseDuration`: a sequence of decimal numbers
/// each with a unit ns, us, µs, ms, s, m, h); we keep fractional seconds (`2.5`), which we
/// accepted before. `0` means no timeout there, so it is infinity here: every clamp of this
/// value (the EKS endpoint probe's 0.5–10 s) then reads it as its longest.
pub fn request_timeout_seconds(text: &str) -> Result<f64, String> {
    let invalid = || {
        format!(
            "{text:?} is not a timeout: give seconds (30) or a duration with units (30s, 1m, \
             1h2m3s, 500ms); 0 means no timeout"
        )
    };
    let text = text.trim();
    let seconds = match text.parse::<f64>() {
        Ok(s) if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') => s,
        Ok(_) => return Err(invalid()),
        Err(_) => go_duration_seconds(text).ok_or_else(invalid)?,
    };
    match seconds {
        0.0 => Ok(f64::INFINITY),
        s if s.is_finite() && s > 0.0 => Ok(s),
        _ => Err(invalid()),
    }
}

/// Go's `time.ParseDuration` without a sign (a negative timeout means nothing): `1h2m3.5s`.
fn go_duration_seconds(text: &str) -> Option<f64> {
    if text == "0" {
        return Some(0.0);
    }
    let mut rest = text;
    let mut total = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_end);
        if number.is_empty() || number == "." {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        rest = tail;
    }
    Some(total)
}

/// The most `-v`s that change anything (trace); a larger `--v=N` means the same.
const MAX_VERBOSITY: u8 = 3;

/// kubectl's `-v` is klog's pflag `Level`: it takes a value (`--v=9`, `--v 9`, `-v=9`, `-v 9`,
/// `-v9`). Ours also counts (`-v`, `-vv`, documented before `--v=N` was). clap cannot have one
/// flag do both, so each kubectl form with a number becomes that many `-v` before clap parses;
/// anything else (`-vv`, a bare `-v`, `--v=x`) reaches clap unchanged. Nothing after `--` is
/// touched. A negative level is 0, as klog's quietest.
pub fn kubectl_verbosity(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    fn level(s: &str) -> Option<u8> {
        let n: i64 = s.parse().ok()?;
        Some(n.clamp(0, i64::from(MAX_VERBOSITY)) as u8)
    }
    let mut out = Vec::new();
    let mut args = args.into_iter().peekable();
    let push_level = |out: &mut Vec<std::ffi::OsString>, n: u8| {
        if n > 0 {
            out.push(format!("-{}", "v".repeat(n.into())).into());
        }
    };
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            out.push(arg);
            out.extend(args);
            break;
        }
        let attached = text
            .strip_prefix("--v=")
            .or_else(|| text.strip_prefix("-v="))
            .or_else(|| text.strip_prefix("-v").filter(|n| level(n).is_some()));
        if let Some(n) = attached.and_then(level) {
            push_level(&mut out, n);
            continue;
        }
        if text == "--v" || text == "-v" {
            let next = args.peek().and_then(|n| n.to_str()).and_then(level);
            if let Some(n) = next {
                args.next();
                push_level(&mut out, n);
                continue;
            }
        }
        out.push(arg);
    }
    out
}

/// A flag whose values are the names of a core type's variants (`name` gives each one's
/// spelling): clap lists and checks them as it would for a `ValueEnum`, and the core type
/// stays free of clap.
fn one_of<T: Copy + Send + Sync + 'static>(
    values: &[T],
    name: fn(T) -> &'static str,
) -> impl TypedValueParser<Value = T> {
    let values = values.to_vec();
    PossibleValuesParser::new(values.iter().map(|v| name(*v))).map(move |typed| {
        *values
            .iter()
            .find(|v| name(**v) == typed)
            .expect("clap accepts only the listed names")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_binary_shows_as_kubectl_subcommand() {
        assert_eq!(
            display_name("/usr/local/bin/kubectl-chronom"),
            "kubectl chronom"
        );
        assert_eq!(display_name("kubectl-chronom.exe"), "kubectl chronom");
        assert_eq!(display_name("/opt/bin/chronom"), "chronom");
    }

    fn grant(extra: &[&str]) -> Result<GrantArgs, clap::Error> {
        use clap::Parser;
        let mut argv = vec![
            "kubectl-chronom",
            "grant",
            "--role-arn",
            "arn:aws:iam::1:role/r",
        ];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv)?.command {
            Command::Grant(g) => Ok(g),
            _ => unreachable!("parsed grant"),
        }
    }

    #[test]
    fn profile_flags_choose_the_profile() {
        use chronom_core::readonly_role::RoleProfile;
        assert_eq!(grant(&[]).unwrap().profile(), RoleProfile::ReadOnly);
        assert_eq!(
            grant(&["--exclude-secrets"]).unwrap().profile(),
            RoleProfile::ReadOnly,
            "--exclude-secrets means the default"
        );
        assert_eq!(
            grant(&["--include-secrets"]).unwrap().profile(),
            RoleProfile::ReadOnlyWithSecrets
        );
        assert_eq!(
            grant(&["--wildcard-role"]).unwrap().profile(),
            RoleProfile::Wildcard
        );
    }

    #[test]
    fn profile_flags_conflict_with_each_other() {
        for pair in [
            ["--include-secrets", "--wildcard-role"],
            ["--exclude-secrets", "--include-secrets"],
            ["--exclude-secrets", "--wildcard-role"],
        ] {
            for order in [pair, [pair[1], pair[0]]] {
                let err = grant(&order)
                    .err()
                    .unwrap_or_else(|| panic!("{order:?} accepted"));
                assert_eq!(
                    err.kind(),
                    clap::error::ErrorKind::ArgumentConflict,
                    "{order:?}"
                );
            }
        }
    }

    fn verbosity(args: &[&str]) -> Result<u8, clap::Error> {
        use clap::Parser;
        let argv = ["kubectl-chronom"]
            .iter()
            .chain(args)
            .chain(&["audit", "--from-file", "x"])
            .map(std::ffi::OsString::from);
        Cli::try_parse_from(kubectl_verbosity(argv)).map(|c| c.global.verbose)
    }

    #[test]
    fn verbosity_takes_kubectls_forms_and_keeps_counting() {
        for (args, want) in [
            (&[][..], 0),
            (&["--v=9"][..], MAX_VERBOSITY),
            (&["--v", "9"], MAX_VERBOSITY),
            (&["-v=9"], MAX_VERBOSITY),
            (&["-v", "9"], MAX_VERBOSITY),
            (&["-v9"], MAX_VERBOSITY),
            (&["--v=2"], 2),
            (&["-v", "1"], 1),
            (&["--v=0"], 0),
            (&["--v=-1"], 0),
            (&["-v"], 1),
            (&["-vv"], 2),
            (&["-v", "-v", "-v"], 3),
            (&["--v"], 1),
        ] {
            assert_eq!(verbosity(args).unwrap(), want, "{args:?}");
        }
        // After the subcommand too (the flag is global), and a bare -v leaves the next word alone.
        use clap::Parser;
        for (argv, want) in [
            (&["kubectl-chronom", "-v", "audit", "lookup", "x"][..], 1),
            (&["kubectl-chronom", "audit", "lookup", "-v", "2", "x"], 2),
            (&["kubectl-chronom", "audit", "lookup", "x", "--v=2"], 2),
        ] {
            let words = argv.iter().map(std::ffi::OsString::from);
            let cli = Cli::try_parse_from(kubectl_verbosity(words));
            assert_eq!(cli.unwrap().global.verbose, want, "{argv:?}");
        }
        // Not a number: a usage error, as kubectl's `invalid argument "x" for "-v, --v"`.
        assert!(verbosity(&["--v=x"]).is_err());
        // After `--`, words are not flags.
        assert_eq!(
            kubectl_verbosity(["a", "--", "--v=9"].map(std::ffi::OsString::from)),
            ["a", "--", "--v=9"].map(std::ffi::OsString::from)
        );
    }

    #[test]
    fn request_timeout_takes_seconds_and_go_durations() {
        for (text, want) in [
            ("30", 30.0),
            ("2.5", 2.5),
            ("30s", 30.0),
            ("1m", 60.0),
            ("1h2m3s", 3723.0),
            ("1.5h", 5400.0),
            ("500ms", 0.5),
            ("0", f64::INFINITY),
            ("0s", f64::INFINITY),
        ] {
            assert_eq!(request_timeout_seconds(text), Ok(want), "{text}");
        }
        for bad in [
            "", "x", "-1", "-1s", "30x", "1m-2s", "s", "1.2.3s", "inf", "NaN", "1e3",
        ] {
            let e = request_timeout_seconds(bad).expect_err(bad);
            assert!(e.contains("30s"), "{bad}: {e}");
        }
        // On the command line: a bad value is clap's usage error (exit 2), naming the flag.
        use clap::Parser;
        let e = Cli::try_parse_from(["kubectl-chronom", "--request-timeout", "soon", "audit"])
            .unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
        assert_eq!(e.exit_code(), 2);
        let cli = Cli::try_parse_from(["kubectl-chronom", "--request-timeout=1m", "audit"]);
        assert_eq!(cli.unwrap().global.request_timeout, 60.0);
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
