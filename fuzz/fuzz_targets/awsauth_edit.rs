//! `upsert_role` and `remove_role` on any mapRoles text that parses, with a fuzzed role name,
//! username and groups (input layout: fuzz/src/edit_input.rs).
//!
//! For a role not in the text: upsert adds exactly the asked entry (read back by chronom and
//! by libyaml), every other entry keeps its bytes and meaning, and removing the role gives
//! back the original bytes. For a role in the text: remove drops exactly its entries, and
//! upsert is Unchanged, a Conflict/Duplicates refusal, or (force) the one intended entry.
//! Each role already in the text is also removed, with the same checks. A refusal is fine
//! (`UnsupportedLayout`, an invalid username or group); a refusal that says "please report
//! this" (the editor's own self-check caught a wrong edit) is a finding, like a panic, unless
//! CHRONOM_FUZZ_TOLERATED_DIR names a directory: then the input is written there and the run
//! goes on (see `self_check_refused`). tests/offline/fuzz_seeds.rs replays the seeds through this file.
#![no_main]

use chronom_fuzz::arn::{parse_role_arn, CanonicalRoleArn};
use chronom_fuzz::awsauth::template::parse_template;
use chronom_fuzz::awsauth::{
    effective_role_entry, parse_map_roles, remove_role, upsert_role, validate_username, EditAction, EditError,
    MapRoleEntry, NewRoleEntry,
};
use chronom_fuzz::edit_input::EditInput;
use chronom_fuzz::meaning::{assert_untouched, libyaml_item_is, libyaml_items, Meaning};
use libfuzzer_sys::fuzz_target;

/// Roles of the text that are also removed, per input: bounded so big texts stay fast.
const MAX_REMOVALS: usize = 4;

fuzz_target!(|input: EditInput| {
    CURRENT.with(|c| *c.borrow_mut() = input_bytes(&input));
    let EditInput { text, force, entry } = &input;
    let role = &entry.rolearn;
    let Ok(before) = parse_map_roles(text) else {
        // A text chronom cannot read is never edited.
        assert!(upsert_role(text, entry, *force).is_err(), "upsert edited a text that does not parse");
        assert!(remove_role(text, role).is_err(), "remove edited a text that does not parse");
        return;
    };
    if before.iter().any(|e| e.refers_to(role)) {
        check_remove(text, &before, role);
        check_upsert_existing(text, &before, entry, *force);
    } else {
        check_upsert_new(text, &before, entry, *force);
    }
    let mut others: Vec<CanonicalRoleArn> = Vec::new();
    for e in &before {
        if let Ok(input) = parse_role_arn(&e.rolearn)
            && &input.canonical != role
            && !others.contains(&input.canonical)
        {
            others.push(input.canonical);
        }
    }
    for other in others.iter().take(MAX_REMOVALS) {
        check_remove(text, &before, other);
    }
});

thread_local! {
    /// The input being checked, as bytes that decode to it, to keep it when it is tolerated.
    static CURRENT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The editor's self-check refused an edit (`EditError::Verification`, "please report this"):
/// nothing would be written, but the editor made a wrong edit, so this is a finding.
///
/// scripts/fuzz in CI sets CHRONOM_FUZZ_TOLERATED_DIR: new such inputs still turn up every few
/// hundred thousand executions, and a 60-second run should fail on panics, hangs and wrong
/// edits, not at random. There the input is written to that directory (named by its hash,
/// replayable with `cargo fuzz run`) and the run goes on; scripts/fuzz prints every kept input,
/// and first replays the committed seeds strictly. Without the variable (by hand, and in
/// tests/offline/fuzz_seeds.rs) this panics.
fn self_check_refused(what: &str, message: &str) {
    static DIR: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| std::env::var_os("CHRONOM_FUZZ_TOLERATED_DIR").map(Into::into));
    let Some(dir) = dir else {
        panic!("{what}: {message}");
    };
    let bytes = CURRENT.with(|c| c.borrow().clone());
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&bytes, &mut hasher);
    let path = dir.join(format!("self-check-{:016x}", std::hash::Hasher::finish(&hasher)));
    if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, &bytes)) {
        panic!("{what}: {message} (and it could not be kept in {}: {e})", path.display());
    }
}

/// Bytes that `EditInput::from_bytes` reads back as `input` (the layout of fuzz/src/edit_input.rs).
fn input_bytes(input: &EditInput) -> Vec<u8> {
    let mut parts = vec![input.text.clone()];
    let name = input.entry.rolearn.name();
    parts.push(if input.force { format!("!{name}") } else { name.to_string() });
    parts.push(input.entry.username.clone());
    parts.extend(input.entry.groups.iter().cloned());
    parts.join("\0").into_bytes()
}

