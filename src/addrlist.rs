//! Address lists kept in files: `ignoreip = ["file:PATH"]` and `[blocklist] files`. One
//! address or network per line; `#` and `;` start a comment (to the end of the line), so
//! published drop lists read as they are (Spamhaus DROP: `1.10.16.0/20 ; SBL256894`, FireHOL's
//! `.netset` files: `# …` headers, one network a line). A line that is not an address or a
//! network is reported with its file and line number and skipped: a bad line never costs the
//! rest of the list. Imports nothing of banjo's but `addr`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::addr::Target;

/// A list file as read: its entries in file order and the lines that were skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddrList {
    pub path: PathBuf,
    pub entries: Vec<Target>,
    pub bad: Vec<BadLine>,
}

/// A line of a list file that is not an address or a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub path: PathBuf,
    /// Counted from 1.
    pub line: usize,
    /// The line, without its comment, cut to 80 characters.
    pub text: String,
    pub problem: String,
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: `{}` skipped: {}",
            self.path.display(),
            self.line,
            self.text,
            self.problem
        )
    }
}

/// Why a list file could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the address list {}: {source}", path.display())]
pub struct ReadError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl AddrList {
    /// Reads and parses `path`. Bytes that are not UTF-8 only spoil their own line.
    pub fn read(path: &Path) -> Result<AddrList, ReadError> {
        let bytes = std::fs::read(path).map_err(|source| ReadError {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(AddrList::parse(path, &String::from_utf8_lossy(&bytes)))
    }

    /// Parses the text of a list file; `path` is for the messages.
    pub fn parse(path: &Path, text: &str) -> AddrList {
        let mut list = AddrList {
            path: path.to_path_buf(),
            ..AddrList::default()
        };
        for (i, line) in text.lines().enumerate() {
            let entry = line.split(['#', ';']).next().unwrap_or_default().trim();
            if entry.is_empty() {
                continue;
            }
            match parse_entry(entry) {
                Ok(target) => list.entries.push(target),
                Err(problem) => list.bad.push(BadLine {
                    path: path.to_path_buf(),
                    line: i + 1,
                    text: entry.chars().take(80).collect(),
                    problem,
                }),
            }
        }
        list
    }
}

fn parse_entry(entry: &str) -> Result<Target, String> {
    if entry.split_whitespace().nth(1).is_some() {
        return Err("one address or network per line (a comment starts with # or ;)".into());
    }
    if entry.contains('-') {
        return Err("ranges (a-b) are not supported: write networks (CIDR), e.g. 192.0.2.0/24".into());
    }
    entry.parse::<Target>().map_err(|e| e.problem.to_string())
}

/// The targets without those inside another one, sorted (IPv4 first, then by address): what
/// an nftables interval set can hold, since it refuses elements that overlap. Networks either
/// nest or are apart, so dropping the nested ones leaves no overlap.
pub fn outermost(mut targets: Vec<Target>) -> Vec<Target> {
    let key = |t: &Target| (t.is_ipv6(), t.range().0, t.prefix());
    targets.sort_unstable_by_key(key);
    let mut out: Vec<Target> = Vec::with_capacity(targets.len());
    for t in targets {
        match out.last() {
            Some(last) if last.covers(&t) => {}
            _ => out.push(t),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Target {
        text.parse().unwrap()
    }

    /// The head of Spamhaus' DROP list as published (drop.txt), and of its IPv6 list.
    const SPAMHAUS: &str = "\
; Spamhaus DROP List 2025/03/01 - (c) 2025 The Spamhaus Project SLU
; https://www.spamhaus.org/drop/drop.txt
; Last-Modified: Sat, 01 Mar 2025 12:00:00 GMT
; Expires: Sun, 02 Mar 2025 00:00:00 GMT
1.10.16.0/20 ; SBL256894
1.19.0.0/16 ; SBL434604
2001:67c:13e4::/48 ; SBL633231
";

    #[test]
    fn published_drop_lists_read_as_they_are() {
        let list = AddrList::parse(Path::new("/var/lib/banjo/drop.txt"), SPAMHAUS);
        assert_eq!(
            list.entries,
            [t("1.10.16.0/20"), t("1.19.0.0/16"), t("2001:67c:13e4::/48")]
        );
        assert!(list.bad.is_empty(), "{:?}", list.bad);
    }

    #[test]
    fn hash_comments_blank_lines_and_addresses() {
        let text = "# FireHOL-style header\n\n  192.0.2.7  \n198.51.100.0/24\t# a comment\n2001:db8::1\r\n";
        let list = AddrList::parse(Path::new("x"), text);
        assert_eq!(
            list.entries,
            [t("192.0.2.7"), t("198.51.100.0/24"), t("2001:db8::1")]
        );
        assert!(list.bad.is_empty());
    }

    #[test]
    fn a_bad_line_is_reported_with_file_and_line_and_the_rest_is_kept() {
        let text =
            "192.0.2.1\nnot-an-address\n10.0.0.0/33\n192.0.2.1 192.0.2.2\n10.0.0.1-10.0.0.9\n192.0.2.3\n";
        let list = AddrList::parse(Path::new("/etc/banjo/partners.txt"), text);
        assert_eq!(list.entries, [t("192.0.2.1"), t("192.0.2.3")]);
        let lines: Vec<usize> = list.bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, [2, 3, 4, 5]);
        let first = list.bad[0].to_string();
        assert!(
            first.starts_with("/etc/banjo/partners.txt:2: `not-an-address` skipped: "),
            "{first}"
        );
        assert!(list.bad[1].problem.contains("longer"), "{:?}", list.bad[1]);
        assert!(list.bad[2].problem.contains("one address"), "{:?}", list.bad[2]);
        assert!(list.bad[3].problem.contains("CIDR"), "{:?}", list.bad[3]);
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let e = AddrList::read(Path::new("/nonexistent/banjo-list.txt")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/banjo-list.txt"), "{e}");
    }

    #[test]
    fn outermost_drops_nested_and_repeated_entries() {
        let got = outermost(vec![
            t("10.1.0.0/16"),
            t("2001:db8::/32"),
            t("10.0.0.0/8"),
            t("192.0.2.7"),
            t("10.0.0.0/8"),
            t("2001:db8:1::/48"),
            t("192.0.2.0/25"),
            t("192.0.2.128/25"),
        ]);
        assert_eq!(
            got,
            [
                t("10.0.0.0/8"),
                t("192.0.2.0/25"),
                t("192.0.2.128/25"),
                t("2001:db8::/32")
            ]
        );
    }
}
