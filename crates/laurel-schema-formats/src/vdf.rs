//! Valve KeyValues text of a stats schema: the text twin of Steam's
//! `appcache/stats/UserGameStatsSchema_<appid>.bin`, as read by Steam
//! Achievement Manager and gbe_fork's `generate_emu_config`:
//!
//! ```text
//! "480"
//! {
//!     "gamename"  "Spacewar"
//!     "version"   "3"
//!     "stats"
//!     {
//!         "1" { "name" "NumGames"  "type" "1"  "display" { "name" "Games played" }
//!               "default" "0"  "min" "0"  "incrementonly" "1"  "aggregated" "1" }
//!         "6" { "type" "4"  "id" "6"  "bits" {
//!             "0" { "name" "ACH_WIN_ONE_GAME"  "bit" "0"
//!                   "display" { "name" { "english" "Winner"  "token" "NEW_ACHIEVEMENT_1_0_NAME" }
//!                               "desc" { "english" "Win one game." }
//!                               "hidden" "0"  "icon" "….jpg"  "icon_gray" "….jpg" }
//!                   "progress" { "min_val" "0"  "max_val" "5280"
//!                                "value" { "operation" "statvalue"  "operand1" "FeetTraveled" } } } } }
//!     }
//! }
//! ```
//!
//! Stat `type`: 1 int, 2 float, 3 avgrate, 4 achievements, 5 group achievements
//! (`type_int` is read first when present, as SAM does). Keys are matched without
//! regard to case, as Valve's KeyValues does (`Default`, `Hidden`). KeyValues
//! allows a key to repeat; in a schema every field has one value, so a repeated
//! key is reported. Stats are ordered by their numeric id, achievements by
//! block id then bit. The syntax is `keyvalues-parser`'s (escapes `\" \\ \n \r
//! \t`, `//` comments); nesting is checked first, since that parser recurses
//! once per level.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use keyvalues_parser::{Obj, Value, Vdf};
use laurel_core::SchemaDoc;
use laurel_core::schema_doc::{AchievementDoc, SetByDoc, StatDoc, StatKindDoc};

use crate::foreign::{
    self, Object, TOKEN_KEY, blank_achievement, drop_app_and_boards, in_default_language,
    non_empty, parse_flag, parse_number, push_achievement,
};
use crate::options::{ExportOptions, ImportOptions, MAX_NESTING};
use crate::problems::{Origins, PathStyle, Problems, line_column, path_key};
use crate::text::{number_text, shown};

const TYPE_INT: u32 = 1;
const TYPE_FLOAT: u32 = 2;
const TYPE_AVGRATE: u32 = 3;
const TYPE_ACHIEVEMENTS: u32 = 4;
const TYPE_GROUP_ACHIEVEMENTS: u32 = 5;
/// Achievements per block: one bit each of a 32-bit stat.
const BITS_PER_BLOCK: usize = 32;
/// Steam's "Set By" permission bits (SAM: `(permission & 3) != 0` is protected).
const PERMISSION_SERVER_MASK: i64 = 3;
/// What Laurel writes for `set_by: server` ("Official GS").
const PERMISSION_SERVER: &str = "2";

pub(crate) fn import(
    text: &str,
    options: &ImportOptions,
    doc: &mut SchemaDoc,
    origins: &mut Origins,
    problems: &mut Problems,
) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Err((location, message)) = check_nesting(text) {
        problems.push_syntax(location, message);
        return;
    }
    let parsed = match keyvalues_parser::parse(text) {
        Ok(parsed) => parsed,
        Err(e) => {
            let (location, message) = describe_parse_error(&e);
            problems.push_syntax(location, message);
            return;
        }
    };
    let root_path = path_key(&parsed.key).into_owned();
    let Some(root) = Node::of(&parsed.value, &root_path, problems) else {
        return;
    };
    origins.app(problems, &root.path_of("gamename"), PathStyle::Annotated);
    if let Some(name) = root.opt_str("gamename", problems) {
        doc.app.name = name.to_owned();
    }
    let Some(stats) = root.get("stats") else {
        problems.push(
            root.path_of("stats"),
            "required, but missing (a stats schema is \"<appid>\" { \"stats\" { … } })",
        );
        return;
    };
    let Some(stats) = Node::of(stats, &root.path_of("stats"), problems) else {
        return;
    };
    for (id, value) in stats.numbered_children() {
        let path = stats.path_of(id);
        // Not `foreign::push_stat`: a stat is broken by a problem of its
        // object too (a repeated key), found before its type is known.
        let before = problems.len();
        let Some(stat) = Node::of(value, &path, problems) else {
            continue;
        };
        match stat_type(&stat, problems) {
            Some(TYPE_ACHIEVEMENTS | TYPE_GROUP_ACHIEVEMENTS) => {
                read_block(&stat, options, doc, origins, problems);
            }
            Some(t @ (TYPE_INT | TYPE_FLOAT | TYPE_AVGRATE)) => {
                let s = read_stat(&stat, t, options, problems);
                doc.stats.push(s);
                origins.stat(problems, path, PathStyle::Annotated, problems.len() > before);
            }
            Some(other) => problems.push(
                stat.path_of("type"),
                format!("unknown stat type {other}; known: 1 int, 2 float, 3 avgrate, 4 achievements, 5 group achievements"),
            ),
            None => {}
        }
    }
}

