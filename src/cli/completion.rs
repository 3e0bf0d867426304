//! Shell completion: static scripts from clap, and Cobra-style dynamic completion for
//! kubectl's plugin completion (`kubectl_complete-chronom`).
//!
//! kubectl (>= 1.26) completes `kubectl chronom <TAB>` by running `kubectl_complete-chronom`
//! with the words after `chronom`, the last one being the word under the cursor (empty when
//! the cursor starts a new word). That script runs `kubectl-chronom __complete "$@"`, and we
//! answer in Cobra's `__complete` format: one candidate per line, optionally followed by a tab
//! and a description, then a last line `:<directive>`, a bitmask telling the shell what to do
//! with the candidates (see [`Directive`]).
//!
//! [`candidates`] decides what to offer from the clap command tree alone (subcommands, flags,
//! enum values); the only I/O is reading context names from the kubeconfig for `--context`,
//! passed in as a function so the decision stays testable.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::cli::{Cli, GlobalArgs};

pub(crate) fn print_script(shell: clap_complete::Shell) -> i32 {
    let mut command = Cli::command();
    clap_complete::generate(
        shell,
        &mut command,
        "kubectl-chronom",
        &mut std::io::stdout(),
    );
    0
}

/// The Cobra `ShellCompDirective` values we send (a bitmask; `DEFAULT` lets the shell complete
/// file names when there are no candidates). Cobra defines more (error, no space, file
/// extension filter, directories only, keep order); add them here when a completion needs one.
pub(crate) struct Directive;

impl Directive {
    pub(crate) const DEFAULT: u32 = 0;
    pub(crate) const NO_FILE_COMP: u32 = 4;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub value: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Completion {
    pub candidates: Vec<Candidate>,
    pub directive: u32,
}

impl Completion {
    /// The text kubectl reads: `value[\tdescription]` lines, then `:<directive>`.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        for c in &self.candidates {
            out.push_str(&c.value);
            if !c.description.is_empty() {
                out.push('\t');
                out.push_str(&c.description);
            }
            out.push('\n');
        }
        out.push_str(&format!(":{}\n", self.directive));
        out
    }
}

/// `kubectl-chronom __complete WORD... CURRENT`: print the candidates for CURRENT.
///
/// clap parses global flags that come before the first word (`__complete --context ""`) into
/// `_global` instead of `words`, which loses their position; so the words are taken from the
/// raw command line when we were run as `__complete`, and from `words` otherwise.
pub(crate) fn complete(_global: &GlobalArgs, words: &[String]) -> i32 {
    let raw = words_after_complete(std::env::args_os().map(|a| a.to_string_lossy().into_owned()));
    let words = raw.as_deref().unwrap_or(words);
    let completion = candidates(words, &kubeconfig_contexts);
    print!("{}", completion.render());
    0
}

/// For main.rs, before clap parses anything: answer `kubectl-chronom __complete ...` even when
/// the words would not parse as our own command line (`--request-timeout ""`, `--help`).
pub fn intercept() -> Option<i32> {
    let words =
        words_after_complete(std::env::args_os().map(|a| a.to_string_lossy().into_owned()))?;
    let completion = candidates(&words, &kubeconfig_contexts);
    print!("{}", completion.render());
    Some(0)
}

fn words_after_complete(mut argv: impl Iterator<Item = String>) -> Option<Vec<String>> {
    argv.next()?;
    match argv.next() {
        Some(first) if first == "__complete" => Some(argv.collect()),
        _ => None,
    }
}

/// Lists `(name, description)` of the contexts in the kubeconfig named by `--kubeconfig`, or in
/// the default one when `None`.
pub(crate) type ContextLister = dyn Fn(Option<&Path>) -> Vec<(String, String)>;

