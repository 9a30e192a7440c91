//! The answer for one (binary, target) pair: runs or not, and why, most useful reason first.

use serde::Serialize;

/// What kind of problem a reason is; the order is the order reasons are shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    /// Not a file a loader maps: a relocatable object, a core file, a damaged ELF.
    NotLoadable,
    /// Another machine, class or byte order than the image's.
    ArchMismatch,
    /// A glibc binary on a musl image, or the other way round.
    LibcMismatch,
    /// `PT_INTERP` names a loader the image does not have.
    InterpreterMissing,
    /// A shared library (no `PT_INTERP`) on an image without a loader for its machine.
    NoLoader,
    /// A `DT_NEEDED` soname found nowhere the loader looks.
    LibraryNotFound,
    /// A library found but refused by the loader (not ELF, an executable, …).
    LibraryUnloadable,
    /// A `DT_VERNEED` version the resolved library does not define.
    VersionNotFound,
    /// A non-weak undefined symbol no loaded object defines.
    UndefinedSymbol,
    /// The ABI note asks for a newer kernel than the image ships.
    KernelTooOld,
}

/// One reason a binary will not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub code: Code,
    pub message: String,
    /// The soname or path the reason is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    /// The object whose need failed (the binary itself or one of its libraries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needed_by: Option<String>,
    /// Missing symbol versions (`GLIBC_2.34`, …), newest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// Symbols that use the missing versions, or that are undefined.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub symbols: Vec<String>,
    /// Directories searched, in the loader's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub searched: Vec<String>,
    /// Files found on the way but skipped (wrong class or machine), with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// A hint at the cause (a stale ld.so.cache, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Reason {
    pub fn new(code: Code, message: impl Into<String>) -> Reason {
        Reason {
            code,
            message: message.into(),
            library: None,
            needed_by: None,
            versions: Vec::new(),
            symbols: Vec::new(),
            searched: Vec::new(),
            skipped: Vec::new(),
            hint: None,
        }
    }

    pub fn library(mut self, l: impl Into<String>) -> Reason {
        self.library = Some(l.into());
        self
    }

    pub fn needed_by(mut self, n: impl Into<String>) -> Reason {
        self.needed_by = Some(n.into());
        self
    }
}

/// How a loaded object was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum How {
    /// The binary checked.
    Main,
    /// The program interpreter (the loader itself).
    Interpreter,
    /// A `DT_NEEDED` entry with a slash: the path itself.
    Path,
    Rpath,
    Runpath,
    /// `/etc/ld.so.cache`.
    Cache,
    /// The loader's built-in directories (or musl's path file).
    Default,
}

impl How {
    /// The name JSON gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            How::Main => "main",
            How::Interpreter => "interpreter",
            How::Path => "path",
            How::Rpath => "rpath",
            How::Runpath => "runpath",
            How::Cache => "cache",
            How::Default => "default",
        }
    }
}

/// One object in the loaded set, in load order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Loaded {
    /// The name asked for (the soname in `DT_NEEDED`, or the binary's path).
    pub name: String,
    /// The file, as the loader opened it.
    pub path: String,
    pub how: How,
    /// Whether the file is the application's own (a bundle) rather than the image's.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub from_app: bool,
}

/// The answer for one binary on one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub runs: bool,
    pub reasons: Vec<Reason>,
    /// Facts worth knowing that do not stop the binary (static, loader kind, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The loader that would run it, if it is dynamic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loader: Option<String>,
    /// What the loader would load, in order (the `ldd` view).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub loaded: Vec<Loaded>,
}

impl Verdict {
    pub(crate) fn finish(mut self) -> Verdict {
        self.reasons.sort_by_key(|r| r.code);
        self.runs = self.reasons.is_empty();
        self
    }
}

#[cfg(test)]
mod how_tests {
    use super::How;

    #[test]
    fn how_is_named_as_json_names_it() {
        for h in [
            How::Main,
            How::Interpreter,
            How::Path,
            How::Rpath,
            How::Runpath,
            How::Cache,
            How::Default,
        ] {
            assert_eq!(
                serde_json::to_value(h).unwrap(),
                serde_json::Value::from(h.as_str())
            );
        }
    }
}
