//! Image paths: lexical normalisation of untrusted names and resolution of symlinks inside the
//! image, clamped at the image root exactly as container runtimes scope a rootfs (a `..` above
//! the root stays at the root; an absolute link target starts at the image root). Nothing here
//! ever touches the host filesystem.

use std::collections::VecDeque;

use crate::entry::EntryKind;
use crate::error::{Error, Result};

/// Linux gives up after 40 links in one lookup; so do we.
pub(crate) const MAX_LINKS: usize = 40;
/// Longer names than this are refused (Linux PATH_MAX is 4096).
pub(crate) const MAX_PATH: usize = 16 * 1024;

/// A normalised absolute path and whether normalisation had to clamp a `..` at the root or drop
/// a leading `/` (both worth a warning for archive member names).
pub(crate) struct Normalized {
    pub path: String,
    pub clamped: bool,
    pub absolute: bool,
}

/// Normalise an untrusted name into `/a/b` form: `.` and empty components dropped, `..` applied
/// lexically and clamped at the root.
pub(crate) fn normalize(raw: &str) -> Normalized {
    // Fast path for the common case, a name that is already clean (`./usr/bin/x`, `usr/bin/`):
    // one allocation, no component list.
    let body = raw.strip_prefix("./").unwrap_or(raw).trim_end_matches('/');
    if !body.is_empty()
        && !raw.starts_with('/')
        && body
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
    {
        let mut path = String::with_capacity(body.len() + 1);
        path.push('/');
        path.push_str(body);
        return Normalized {
            path,
            clamped: false,
            absolute: false,
        };
    }
    let mut parts: Vec<&str> = Vec::new();
    let mut clamped = false;
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    clamped = true;
                }
            }
            c => parts.push(c),
        }
    }
    let mut path = String::with_capacity(raw.len() + 1);
    for p in &parts {
        path.push('/');
        path.push_str(p);
    }
    if path.is_empty() {
        path.push('/');
    }
    Normalized {
        path,
        clamped,
        absolute: raw.starts_with('/'),
    }
}

/// Parent and final name of a normalised path; the root has no parent.
pub(crate) fn split(path: &str) -> Option<(&str, &str)> {
    if path == "/" {
        return None;
    }
    let i = path.rfind('/')?;
    Some((if i == 0 { "/" } else { &path[..i] }, &path[i + 1..]))
}

pub(crate) fn join(dir: &str, name: &str) -> String {
    let mut s = String::with_capacity(dir.len() + name.len() + 1);
    s.push_str(dir);
    if !dir.ends_with('/') {
        s.push('/');
    }
    s.push_str(name);
    s
}

/// Resolve `path` inside the image: every symlink met on the way is followed within the image
/// (and the final one too when `follow_last`). `lookup` answers the kind and link target of a
/// normalised path, or `None` if nothing is there. The result is a normalised path with no
/// symlink in its directories; it may name nothing.
pub(crate) fn resolve<'a>(
    path: &str,
    follow_last: bool,
    lookup: impl Fn(&str) -> Option<(EntryKind, Option<&'a str>)>,
) -> Result<String> {
    let mut queue: VecDeque<String> = path
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let mut current = String::from("/");
    let mut links = 0;
    while let Some(c) = queue.pop_front() {
        match c.as_str() {
            "." => continue,
            ".." => {
                current = split(&current).map_or("/", |(p, _)| p).to_string();
                continue;
            }
            _ => {}
        }
        let candidate = join(&current, &c);
        let is_last = queue.is_empty();
        match lookup(&candidate) {
            Some((EntryKind::Symlink, Some(target))) if !is_last || follow_last => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(Error::unsafe_input(
                        format!("resolving {path}"),
                        "too many levels of symbolic links (a symlink loop?)",
                    ));
                }
                if target.starts_with('/') {
                    current = String::from("/");
                }
                for t in target.rsplit('/').filter(|t| !t.is_empty()) {
                    queue.push_front(t.to_string());
                }
            }
            _ => current = candidate,
        }
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn normalize_clamps_and_cleans() {
        for (raw, want, clamped) in [
            ("./etc/passwd", "/etc/passwd", false),
            ("/etc//passwd/", "/etc/passwd", false),
            ("../../etc/passwd", "/etc/passwd", true),
            ("a/../../b", "/b", true),
            ("a/./b/../c", "/a/c", false),
            ("", "/", false),
            ("./", "/", false),
            ("..", "/", true),
        ] {
            let n = normalize(raw);
            assert_eq!((n.path.as_str(), n.clamped), (want, clamped), "{raw:?}");
        }
    }

    #[test]
    fn split_and_join() {
        assert_eq!(split("/a/b"), Some(("/a", "b")));
        assert_eq!(split("/a"), Some(("/", "a")));
        assert_eq!(split("/"), None);
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }

    fn tree(links: &[(&'static str, &'static str)]) -> HashMap<&'static str, &'static str> {
        links.iter().copied().collect()
    }

    fn run(t: &HashMap<&'static str, &'static str>, p: &str, follow: bool) -> Result<String> {
        resolve(p, follow, |q| {
            t.get(q).map(|l| (EntryKind::Symlink, Some(*l)))
        })
    }

    #[test]
    fn resolve_stays_inside_the_image() {
        let t = tree(&[
            ("/bin", "usr/bin"),
            ("/escape", "../../../../etc"),
            ("/abs", "/etc"),
            ("/loop1", "loop2"),
            ("/loop2", "loop1"),
            ("/self", "self/x"),
        ]);
        assert_eq!(run(&t, "/bin/sh", true).unwrap(), "/usr/bin/sh");
        assert_eq!(run(&t, "/escape/passwd", true).unwrap(), "/etc/passwd");
        assert_eq!(run(&t, "/abs/passwd", true).unwrap(), "/etc/passwd");
        assert_eq!(run(&t, "/abs", false).unwrap(), "/abs");
        assert!(run(&t, "/loop1", true).is_err());
        assert!(run(&t, "/self", true).is_err());
        assert_eq!(run(&t, "/loop1", false).unwrap(), "/loop1");
    }
}
