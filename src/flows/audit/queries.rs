//! `audit who-can` and `audit lookup`: read the cluster (or the files), answer with the pure
//! `answers`, and print.

use crate::cli::{GlobalArgs, LookupArgs, WhoCanArgs};
use chronom_core::audit::answers::{answer_lookup, answer_who_can, lookup_targets};
use chronom_core::audit::completeness::UnreadSource;
use chronom_core::audit::inventory;
use chronom_core::error::UserError;
use chronom_core::rbac::{self, QueryScope, Request, ResourceCatalog};
use chronom_core::report::format::Format;

pub async fn who_can(global: &GlobalArgs, q: &WhoCanArgs) -> Result<i32, UserError> {
    let catalog = ResourceCatalog::builtin();
    let asked = format!("{} {}", q.verb, q.resource);
    let request = rbac::parse_verb_target(&q.verb, &q.resource, &catalog).map_err(|e| match e {
        // The next step names the group syntax with an example, in who-can's own words.
        rbac::RequestParseError::UnknownResource { resource } => UserError::usage(
            format!("cannot read `{asked}`: unknown resource type {resource:?}: the built-in table does not know its API group"),
            format!("name its group: `{resource}.GROUP` (e.g. {resource}.example.com), or `{resource}.` for the core group"),
        ),
        e => UserError::usage(format!("cannot read `{asked}`: {e}"), "write it as kubectl auth can-i does: VERB RESOURCE[.GROUP][/NAME], e.g. get secrets, create pods/exec, get /metrics"),
    })?;
    rbac::well_formed::check(&request)
        .map_err(|e| UserError::usage(format!("cannot read `{asked}`: {e}"), e.next_step()))?;
    // Connect first: the scope (the context's namespace by default) decides what is listed.
    let conn = super::connect_unless_files(global, &q.from_file).await?;
    let namespaced = match &request {
        Request::Resource(r) => catalog
            .is_namespaced(&r.api_group, &r.resource)
            .unwrap_or(true),
        Request::NonResource(_) => false,
    };
    let scope = if !namespaced {
        QueryScope::ClusterScoped
    } else if q.all_namespaces {
        QueryScope::AllNamespaces
    } else {
        let ns = match (&q.namespace, &conn) {
            (Some(ns), _) => ns.clone(),
            (None, Some(c)) => c.default_namespace.clone(),
            (None, None) => "default".into(),
        };
        QueryScope::Namespace(ns)
    };
    // Only the bindings the scope consults are listed (one namespace's, or none besides the
    // cluster's); rbac::who_can looks at no others, so the answer is the same as from the whole.
    let (mut state, inv) = super::read_source(
        conn.as_ref(),
        &q.from_file,
        &scope,
        inventory::from_aws_auth,
    )
    .await?;
    let mut mappings = inv.mappings;
    if let Some(conn) = &conn {
        let eks_unread =
            crate::flows::audit::mapping_source::add_from(conn, &mut mappings, &mut state.rbac)
                .await;
        state.unread.extend(eks_unread);
    }
    check_complete(&state.unread, q.allow_incomplete)?;
    let snapshot =
        chronom_core::audit::report::take_snapshot(&mut state, super::rule_source(&q.from_file));
    let mut request = request;
    if let (Request::Resource(r), QueryScope::Namespace(ns)) = (&mut request, &scope) {
        r.namespace = Some(ns.clone());
    }
    let mut rows = answer_who_can(&snapshot, &mappings, &request, &scope);
    let opts = super::principals::PrincipalOptions::from_flags(
        global,
        q.check_principals,
        q.no_check_principals,
    );
    // Only the principals the answer shows are worth an IAM call.
    let in_rows: std::collections::HashSet<&str> = rows
        .iter()
        .flat_map(|r| r.principals.iter().map(String::as_str))
        .collect();
    let shown: Vec<_> = mappings
        .iter()
        .filter(|m| in_rows.contains(m.principal.as_str()))
        .cloned()
        .collect();
    if let Some(answers) = super::principals::answers_for(&shown, conn.as_ref(), &opts).await {
        chronom_core::audit::answers::mark_who_can(&mut rows, &shown, &answers);
    }
    match q.output {
        Format::Json | Format::Yaml => crate::report::print_structured(q.output, &rows)?,
        // who-can accepts table, wide, json and yaml (cli.rs); its table has no wide form.
        _ => crate::report::print_text(&chronom_core::report::audit_table::who_can(&rows))?,
    }
    if rows.is_empty() {
        eprintln!("no subject may {} {} in that scope", q.verb, q.resource);
    }
    crate::flows::free_aside((state, snapshot, mappings, rows));
    Ok(chronom_core::exit::EXIT_OK)
}

