//! Built-in filters: fail2ban filter.d files under filters/, embedded in the binary.
//!
//! They are read by the same fail2ban reader as an admin's own files, so what banjo ships is
//! also a valid example of the format (and is installed to /usr/share/banjo/filters).
use super::{FilterDef, FilterError, f2bconf};

/// (file name, contents) of every file under filters/, shared includes like common.conf too;
/// the list is written by build.rs, so a new file there is a new built-in filter.
pub static FILES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_filters.rs"));

/// Names a jail can use in `filter = "…"`.
pub fn names() -> Vec<&'static str> {
    FILES
        .iter()
        .filter_map(|(f, _)| f.strip_suffix(".conf"))
        .filter(|n| *n != "common")
        .collect()
}

/// The built-in filter `name` with fail2ban parameters applied, or None if there is none.
pub fn load(name: &str, params: &[(String, String)]) -> Result<Option<FilterDef>, FilterError> {
    if !names().contains(&name) {
        return Ok(None);
    }
    let path = std::path::PathBuf::from(format!("{name}.conf"));
    let mut def = f2bconf::load(&f2bconf::Embedded(FILES), &path, params)
        .map_err(|e| FilterError::Other(e.to_string()))?;
    def.name = name.to_string();
    def.origin = format!("built-in filter {name}");
    Ok(Some(def))
}
