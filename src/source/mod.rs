//! Sources: where log entries come from. Each produces `Entry` values; none knows about jails.
pub mod journal;
pub mod lines;
pub mod multilog;

/// One log entry as the filters see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// When it was logged: the journal's own time, or the line's timestamp; None if unknown.
    pub time: Option<jiff::Timestamp>,
    /// The text the filters match, timestamp already removed, one record (see [`one_record`]).
    pub text: Vec<u8>,
}

/// Makes `text` one record for the filters: every CR, LF and NUL becomes a blank.
///
/// A journal MESSAGE is one entry however many of those bytes the service wrote into it, and
/// services write what clients send (a password, a user name) into their messages: a LF
/// would end `.` and `$` in the middle of the message, so a failure the service logged with
/// the client's address at the end would go uncounted. As blanks they are harmless: a client
/// could have sent a blank in their place, and the regexes already take the address the
/// service wrote last, not one the client wrote before it.
pub fn one_record(text: &mut [u8]) {
    let mut at = 0;
    while let Some(i) = memchr::memchr3(b'\n', b'\r', 0, &text[at..]) {
        text[at + i] = b' ';
        at += i + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cr_lf_and_nul_become_blanks_and_nothing_else_changes() {
        let mut text = b"pass: 'a\nb\rc\0d\r\n' user@x:192.0.2.1\t\xff".to_vec();
        one_record(&mut text);
        assert_eq!(text, b"pass: 'a b c d  ' user@x:192.0.2.1\t\xff");
        let mut plain = b"nothing to do".to_vec();
        one_record(&mut plain);
        assert_eq!(plain, b"nothing to do");
    }
}