fn stat_type(stat: &Node<'_>, problems: &mut Problems) -> Option<u32> {
    let key = if stat.get("type_int").is_some() {
        "type_int"
    } else {
        "type"
    };
    let text = stat.str(key, problems)?;
    let t = match text.trim().to_ascii_lowercase().as_str() {
        "int" => Some(TYPE_INT),
        "float" => Some(TYPE_FLOAT),
        "avgrate" => Some(TYPE_AVGRATE),
        "achievements" | "bits" => Some(TYPE_ACHIEVEMENTS),
        "groupachievements" => Some(TYPE_GROUP_ACHIEVEMENTS),
        number => number.parse::<u32>().ok(),
    };
    if t.is_none() {
        problems.push(
            stat.path_of(key),
            format!("expected a stat type number, found {}", shown(text)),
        );
    }
    t
}

fn read_stat(
    stat: &Node<'_>,
    type_number: u32,
    options: &ImportOptions,
    problems: &mut Problems,
) -> StatDoc {
    let kind = match type_number {
        TYPE_INT => StatKindDoc::Int,
        TYPE_FLOAT => StatKindDoc::Float,
        _ => StatKindDoc::Avgrate,
    };
    let name = stat.str("name", problems).unwrap_or_default().to_owned();
    let display_name = stat
        .get("display")
        .and_then(|d| Node::of(d, &stat.path_of("display"), problems))
        .and_then(|d| {
            let v = d.get("name")?;
            let map = localized(v, &d.path_of("name"), options, problems);
            pick_one(map, &options.language)
        });
    let permission = stat.opt_number("permission", problems).unwrap_or(0.0) as i64;
    let trusted = stat.opt_flag("bsetbytrustedgs", problems).unwrap_or(false);
    let window = match kind {
        StatKindDoc::Avgrate => Some(match stat.opt_number("windowsize", problems) {
            Some(w) if w.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&w) => w as u32,
            Some(w) => {
                problems.push(
                    stat.path_of("windowsize"),
                    format!("window must be a whole number of seconds, found {w}"),
                );
                options.avgrate_window_seconds
            }
            None => options.avgrate_window_seconds,
        }),
        _ => None,
    };
    StatDoc {
        name,
        kind,
        display_name,
        default: stat.opt_number("default", problems).unwrap_or(0.0),
        min: stat.opt_number("min", problems),
        max: stat.opt_number("max", problems),
        // Steam writes 0 for "no limit"; Laurel has none.
        max_change: stat.opt_number("maxchange", problems).filter(|c| *c != 0.0),
        increment_only: stat.opt_flag("incrementonly", problems).unwrap_or(false),
        set_by: if permission & PERMISSION_SERVER_MASK != 0 || trusted {
            SetByDoc::Server
        } else {
            SetByDoc::Client
        },
        aggregated: stat.opt_flag("aggregated", problems).unwrap_or(false),
        window,
    }
}

/// A stat's display name is one text: English, else `options.language`, else the first.
fn pick_one(mut map: BTreeMap<String, String>, language: &str) -> Option<String> {
    map.remove("english")
        .or_else(|| map.remove(language))
        .or_else(|| map.into_values().next())
}

