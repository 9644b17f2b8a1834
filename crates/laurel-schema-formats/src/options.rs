//! What callers choose: the bounds on every input, and the choices for
//! formats that do not carry everything a schema (or Laurel) needs.

/// Largest input file accepted, in bytes (the admin API's schema body limit).
pub const MAX_INPUT_BYTES: usize = 8 * 1024 * 1024;
/// Deepest nesting of objects accepted in KeyValues text (a schema needs 7);
/// JSON stops at serde_json's limit of 128 and TOML at its parser's limit.
pub const MAX_NESTING: usize = 32;
/// Most problems reported for one import; the rest are counted in a last entry.
pub const MAX_PROBLEMS: usize = 1_000;
/// Average-rate window given to `avgrate` stats read from a format that has no
/// window (`stats.txt`, `stats.json`, KeyValues without `windowsize`) unless
/// [`ImportOptions::avgrate_window_seconds`] says otherwise.
pub const DEFAULT_AVGRATE_WINDOW_SECONDS: u32 = 3_600;

/// Choices for formats that do not carry everything Laurel needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// The language of texts that are not marked with one: a whole
    /// `GetSchemaForGame` response (fetched with one `l`), an emulator
    /// `displayName` given as a plain string, a KeyValues `name` given as a
    /// plain string. Steam's language names (`english`, `french`, `schinese`, …).
    pub language: String,
    /// Window given to `avgrate` stats when the file has none.
    pub avgrate_window_seconds: u32,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            language: "english".to_owned(),
            avgrate_window_seconds: DEFAULT_AVGRATE_WINDOW_SECONDS,
        }
    }
}

/// Choices for formats that need something the schema does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// The app id: the root key of KeyValues.
    pub app_id: u32,
    /// The schema version: `gameVersion` in Steam's JSON, `version` in KeyValues.
    pub version: u64,
    /// The one language written to formats that carry one (Steam's JSON);
    /// texts missing in it fall back to English, as Steam does.
    pub language: String,
}

impl ExportOptions {
    pub fn new(app_id: u32) -> ExportOptions {
        ExportOptions {
            app_id,
            version: 1,
            language: "english".to_owned(),
        }
    }
}