/// Would `upsert_role` accept this username and these groups?
fn entry_is_valid(entry: &NewRoleEntry) -> bool {
    validate_username(&entry.username).is_ok() && entry.groups.iter().all(|g| !g.is_empty() && parse_template(g).is_ok())
}

/// The error is one chronom may legitimately answer with, for this entry and text.
fn check_refusal(error: &EditError, entry: &NewRoleEntry, what: &str) {
    match error {
        EditError::Username(_) | EditError::Group { .. } => {
            assert!(!entry_is_valid(entry), "{what}: a valid username/groups refused: {error}");
        }
        // Refusing to edit a layout it cannot edit losslessly is safe; how often the editor
        // does so on the seeds is bounded in tests/offline/fuzz_seeds.rs.
        EditError::UnsupportedLayout { .. } => {}
        EditError::Verification { .. } => self_check_refused(what, &error.to_string()),
        other => panic!("{what}: {other}"),
    }
}

fn check_upsert_new(text: &str, before: &[MapRoleEntry], entry: &NewRoleEntry, force: bool) {
    let edit = match upsert_role(text, entry, force) {
        Ok(edit) => edit,
        Err(error) => return check_refusal(&error, entry, "upsert of a new role"),
    };
    assert!(entry_is_valid(entry), "upsert accepted an invalid username or group");
    assert_eq!(edit.action, EditAction::Added);
    let new_text = &edit.new_text;
    let after = parse_map_roles(new_text).unwrap_or_else(|e| panic!("the text after upsert does not parse: {e}\n{new_text}"));

    // (b) the entries before, unchanged, plus exactly the new one, last.
    assert_eq!(after.len(), before.len() + 1, "upsert of a new role did not add exactly one entry:\n{new_text}");
    for (old, new) in before.iter().zip(&after) {
        assert_untouched(text, old, new_text, new, "upsert of a new role");
    }
    let added = after.last().expect("one entry more");
    // (c) exactly the asked username and groups, nothing skipped or added.
    assert_eq!(Meaning::of(added), Meaning::wanted(entry), "the added entry does not read as asked:\n{new_text}");
    assert_eq!(&edit.entry, added, "RoleEdit.entry is not the entry in new_text");
    assert_eq!(effective_role_entry(&after, &entry.rolearn), Some(added), "the authenticator would not use the new entry");

    // Only the new entry's bytes were added: the old text is the new one minus one insertion.
    // The one exception is a placeholder for "no entries" (`null`, `~`, `""`, `|`, ``` `` ```
    // ...) standing where the list would be: it may be replaced by a list.
    let prefix = common_prefix(text, new_text);
    let suffix = common_suffix(&text[prefix..], &new_text[prefix..]);
    let replaced = &text[prefix..text.len() - suffix];
    let placeholder = !replaced.trim().is_empty();
    if placeholder {
        assert!(
            before.is_empty() && parse_map_roles(replaced).is_ok_and(|e| e.is_empty()),
            "upsert replaced {replaced:?} of the original text"
        );
    }

    // The same entry for an independent YAML parser, when it reads the original text the
    // same way (same number of items).
    if let Some(old_items) = libyaml_items(text)
        && old_items.len() == before.len()
    {
        let items = libyaml_items(new_text)
            .unwrap_or_else(|| panic!("libyaml read the text before upsert, not after:\n{new_text}"));
        assert_eq!(items.len(), old_items.len() + 1, "libyaml sees a different number of entries:\n{new_text}");
        assert_eq!(&items[..old_items.len()], &old_items[..], "libyaml reads the old entries differently after upsert");
        if let Err(reason) = libyaml_item_is(items.last().expect("one more"), entry) {
            panic!("the added entry, read by libyaml: {reason}\n{new_text}");
        }
    }

    // (a) removing the new role gives back the original bytes.
    let removal = remove_role(new_text, &entry.rolearn)
        .unwrap_or_else(|e| panic!("cannot remove the entry upsert just added: {e}\n{new_text}"));
    assert_eq!(removal.removed.len(), 1);
    assert_eq!(&removal.removed[0], added);
    if placeholder {
        // The placeholder became `[{...}]`; removing the entry leaves `[]`: still no entries.
        assert_eq!(parse_map_roles(&removal.new_text).map(|e| e.len()), Ok(0), "{:?}", removal.new_text);
    } else {
        assert_eq!(removal.new_text, text, "upsert then remove of a new role does not give back the original bytes");
    }
}