fn read_block(
    block: &Node<'_>,
    options: &ImportOptions,
    doc: &mut SchemaDoc,
    origins: &mut Origins,
    problems: &mut Problems,
) {
    let Some(bits) = block.get("bits") else {
        problems.missing(block.path_of("bits"));
        return;
    };
    let Some(bits) = Node::of(bits, &block.path_of("bits"), problems) else {
        return;
    };
    for (bit, value) in bits.numbered_children() {
        let path = bits.path_of(bit);
        push_achievement(
            doc,
            origins,
            problems,
            path.clone(),
            |problems| match Node::of(value, &path, problems) {
                Some(node) => read_achievement(&node, options, problems),
                None => blank_achievement(),
            },
        );
    }
}

fn read_achievement(
    bit: &Node<'_>,
    options: &ImportOptions,
    problems: &mut Problems,
) -> AchievementDoc {
    let mut a = blank_achievement();
    a.name = bit.str("name", problems).unwrap_or_default().to_owned();
    let display = match bit.get("display") {
        Some(d) => Node::of(d, &bit.path_of("display"), problems),
        None => {
            problems.missing(bit.path_of("display"));
            None
        }
    };
    if let Some(display) = display {
        match display.get("name") {
            Some(v) => a.display_name = localized(v, &display.path_of("name"), options, problems),
            None => problems.missing(display.path_of("name")),
        }
        a.description = match display.get("desc") {
            Some(v) => localized(v, &display.path_of("desc"), options, problems),
            None => in_default_language("", options),
        };
        a.hidden = display.opt_flag("hidden", problems).unwrap_or(false);
        a.icon = non_empty(display.opt_str("icon", problems));
        a.icon_gray = non_empty(display.opt_str("icon_gray", problems));
    }
    a.progress = bit
        .object("progress", problems)
        .and_then(|progress| foreign::read_progress(&progress, problems));
    a
}

/// A text given as a plain string (in `options.language`) or as an object
/// language → text. Language keys are lower-cased (KeyValues keys ignore case);
/// Steam's localization `token` is skipped.
fn localized(
    v: &Value<'_>,
    path: &str,
    options: &ImportOptions,
    problems: &mut Problems,
) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    match v {
        Value::Str(s) => map = in_default_language(s, options),
        Value::Obj(_) => {
            let Some(node) = Node::of(v, path, problems) else {
                return map;
            };
            for (key, value) in &node.fields {
                if key == TOKEN_KEY {
                    continue;
                }
                match value {
                    Value::Str(s) => {
                        map.insert(key.clone(), s.to_string());
                    }
                    Value::Obj(_) => {
                        problems.push(node.path_of(key), "expected a text, found an object")
                    }
                }
            }
        }
    }
    map
}

/// One KeyValues object, keys lower-cased, a repeated key reported once.
struct Node<'a> {
    path: String,
    fields: Vec<(String, &'a Value<'a>)>,
}

impl<'a> Node<'a> {
    fn of(value: &'a Value<'a>, path: &str, problems: &mut Problems) -> Option<Node<'a>> {
        let Value::Obj(obj) = value else {
            problems.push(path, "expected an object { … }, found a string");
            return None;
        };
        let mut fields = Vec::new();
        let mut counts: HashMap<String, usize> = HashMap::new();
        for (key, values) in obj.iter() {
            let lower = key.to_lowercase();
            *counts.entry(lower.clone()).or_default() += values.len();
            for v in values {
                fields.push((lower.clone(), v));
            }
        }
        let node = Node {
            path: path.to_owned(),
            fields,
        };
        let mut repeated: Vec<(&String, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
        repeated.sort();
        for (key, n) in repeated {
            problems.push(
                node.path_of(key),
                format!("key appears {n} times; each schema field must appear once"),
            );
        }
        Some(node)
    }

    fn path_of(&self, key: &str) -> String {
        format!("{}/{}", self.path, path_key(key))
    }

    fn get(&self, key: &str) -> Option<&'a Value<'a>> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// Children ordered by their key read as a number (ids, bits), others after.
    fn numbered_children(&self) -> Vec<(&str, &'a Value<'a>)> {
        let mut children: Vec<(&str, &'a Value<'a>)> =
            self.fields.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        children.sort_by_key(|(k, _)| (k.parse::<u64>().map_err(|_| *k), *k));
        children
    }

