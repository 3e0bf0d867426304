//! RoleBindings whose namespace is a pattern: how an EKS access policy scoped to `dev-*` is
//! evaluated.
//!
//! Kubernetes has no such thing: a namespace name is a DNS-1123 label, so the API server never
//! stores a RoleBinding in a namespace containing `*` or `?`. The EKS User Guide ("Associate
//! access policies with access entries") lets an access-policy scope name namespaces with
//! wildcard characters (its example: `dev-*` for every namespace that starts with `dev-`), and
//! [`crate::eks::access_policies`] turns such a scope into one RoleBinding in the namespace
//! literally named by the pattern. The evaluator then applies that binding in every namespace
//! the pattern matches.
//!
//! The docs show `*` only and do not define the syntax. We read `*` as any run of characters
//! and `?` as any one character, anywhere in the name: if EKS is narrower, we report rights it
//! does not give, never the reverse.

/// Whether `namespace` (as stored on a RoleBinding) is a pattern rather than a name.
pub fn is_pattern(namespace: &str) -> bool {
    namespace.contains(['*', '?'])
}

/// Whether `pattern` matches `namespace`. A pattern matches its own text, so asking "in
/// namespace `dev-*`" finds what the binding gives in every namespace it stands for.
pub fn matches(pattern: &str, namespace: &str) -> bool {
    // Bytes: namespace names are ASCII (DNS-1123 labels), and no allocation per question.
    let (p, n) = (pattern.as_bytes(), namespace.as_bytes());
    // Iterative glob with one backtrack point: linear in practice, never exponential.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(c) if *c == b'?' || *c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prefix_suffix_and_single_character_patterns() {
        assert!(matches("dev-*", "dev-x"));
        assert!(matches("dev-*", "dev-"));
        assert!(!matches("dev-*", "dev"));
        assert!(!matches("dev-*", "prod-dev-x"));
        assert!(matches("*-dev", "team-dev"));
        assert!(!matches("*-dev", "team-dev2"));
        assert!(matches("team-?", "team-a"));
        assert!(!matches("team-?", "team-ab"));
        assert!(matches("*", "kube-system"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxbyy"));
        assert!(matches("dev-*", "dev-*"));
        assert!(is_pattern("dev-*") && is_pattern("team-?") && !is_pattern("dev"));
    }

    proptest! {
        #[test]
        fn a_name_without_wildcards_matches_only_itself(a in "[a-z0-9-]{0,12}", b in "[a-z0-9-]{0,12}") {
            prop_assert_eq!(matches(&a, &b), a == b);
        }

        #[test]
        fn a_prefix_pattern_matches_exactly_its_extensions(p in "[a-z-]{0,6}", n in "[a-z-]{0,10}") {
            prop_assert_eq!(matches(&format!("{p}*"), &n), n.starts_with(&p));
        }
    }
}