/// What to offer for the last of `words` (the words after `kubectl chronom`).
/// `contexts(kubeconfig)` lists `(name, description)` of the contexts in the kubeconfig that
/// `--kubeconfig` names, or in the default one.
pub(crate) fn candidates(words: &[String], contexts: &ContextLister) -> Completion {
    let mut root = Cli::command();
    root.build();
    let (to_complete, before) = match words.split_last() {
        Some((last, before)) => (last.as_str(), before),
        None => ("", words),
    };
    let line = Line::parse(&root, before);
    let command = line.command;

    if let Some(arg) = line.pending_value {
        return flag_values(arg, "", to_complete, &line, contexts);
    }
    if !line.after_double_dash {
        if let Some(rest) = to_complete.strip_prefix("--")
            && let Some((name, value)) = rest.split_once('=')
        {
            return match find_long(command, name) {
                Some(arg) if takes_value(arg) => {
                    flag_values(arg, &format!("--{name}="), value, &line, contexts)
                }
                _ => no_files(vec![]),
            };
        }
        if to_complete.starts_with('-') {
            return no_files(flags(command, to_complete, &line.seen, false));
        }
    }

    let subcommands: Vec<&clap::Command> = command
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .collect();
    if !subcommands.is_empty() && line.positionals == 0 {
        let offered = subcommands
            .into_iter()
            .filter(|s| s.get_name().starts_with(to_complete))
            .map(|s| {
                candidate(
                    s.get_name().to_string(),
                    s.get_about().map(|a| a.to_string()),
                )
            })
            .collect();
        return no_files(offered);
    }
    let positional = command
        .get_positionals()
        .filter(|a| !a.is_hide_set())
        .nth(line.positionals)
        .or_else(|| {
            command
                .get_positionals()
                .filter(|a| !a.is_hide_set())
                .last()
                .filter(|a| a.get_num_args().is_some_and(|n| n.max_values() > 1))
        });
    match positional {
        Some(arg) => flag_values(arg, "", to_complete, &line, contexts),
        // Only flags can follow: offer the required ones still missing, else every flag left.
        None if to_complete.is_empty() && !line.after_double_dash => {
            let required = flags(command, "--", &line.seen, true);
            no_files(if required.is_empty() {
                flags(command, "--", &line.seen, false)
            } else {
                required
            })
        }
        None => no_files(vec![]),
    }
}

/// The words before the cursor, read the way clap would read them.
struct Line<'a> {
    command: &'a clap::Command,
    seen: Vec<&'a str>,
    positionals: usize,
    pending_value: Option<&'a clap::Arg>,
    kubeconfig: Option<PathBuf>,
    after_double_dash: bool,
}

impl<'a> Line<'a> {
    fn parse(root: &'a clap::Command, words: &[String]) -> Self {
        let mut line = Line {
            command: root,
            seen: Vec::new(),
            positionals: 0,
            pending_value: None,
            kubeconfig: None,
            after_double_dash: false,
        };
        for word in words {
            if let Some(arg) = line.pending_value.take() {
                line.value(arg, word);
            } else if line.after_double_dash {
                line.positionals += 1;
            } else if word == "--" {
                line.after_double_dash = true;
            } else if let Some(rest) = word.strip_prefix("--") {
                let (name, inline) = match rest.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (rest, None),
                };
                if let Some(arg) = find_long(line.command, name) {
                    line.seen.push(arg.get_id().as_str());
                    match inline {
                        Some(v) if takes_value(arg) => line.value(arg, v),
                        None if takes_value(arg) => line.pending_value = Some(arg),
                        _ => {}
                    }
                }
            } else if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
                for (i, c) in shorts.char_indices() {
                    let Some(arg) = line
                        .command
                        .get_arguments()
                        .find(|a| a.get_short() == Some(c))
                    else {
                        break;
                    };
                    line.seen.push(arg.get_id().as_str());
                    if takes_value(arg) {
                        let rest = &shorts[i + c.len_utf8()..];
                        let rest = rest.strip_prefix('=').unwrap_or(rest);
                        if rest.is_empty() {
                            line.pending_value = Some(arg);
                        } else {
                            line.value(arg, rest);
                        }
                        break;
                    }
                }
            } else if line.positionals == 0
                && let Some(sub) = line.command.find_subcommand(word)
            {
                line.command = sub;
            } else {
                line.positionals += 1;
            }
        }
        line
    }

    fn value(&mut self, arg: &clap::Arg, value: &str) {
        if arg.get_id() == "kubeconfig" {
            self.kubeconfig = Some(expand_home(value));
        }
    }
}

fn flag_values(
    arg: &clap::Arg,
    prefix: &str,
    to_complete: &str,
    line: &Line,
    contexts: &ContextLister,
) -> Completion {
    let offer = |values: Vec<(String, String)>| {
        no_files(
            values
                .into_iter()
                .filter(|(v, _)| v.starts_with(to_complete))
                .map(|(v, d)| candidate(format!("{prefix}{v}"), Some(d)))
                .collect(),
        )
    };
    let possible: Vec<_> = arg
        .get_possible_values()
        .into_iter()
        .filter(|p| !p.is_hide_set())
        .collect();
    if !possible.is_empty() {
        return offer(
            possible
                .iter()
                .map(|p| {
                    (
                        p.get_name().to_string(),
                        p.get_help().map(|h| h.to_string()).unwrap_or_default(),
                    )
                })
                .collect(),
        );
    }
    if arg.get_id() == "context" {
        return offer(contexts(line.kubeconfig.as_deref()));
    }
    if arg.get_id() == "kubeconfig"
        || matches!(
            arg.get_value_hint(),
            clap::ValueHint::FilePath | clap::ValueHint::AnyPath
        )
    {
        return Completion {
            candidates: vec![],
            directive: Directive::DEFAULT,
        };
    }
    no_files(vec![])
}

