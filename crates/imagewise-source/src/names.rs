//! File names that are not UTF-8, kept losslessly in a `String`.
//!
//! Linux names are bytes; tar and ext4 carry whatever bytes a system wrote (Latin-1, KOI8-R,
//! EUC-JP names from old archives). Every byte that is not part of valid UTF-8 is written as
//! `\xHH` (two lowercase hex digits, always 80–ff, since bytes below 0x80 are valid UTF-8),
//! and a backslash that would otherwise read as the start of such an escape, or as an escaped
//! backslash, is doubled. Every valid UTF-8 name is therefore its own text unless it holds
//! `\\` or `\x` followed by two lowercase hex digits of 80–ff, which no real name does
//! (systemd's `\x2d` stays as it is). [`to_bytes`] inverts [`from_bytes`] exactly, so two byte
//! names never merge into one entry, and `cat`, `restore` and `snapshot create` write the
//! original bytes. docs/ls-json.md documents the escaping.

/// Whether `rest` (the text after a backslash) would be read as an escape.
fn looks_escaped(rest: &[u8]) -> bool {
    match rest {
        [b'\\', ..] => true,
        [b'x', h, l, ..] => hex(*h).is_some_and(|h| h >= 8) && hex(*l).is_some(),
        _ => false,
    }
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// A name's bytes as text, escaping what is not UTF-8.
pub fn from_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        let valid = chunk.valid();
        if !valid.contains('\\') {
            out.push_str(valid);
        } else {
            let vb = valid.as_bytes();
            for (i, c) in valid.char_indices() {
                if c == '\\' {
                    let rest = &vb[i + 1..];
                    // An escape may also start in the invalid bytes right after the chunk.
                    let at_end = rest.is_empty() && !chunk.invalid().is_empty();
                    if looks_escaped(rest) || at_end {
                        out.push('\\');
                    }
                }
                out.push(c);
            }
        }
        for &byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

/// The bytes a name stands for (the inverse of [`from_bytes`]).
pub fn to_bytes(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    if !b.contains(&b'\\') {
        return b.to_vec();
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            match &b[i + 1..] {
                [b'\\', ..] => {
                    out.push(b'\\');
                    i += 2;
                    continue;
                }
                [b'x', h, l, ..] => {
                    if let (Some(h), Some(l)) = (hex(*h), hex(*l)) {
                        if h >= 8 {
                            out.push(h << 4 | l);
                            i += 4;
                            continue;
                        }
                    }
                }
                _ => {}
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_their_own_text() {
        for n in ["etc", "dev-disk-by\\x2duuid.swap", "a\\b", "tail\\", "日本"] {
            assert_eq!(from_bytes(n.as_bytes()), n);
            assert_eq!(to_bytes(n), n.as_bytes());
        }
    }

    #[test]
    fn invalid_bytes_are_escaped_and_come_back() {
        assert_eq!(from_bytes(b"caf\xe9"), "caf\\xe9");
        assert_eq!(to_bytes("caf\\xe9"), b"caf\xe9");
        // A valid name that spells an escape does not merge with the bytes it spells.
        assert_eq!(from_bytes(b"caf\\xe9"), "caf\\\\xe9");
        assert_ne!(from_bytes(b"caf\\xe9"), from_bytes(b"caf\xe9"));
        assert_eq!(from_bytes(b"a\\\\b"), "a\\\\\\b");
    }

    #[test]
    fn every_byte_string_round_trips() {
        let pieces: [&[u8]; 9] = [
            b"\\", b"x", b"e9", b"\xe9", b"\xff", b"a", b"\\\\", b"\xc3", b"\xa9",
        ];
        // All sequences of up to four pieces.
        let mut names: Vec<Vec<u8>> = vec![vec![]];
        for _ in 0..4 {
            let mut next = Vec::new();
            for n in &names {
                for p in pieces {
                    let mut m = n.clone();
                    m.extend_from_slice(p);
                    next.push(m);
                }
            }
            names.extend(next);
        }
        let mut seen = std::collections::HashMap::new();
        for n in &names {
            let s = from_bytes(n);
            assert_eq!(&to_bytes(&s), n, "{s:?}");
            if let Some(other) = seen.insert(s.clone(), n.clone()) {
                assert_eq!(&other, n, "{s:?} stands for two names");
            }
        }
    }
}
