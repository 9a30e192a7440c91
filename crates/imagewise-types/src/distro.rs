//! The distribution an image says it is, as os-release names it.

use serde::{Deserialize, Serialize};

/// A distribution release, from os-release (`ID`, `ID_LIKE`, `VERSION_ID`): what purls qualify
/// packages with and what vulnerability data is chosen by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Distro {
    /// os-release `ID` (`debian`, `alpine`, `rocky`, …); empty when the image does not say.
    pub id: String,
    /// os-release `ID_LIKE`.
    pub id_like: Vec<String>,
    /// os-release `VERSION_ID` (`12`, `3.20.3`, `9.4`).
    pub version_id: Option<String>,
}

impl Distro {
    /// `debian-12`, `alpine-3.20.3`: the purl `distro` qualifier; `None` without an id or a
    /// release.
    pub fn qualifier(&self) -> Option<String> {
        let v = self.version_id.as_deref()?;
        (!self.id.is_empty()).then(|| format!("{}-{v}", self.id))
    }
}