fn check_upsert_existing(text: &str, before: &[MapRoleEntry], entry: &NewRoleEntry, force: bool) {
    let role = &entry.rolearn;
    let matching: Vec<usize> = (0..before.len()).filter(|&i| before[i].refers_to(role)).collect();
    let result = upsert_role(text, entry, force);
    if !entry_is_valid(entry) {
        let error = result.expect_err("upsert accepted an invalid username or group");
        return check_refusal(&error, entry, "upsert of an existing role");
    }
    if let [only] = matching[..]
        && before[only].authenticator_matches(role)
        && entry.same_mapping_as(&before[only])
    {
        let edit = result.unwrap_or_else(|e| panic!("upsert of an identical entry: {e}"));
        assert_eq!(edit.action, EditAction::Unchanged);
        assert_eq!(edit.new_text, text);
        assert_eq!(edit.entry, before[only]);
        return;
    }
    if !force {
        match result {
            Err(EditError::Conflict { existing, .. }) if matching.len() == 1 => assert_eq!(*existing, before[matching[0]]),
            Err(EditError::Duplicates { entries, .. }) if matching.len() > 1 => {
                assert_eq!(entries, matching.iter().map(|&i| before[i].clone()).collect::<Vec<_>>())
            }
            Err(error) => check_refusal(&error, entry, "upsert of an existing role without force"),
            Ok(edit) => panic!("upsert without force changed an existing entry: {:?}\n{}", edit.action, edit.new_text),
        }
        return;
    }
    let edit = match result {
        Ok(edit) => edit,
        Err(error) => return check_refusal(&error, entry, "upsert of an existing role with force"),
    };
    // Keep the entry the authenticator uses (the last exact match), else the last one.
    let keep = matching
        .iter()
        .rev()
        .find(|&&i| before[i].authenticator_matches(role))
        .or(matching.last())
        .copied()
        .expect("matching is not empty");
    let EditAction::Updated { previous, removed_duplicates } = &edit.action else {
        panic!("upsert with force: {:?}", edit.action)
    };
    assert_eq!(**previous, before[keep]);
    let dropped: Vec<MapRoleEntry> = matching.iter().filter(|&&i| i != keep).map(|&i| before[i].clone()).collect();
    assert_eq!(removed_duplicates, &dropped);
    let new_text = &edit.new_text;
    let after = parse_map_roles(new_text).unwrap_or_else(|e| panic!("the text after a forced upsert does not parse: {e}\n{new_text}"));
    let kept: Vec<usize> = (0..before.len()).filter(|i| !matching.contains(i) || *i == keep).collect();
    assert_eq!(after.len(), kept.len(), "forced upsert left the wrong number of entries:\n{new_text}");
    for (&i, new) in kept.iter().zip(&after) {
        if i == keep {
            assert_eq!(Meaning::of(new), Meaning::wanted(entry), "the replaced entry does not read as asked:\n{new_text}");
            assert_eq!(&edit.entry, new);
        } else {
            assert_untouched(text, &before[i], new_text, new, "forced upsert");
        }
    }
}

fn check_remove(text: &str, before: &[MapRoleEntry], role: &CanonicalRoleArn) {
    let removal = match remove_role(text, role) {
        Ok(removal) => removal,
        // `remove_role` reports a refusal as a ParseError: an `UnsupportedLayout` ends with
        // "edit this entry by hand", the self-check says "please report this". The text
        // parsed, so nothing else may refuse it.
        Err(error) if error.message.contains("please report") => {
            return self_check_refused(&format!("remove of {role}"), &error.to_string());
        }
        Err(error) => {
            assert!(error.message.ends_with("; edit this entry by hand"), "remove of {role}: {error}");
            return;
        }
    };
    let (gone, stay): (Vec<&MapRoleEntry>, Vec<&MapRoleEntry>) = before.iter().partition(|e| e.refers_to(role));
    assert_eq!(removal.removed.iter().collect::<Vec<_>>(), gone, "remove of {role} removed other entries");
    let new_text = &removal.new_text;
    let after = parse_map_roles(new_text).unwrap_or_else(|e| panic!("the text after removing {role} does not parse: {e}\n{new_text}"));
    assert_eq!(after.len(), stay.len(), "removing {role} left the wrong entries:\n{new_text}");
    for (old, new) in stay.iter().zip(&after) {
        assert_untouched(text, old, new_text, new, "remove");
    }
    assert!(!after.iter().any(|e| e.refers_to(role)));
    if gone.is_empty() {
        assert_eq!(new_text, text, "removing an absent role changed the text");
    }
    let again = remove_role(new_text, role).unwrap_or_else(|e| panic!("removing {role} twice: {e}\n{new_text}"));
    assert_eq!(&again.new_text, new_text, "removing {role} is not idempotent");
}

fn common_prefix(a: &str, b: &str) -> usize {
    let mut n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    while !a.is_char_boundary(n) || !b.is_char_boundary(n) {
        n -= 1;
    }
    n
}

fn common_suffix(a: &str, b: &str) -> usize {
    let mut n = a.bytes().rev().zip(b.bytes().rev()).take_while(|(x, y)| x == y).count();
    while !a.is_char_boundary(a.len() - n) || !b.is_char_boundary(b.len() - n) {
        n -= 1;
    }
    n
}
