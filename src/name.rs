//! Names that travel everywhere (bottom of the module tree: imports nothing of banjo's): a
//! jail's name goes from the config through the jails, the ledger, the firewall's sets, the
//! state files, the audit records and the control socket.
//!
//! [`JailName`] is cheap to clone (a shared `str`), compares, hashes and orders as its text,
//! borrows as `&str` (so a map keyed by it is searched with a plain `&str`), and is written
//! as a plain string in the state files and on the control socket.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The name of a jail, as the config's `[jails.NAME]` has it (the config checks its form).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JailName(Arc<str>);

impl JailName {
    pub fn new(name: &str) -> JailName {
        JailName(Arc::from(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for JailName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for JailName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for JailName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JailName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for JailName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for JailName {
    fn from(name: &str) -> JailName {
        JailName::new(name)
    }
}

impl From<String> for JailName {
    fn from(name: String) -> JailName {
        JailName(Arc::from(name))
    }
}

impl From<&String> for JailName {
    fn from(name: &String) -> JailName {
        JailName::new(name)
    }
}

impl From<JailName> for String {
    fn from(name: JailName) -> String {
        name.0.to_string()
    }
}

impl PartialEq<str> for JailName {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for JailName {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for JailName {
    fn eq(&self, other: &String) -> bool {
        &*self.0 == other.as_str()
    }
}

impl PartialEq<JailName> for str {
    fn eq(&self, other: &JailName) -> bool {
        self == &*other.0
    }
}

impl PartialEq<JailName> for &str {
    fn eq(&self, other: &JailName) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<JailName> for String {
    fn eq(&self, other: &JailName) -> bool {
        self.as_str() == &*other.0
    }
}

impl Serialize for JailName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for JailName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<JailName, D::Error> {
        String::deserialize(d).map(JailName::from)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_map_keyed_by_jail_name_is_searched_with_a_str() {
        let mut m = BTreeMap::new();
        m.insert(JailName::from("sshd"), 1);
        assert_eq!(m.get("sshd"), Some(&1));
        assert_eq!(JailName::from("sshd"), "sshd");
        assert_eq!("sshd", JailName::from("sshd"));
    }

    #[test]
    fn written_and_read_as_a_plain_string() {
        let name = JailName::from("dovecot-imap");
        let json = serde_json::to_string(&name).unwrap();
        assert_eq!(json, "\"dovecot-imap\"");
        assert_eq!(serde_json::from_str::<JailName>(&json).unwrap(), name);
        assert_eq!(serde_json::from_str::<JailName>("\"a\\u0062\"").unwrap(), "ab");
        assert_eq!(format!("{name} {name:?}"), "dovecot-imap \"dovecot-imap\"");
    }
}