    fn str(&self, key: &str, problems: &mut Problems) -> Option<&'a str> {
        match self.get(key) {
            None => {
                problems.missing(self.path_of(key));
                None
            }
            Some(v) => self.as_str(key, v, problems),
        }
    }

    fn opt_str(&self, key: &str, problems: &mut Problems) -> Option<&'a str> {
        self.get(key).and_then(|v| self.as_str(key, v, problems))
    }

    fn as_str(&self, key: &str, v: &'a Value<'a>, problems: &mut Problems) -> Option<&'a str> {
        match v {
            Value::Str(s) => Some(s),
            Value::Obj(_) => {
                problems.push(self.path_of(key), "expected a text, found an object");
                None
            }
        }
    }

    fn opt_number(&self, key: &str, problems: &mut Problems) -> Option<f64> {
        let text = self.opt_str(key, problems)?;
        match parse_number(text) {
            Some(v) => Some(v),
            None => {
                problems.push(
                    self.path_of(key),
                    format!("expected a number, found {}", shown(text)),
                );
                None
            }
        }
    }

    fn opt_flag(&self, key: &str, problems: &mut Problems) -> Option<bool> {
        let text = self.opt_str(key, problems)?;
        match parse_flag(text) {
            Some(flag) => Some(flag),
            None => {
                problems.push(
                    self.path_of(key),
                    format!("expected 0 or 1, found {}", shown(text)),
                );
                None
            }
        }
    }
}

impl Object for Node<'_> {
    fn path_of(&self, key: &str) -> String {
        Node::path_of(self, key)
    }
    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    fn text(&self, key: &str, problems: &mut Problems) -> Option<&str> {
        self.str(key, problems)
    }
    fn opt_number(&self, key: &str, problems: &mut Problems) -> Option<f64> {
        Node::opt_number(self, key, problems)
    }
    fn object(&self, key: &str, problems: &mut Problems) -> Option<Self> {
        let value = self.get(key)?;
        Node::of(value, &self.path_of(key), problems)
    }
}

/// Refuses input nested deeper than [`MAX_NESTING`] before the recursive parser
/// sees it (a stack overflow would abort the process). Follows the parser's
/// lexical rules: quoted strings with `\` escapes, `//` comments where a token
/// may start, and unquoted tokens that end at whitespace, `"`, `{` or `}`.
/// `#base` includes are refused: a schema is one file.
fn check_nesting(text: &str) -> Result<(), (String, String)> {
    #[derive(PartialEq)]
    enum State {
        Normal,
        Quoted,
        Comment,
    }
    let bytes = text.as_bytes();
    let mut state = State::Normal;
    let mut depth = 0usize;
    let mut at_token_start = true;
    let mut first_token = true;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match state {
            State::Normal => match b {
                b' ' | b'\t' | b'\r' | b'\n' => at_token_start = true,
                b'"' => {
                    state = State::Quoted;
                    first_token = false;
                }
                b'{' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Err((
                            line_column(text, i),
                            format!("objects are nested more than {MAX_NESTING} deep"),
                        ));
                    }
                    at_token_start = true;
                    first_token = false;
                }
                b'}' => {
                    depth = depth.saturating_sub(1);
                    at_token_start = true;
                    first_token = false;
                }
                b'/' if at_token_start && bytes.get(i + 1) == Some(&b'/') => {
                    state = State::Comment;
                    i += 1;
                }
                _ => {
                    if first_token && bytes[i..].starts_with(b"#base") {
                        return Err((
                            line_column(text, i),
                            "#base includes are not supported: give the whole schema in one file"
                                .to_owned(),
                        ));
                    }
                    at_token_start = false;
                    first_token = false;
                }
            },
            State::Quoted => match b {
                b'\\' => i += 1,
                b'"' => {
                    state = State::Normal;
                    at_token_start = true;
                }
                _ => {}
            },
            State::Comment => {
                if b == b'\n' {
                    state = State::Normal;
                    at_token_start = true;
                }
            }
        }
        i += 1;
    }
    Ok(())
}

fn describe_parse_error(e: &keyvalues_parser::error::Error) -> (String, String) {
    use keyvalues_parser::pest::error::LineColLocation;
    let pest_error = match e {
        keyvalues_parser::error::Error::EscapedParseError(p) => p,
        other => return ("(root)".to_owned(), other.to_string()),
    };
    let (line, column) = match pest_error.line_col {
        LineColLocation::Pos(pos) | LineColLocation::Span(pos, _) => pos,
    };
    let message = pest_error
        .variant
        .message()
        .replace("base_macro or ", "")
        .replace("unquoted_string", "a word")
        .replace("quoted_string", "a quoted string")
        .replace("obj", "an object { … }")
        .replace("pair", "a key and its value")
        .replace("EOI", "the end of the file");
    (format!("line {line}, column {column}"), message)
}