/// The flags of `command` starting with `prefix`, like Cobra: `--long` always, `-s` unless the
/// prefix is `--`; a flag already given is offered again only if it can repeat.
fn flags(
    command: &clap::Command,
    prefix: &str,
    seen: &[&str],
    required_only: bool,
) -> Vec<Candidate> {
    let mut out = Vec::new();
    for arg in command
        .get_arguments()
        .filter(|a| !a.is_positional() && !a.is_hide_set())
    {
        let repeatable = matches!(
            arg.get_action(),
            clap::ArgAction::Append | clap::ArgAction::Count
        );
        if (seen.contains(&arg.get_id().as_str()) && !repeatable)
            || (required_only && !arg.is_required_set())
        {
            continue;
        }
        let help = arg.get_help().map(|h| h.to_string());
        if let Some(long) = arg.get_long() {
            let flag = format!("--{long}");
            if flag.starts_with(prefix) {
                out.push(candidate(flag, help.clone()));
            }
        }
        if let Some(short) = arg.get_short() {
            let flag = format!("-{short}");
            if flag.starts_with(prefix) {
                out.push(candidate(flag, help));
            }
        }
    }
    out
}

fn find_long<'a>(command: &'a clap::Command, name: &str) -> Option<&'a clap::Arg> {
    command.get_arguments().find(|a| {
        a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|al| al.contains(&name))
    })
}

fn takes_value(arg: &clap::Arg) -> bool {
    arg.get_action().takes_values()
}

fn no_files(candidates: Vec<Candidate>) -> Completion {
    Completion {
        candidates,
        directive: Directive::NO_FILE_COMP,
    }
}