pub async fn lookup(global: &GlobalArgs, q: &LookupArgs) -> Result<i32, UserError> {
    let conn = super::connect_unless_files(global, &q.from_file).await?;
    let (mut state, inv) = super::read_source(
        conn.as_ref(),
        &q.from_file,
        &QueryScope::AllNamespaces,
        inventory::from_aws_auth,
    )
    .await?;
    let mut mappings = inv.mappings;
    if let Some(conn) = &conn {
        let eks_unread =
            crate::flows::audit::mapping_source::add_from(conn, &mut mappings, &mut state.rbac)
                .await;
        state.unread.extend(eks_unread);
    }
    check_complete(&state.unread, q.allow_incomplete)?;
    let snapshot =
        chronom_core::audit::report::take_snapshot(&mut state, super::rule_source(&q.from_file));
    let targets = lookup_targets(&q.subject, &mappings)?;
    if targets.is_empty() {
        // A script reading -o json/yaml gets the empty answer, not an empty stdout it would
        // have to special-case; the table stays empty (the why is on stderr).
        if matches!(q.output, Format::Json | Format::Yaml) {
            crate::report::print_structured(q.output, &answer_lookup(&snapshot, &targets))?;
        }
        if state.unread.is_empty() {
            eprintln!(
                "{} is not mapped in aws-auth (nor by an EKS access entry): it cannot authenticate to this cluster through them",
                q.subject
            );
        } else {
            eprintln!(
                "{} is not mapped in what could be read (see the sources above that could not be)",
                q.subject
            );
        }
        return Ok(0);
    }
    let mut rows = answer_lookup(&snapshot, &targets);
    let opts = super::principals::PrincipalOptions::from_flags(
        global,
        q.check_principals,
        q.no_check_principals,
    );
    let shown: Vec<_> = mappings
        .iter()
        .filter(|m| {
            targets
                .iter()
                .any(|(p, _)| p.as_ref() == Some(&m.principal))
        })
        .cloned()
        .collect();
    if let Some(answers) = super::principals::answers_for(&shown, conn.as_ref(), &opts).await {
        chronom_core::audit::answers::mark_lookup(&mut rows, &shown, &answers);
    }
    for note in chronom_core::audit::answers::lookup_notes(&targets) {
        eprintln!("note: {note}");
    }
    match q.output {
        Format::Json | Format::Yaml => crate::report::print_structured(q.output, &rows)?,
        Format::Wide => {
            crate::report::print_text(&chronom_core::report::audit_table::lookup(&rows, true))?
        }
        // lookup accepts table, wide, json and yaml (cli.rs).
        _ => crate::report::print_text(&chronom_core::report::audit_table::lookup(&rows, false))?,
    }
    if rows.is_empty() {
        eprintln!("no binding applies to {}", q.subject);
    }
    crate::flows::free_aside((state, snapshot, mappings, rows));
    Ok(0)
}

/// who-can and lookup answer from what they read: a source they could not read is an error
/// naming it (an empty or partial answer would read as "nobody"), unless the user accepted a
/// partial answer with `--allow-incomplete`, which is then said on stderr.
pub fn check_complete(unread: &[UnreadSource], allow_incomplete: bool) -> Result<(), UserError> {
    if unread.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = unread
        .iter()
        .map(|u| format!("{}: {}", u.source, u.reason))
        .collect();
    if allow_incomplete {
        let named: Vec<(String, &UnreadSource)> =
            unread.iter().map(|u| (String::new(), u)).collect();
        eprint!(
            "{}",
            chronom_core::audit::completeness::stderr_message("the answer", &named, true)
        );
        return Ok(());
    }
    Err(UserError::failed(
        format!(
            "cannot answer: {} source(s) could not be read, so the answer could leave out who holds access through them:\n  {}",
            unread.len(),
            listed.join("\n  ")
        ),
        chronom_core::audit::completeness::NEXT_STEP,
    ))
}