fn text(s: impl Into<String>) -> Value<'static> {
    Value::Str(Cow::Owned(s.into()))
}

/// An object from key-value pairs, in the order given (the renderer sorts keys).
fn object(pairs: Vec<(&str, Value<'static>)>) -> Value<'static> {
    let mut obj = Obj::new();
    for (k, v) in pairs {
        obj.entry(Cow::Owned(k.to_owned())).or_default().push(v);
    }
    Value::Obj(obj)
}

fn languages(map: &BTreeMap<String, String>) -> Value<'static> {
    object(
        map.iter()
            .map(|(l, t)| (l.as_str(), text(t.clone())))
            .collect(),
    )
}

pub(crate) fn export(
    doc: &SchemaDoc,
    options: &ExportOptions,
    dropped: &mut Vec<String>,
) -> String {
    drop_app_and_boards(doc, "KeyValues", dropped);
    let mut stats: Vec<(String, Value<'static>)> = Vec::new();
    for (i, s) in doc.stats.iter().enumerate() {
        let id = (i + 1).to_string();
        let type_number = match s.kind {
            StatKindDoc::Int => TYPE_INT,
            StatKindDoc::Float => TYPE_FLOAT,
            StatKindDoc::Avgrate => TYPE_AVGRATE,
        };
        let mut pairs = vec![
            ("name", text(s.name.clone())),
            ("type", text(type_number.to_string())),
            ("id", text(id.clone())),
            ("default", text(number_text(s.default))),
        ];
        if let Some(d) = &s.display_name {
            pairs.push(("display", object(vec![("name", text(d.clone()))])));
        }
        for (key, v) in [("min", s.min), ("max", s.max), ("maxchange", s.max_change)] {
            if let Some(v) = v {
                pairs.push((key, text(number_text(v))));
            }
        }
        if s.increment_only {
            pairs.push(("incrementonly", text("1")));
        }
        if s.aggregated {
            pairs.push(("aggregated", text("1")));
        }
        if s.set_by == SetByDoc::Server {
            pairs.push(("permission", text(PERMISSION_SERVER)));
        }
        if let Some(w) = s.window {
            pairs.push(("windowsize", text(w.to_string())));
        }
        stats.push((id, object(pairs)));
    }
    for (b, block) in doc.achievements.chunks(BITS_PER_BLOCK).enumerate() {
        let id = (doc.stats.len() + b + 1).to_string();
        let mut bits = Vec::new();
        for (bit, a) in block.iter().enumerate() {
            if a.display_name.contains_key(TOKEN_KEY) || a.description.contains_key(TOKEN_KEY) {
                dropped.push(format!(
                    "achievements[{}]: a text in the language named `token` is read back as Steam's localization token and skipped",
                    b * BITS_PER_BLOCK + bit
                ));
            }
            let mut display = vec![
                ("name", languages(&a.display_name)),
                ("desc", languages(&a.description)),
                ("hidden", text(if a.hidden { "1" } else { "0" })),
            ];
            if let Some(icon) = &a.icon {
                display.push(("icon", text(icon.clone())));
            }
            if let Some(icon) = &a.icon_gray {
                display.push(("icon_gray", text(icon.clone())));
            }
            let mut pairs = vec![
                ("name", text(a.name.clone())),
                ("bit", text(bit.to_string())),
                ("display", object(display)),
            ];
            if let Some(p) = &a.progress {
                pairs.push((
                    "progress",
                    object(vec![
                        ("min_val", text(number_text(p.min))),
                        ("max_val", text(number_text(p.max))),
                        (
                            "value",
                            object(vec![
                                ("operation", text("statvalue")),
                                ("operand1", text(p.stat.clone())),
                            ]),
                        ),
                    ]),
                ));
            }
            bits.push((bit.to_string(), object(pairs)));
        }
        let bits = object(bits.iter().map(|(k, v)| (k.as_str(), v.clone())).collect());
        stats.push((
            id.clone(),
            object(vec![
                ("type", text(TYPE_ACHIEVEMENTS.to_string())),
                ("id", text(id)),
                ("bits", bits),
            ]),
        ));
    }
    let root = object(vec![
        ("gamename", text(doc.app.name.clone())),
        ("version", text(options.version.to_string())),
        (
            "stats",
            object(stats.iter().map(|(k, v)| (k.as_str(), v.clone())).collect()),
        ),
    ]);
    Vdf::new(Cow::Owned(options.app_id.to_string()), root).to_string()
}