/// A candidate with the first line of its description, without tabs (the protocol's separator).
fn candidate(value: String, description: Option<String>) -> Candidate {
    let description = description.unwrap_or_default();
    let first_line = description.lines().next().unwrap_or("").replace('\t', " ");
    Candidate {
        value,
        description: first_line.trim().to_string(),
    }
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// Context names from `--kubeconfig`, else every readable file in `$KUBECONFIG` (the first file
/// to name a context wins, as in kubectl), else `~/.kube/config`. A file that can't be read
/// adds nothing: completion never prints errors into the user's prompt.
pub(crate) fn kubeconfig_contexts(explicit: Option<&Path>) -> Vec<(String, String)> {
    use kube::config::Kubeconfig;
    let configs: Vec<Kubeconfig> = match explicit {
        Some(path) => Kubeconfig::read_from(path).into_iter().collect(),
        None => {
            let listed: Vec<PathBuf> = std::env::var_os("KUBECONFIG")
                .map(|v| {
                    std::env::split_paths(&v)
                        .filter(|p| !p.as_os_str().is_empty())
                        .collect()
                })
                .unwrap_or_default();
            if listed.is_empty() {
                Kubeconfig::read().into_iter().collect()
            } else {
                listed
                    .iter()
                    .filter_map(|p| Kubeconfig::read_from(p).ok())
                    .collect()
            }
        }
    };
    let current = configs
        .iter()
        .find_map(|c| c.current_context.clone())
        .unwrap_or_default();
    let mut out: Vec<(String, String)> = Vec::new();
    for named in configs.iter().flat_map(|c| &c.contexts) {
        if out.iter().any(|(name, _)| *name == named.name) {
            continue;
        }
        let cluster = named
            .context
            .as_ref()
            .map(|c| c.cluster.as_str())
            .unwrap_or("");
        let mut description = format!("cluster {cluster}");
        if named.name == current {
            description.push_str(" (current)");
        }
        out.push((named.name.clone(), description));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_contexts(kubeconfig: Option<&Path>) -> Vec<(String, String)> {
        match kubeconfig {
            Some(p) => vec![(format!("from-{}", p.display()), String::new())],
            None => vec![
                ("prod".into(), "cluster prod (current)".into()),
                ("staging".into(), "cluster stg".into()),
            ],
        }
    }

    fn complete_words(words: &[&str]) -> Completion {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        candidates(&words, &fake_contexts)
    }

    fn values(c: &Completion) -> Vec<String> {
        c.candidates.iter().map(|c| c.value.clone()).collect()
    }

    #[test]
    fn subcommands_at_the_root_without_the_hidden_one() {
        let c = complete_words(&[""]);
        assert_eq!(c.directive, Directive::NO_FILE_COMP);
        let v = values(&c);
        for sub in ["grant", "revoke", "completion"] {
            assert!(v.iter().any(|x| x == sub), "{v:?}");
        }
        assert!(!v.iter().any(|s| s.starts_with("__")), "{v:?}");
        assert_eq!(values(&complete_words(&["gr"])), ["grant"]);
        assert!(
            c.candidates
                .iter()
                .any(|c| c.value == "grant" && c.description.contains("read-only"))
        );
    }

    #[test]
    fn flags_of_a_subcommand_including_globals() {
        let c = complete_words(&["grant", "--"]);
        let v = values(&c);
        for flag in [
            "--role-arn",
            "--dry-run",
            "--output",
            "--context",
            "--kubeconfig",
            "--help",
        ] {
            assert!(v.iter().any(|x| x == flag), "{flag} missing from {v:?}");
        }
        assert!(
            !v.iter().any(|x| x == "-o"),
            "-- excludes short flags: {v:?}"
        );
        assert!(
            values(&complete_words(&["grant", "-"]))
                .iter()
                .any(|x| x == "-o")
        );
        assert_eq!(
            values(&complete_words(&["revoke", "--keep"])),
            ["--keep-rbac"]
        );
    }

    #[test]
    fn flags_already_given_are_not_offered_again_but_counts_are() {
        let v = values(&complete_words(&["grant", "--dry-run", "-v", "--"])).join(" ");
        assert!(!v.contains("--dry-run"), "{v}");
        assert!(v.contains("--v"), "{v}");
    }

    #[test]
    fn missing_required_flags_on_an_empty_word_then_all_flags() {
        assert_eq!(values(&complete_words(&["grant", ""])), ["--role-arn"]);
        let rest = values(&complete_words(&[
            "grant",
            "--role-arn",
            "arn:aws:iam::1:role/x",
            "",
        ]));
        assert!(
            rest.iter().any(|x| x == "--dry-run") && !rest.iter().any(|x| x == "--role-arn"),
            "{rest:?}"
        );
    }

    #[test]
    fn enum_values_after_space_inline_and_attached() {
        assert_eq!(
            values(&complete_words(&["grant", "-o", ""])),
            ["text", "json", "yaml"]
        );
        assert_eq!(
            values(&complete_words(&["revoke", "--output", "j"])),
            ["json"]
        );
        assert_eq!(
            values(&complete_words(&["grant", "--output=y"])),
            ["--output=yaml"]
        );
        assert_eq!(
            complete_words(&["grant", "-o", ""]).directive,
            Directive::NO_FILE_COMP
        );
    }

    #[test]
    fn completion_shells() {
        let v = values(&complete_words(&["completion", ""]));
        for shell in ["bash", "zsh", "fish", "powershell"] {
            assert!(v.iter().any(|x| x == shell), "{v:?}");
        }
        let after = values(&complete_words(&["completion", "bash", ""]));
        assert!(
            after.iter().all(|x| x.starts_with('-')),
            "only flags after the shell: {after:?}"
        );
    }

    #[test]
    fn contexts_from_the_kubeconfig_the_line_names() {
        assert_eq!(
            values(&complete_words(&["grant", "--context", ""])),
            ["prod", "staging"]
        );
        assert_eq!(values(&complete_words(&["--context", "st"])), ["staging"]);
        assert_eq!(
            values(&complete_words(&[
                "--kubeconfig",
                "/k",
                "grant",
                "--context",
                ""
            ])),
            ["from-/k"]
        );
        assert_eq!(
            values(&complete_words(&["grant", "--kubeconfig=/k", "--context="])),
            ["--context=from-/k"]
        );
        let c = complete_words(&["--context", ""]);
        assert_eq!(c.candidates[0].description, "cluster prod (current)");
    }

    #[test]
    fn kubeconfig_completes_file_names_and_free_text_nothing() {
        let c = complete_words(&["grant", "--kubeconfig", ""]);
        assert_eq!((c.candidates.len(), c.directive), (0, Directive::DEFAULT));
        let c = complete_words(&["grant", "--role-arn", ""]);
        assert_eq!(
            (c.candidates.len(), c.directive),
            (0, Directive::NO_FILE_COMP)
        );
    }

    #[test]
    fn render_is_cobras_format() {
        let c = Completion {
            candidates: vec![
                candidate("a".into(), Some("first\nsecond".into())),
                candidate("b".into(), None),
            ],
            directive: 4,
        };
        assert_eq!(c.render(), "a\tfirst\nb\n:4\n");
        assert_eq!(complete_words(&[]).render().lines().last(), Some(":4"));
    }

    #[test]
    fn raw_words_only_when_run_as_complete() {
        let argv = |v: &[&str]| {
            v.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .into_iter()
        };
        assert_eq!(
            words_after_complete(argv(&["k", "__complete", "--context", ""])),
            Some(vec!["--context".into(), "".into()])
        );
        assert_eq!(words_after_complete(argv(&["k", "grant"])), None);
    }
}
